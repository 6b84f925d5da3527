"""EPInformer: Δ predicted expression, attention, attention-ABC and rank of variants.

For every gene of a gene store whose promoter window or one of whose candidate enhancer windows
holds a variant, the window is rebuilt with the ALT allele and only its embedding is replaced:
the other slots' REF embeddings are computed once per gene. Element features (distance,
activity, contact) stay as measured; only the sequence changes.

The per-slot scores follow :mod:`epitools.prioritize.scores` (promoter-query attention, mean
over layers and heads, sum-normalised per gene; ABC = activity x contact normalised per gene
with activity sqrt(DNase x H3K27ac); attention-ABC = their product; rank 1 = largest
attention-ABC) — computed here because ``variants`` may not import its sibling ``prioritize``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from epitools.data.gene_dataset import GeneDataset
from epitools.io.gene_store import GeneStore
from epitools.progress import progress
from epitools.variants.alleles import alt_windows, window_hits


def slot_scores(attention: np.ndarray, mask: np.ndarray, activity: np.ndarray, contact: np.ndarray) -> dict:
    """Attention, ABC, attention-ABC and rank per slot.

    Parameters
    ----------
    attention : (G, layers, heads, M); mask : (G, M) bool; activity : (G, M, 2); contact : (G, M)

    Returns
    -------
    dict of (G, M) arrays: ``attention``, ``abc``, ``attention_abc`` float64 (0 on empty slots) and
    ``rank`` int64 (1 = largest attention-ABC among the gene's candidates; 0 on empty slots).
    """
    mask = np.asarray(mask, bool)
    mean = np.asarray(attention, np.float64).mean(axis=(1, 2)) * mask
    total = mean.sum(1, keepdims=True)
    attn = np.divide(mean, total, out=np.zeros_like(mean), where=total > 0)
    act = np.asarray(activity, np.float64)
    num = np.sqrt(np.clip(act[..., 0] * act[..., 1], 0, None)) * np.asarray(contact, np.float64) * mask
    den = num.sum(1, keepdims=True)
    abc = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    attn_abc = attn * abc
    keyed = np.where(mask, attn_abc, -np.inf)
    # rank "min": 1 + number of candidates with a strictly larger score
    rank = (keyed[:, None, :] > keyed[:, :, None]).sum(-1) + 1
    return {"attention": attn, "abc": abc, "attention_abc": attn_abc, "rank": np.where(mask, rank, 0)}


def gene_windows(store: GeneStore, length: int) -> pd.DataFrame:
    """Every scored window of the store: ``gene_index slot chrom start`` (slot -1 = promoter)."""
    genes = store.genes()
    cand = store.candidates()
    promoter = pd.DataFrame({"gene_index": np.arange(len(genes)), "slot": -1, "chrom": genes["chrom"],
                             "start": genes["tss"].to_numpy(np.int64) - length // 2})
    centre = (cand["enhancer_start"].to_numpy(np.int64) + cand["enhancer_end"].to_numpy(np.int64)) // 2
    enhancer = pd.DataFrame({"gene_index": cand["gene_index"].to_numpy(), "slot": cand["slot"].to_numpy(),
                             "chrom": cand["chrom"].to_numpy(), "start": centre - length // 2})
    return pd.concat([promoter, enhancer], ignore_index=True)


@torch.no_grad()
def gene_effects(model, store, variants: pd.DataFrame, genome, device="cpu", batch_size: int = 64
                 ) -> pd.DataFrame:
    """REF and ALT predictions and slot scores for every (variant, gene) a window links.

    Parameters
    ----------
    model : EPInformer (eval mode, on ``device``)
    store : path or GeneStore
        The gene store (window length = the model's).
    variants : pandas.DataFrame
        :data:`epitools.variants.vcf.VARIANT_COLUMNS` on the genome's chromosome names.
    genome : epitools.io.genome.Genome

    Returns
    -------
    pandas.DataFrame
        ``variant gene_index gene slot element enhancer_name expression_ref expression_alt``,
        and for enhancer hits ``attention_ref/_alt``, ``attention_abc_ref/_alt``, ``rank_ref/_alt``.
    """
    store = store if isinstance(store, GeneStore) else GeneStore(store)
    length = model.enhancer_length
    windows = gene_windows(store, length)
    names = store.candidates().set_index(["gene_index", "slot"])["enhancer_name"]
    hits = window_hits(variants, windows["chrom"].to_numpy(dtype=object), windows["start"].to_numpy(), length)
    columns = ["variant", "gene_index", "gene", "slot", "element", "enhancer_name", "expression_ref",
               "expression_alt", "attention_ref", "attention_alt", "attention_abc_ref", "attention_abc_alt",
               "rank_ref", "rank_alt"]
    if hits.empty:
        return pd.DataFrame(columns=columns)
    win = windows.iloc[hits["window"].to_numpy()]
    v = variants.iloc[hits["variant"].to_numpy()]
    alt = alt_windows(genome, win["chrom"].to_numpy(dtype=object), win["start"].to_numpy(), hits["offset"],
                      v["ref"].tolist(), v["alt"].tolist(), length)
    gene_index = win["gene_index"].to_numpy()
    slot = win["slot"].to_numpy().copy()
    dataset = GeneDataset(store)
    gene_names = store.genes()["gene"].to_numpy()
    # REF embeddings of each gene holding a variant, once; then per hit only its ALT window
    genes, hit_gene = np.unique(gene_index, return_inverse=True)
    cache = {k: [] for k in ("e", "p", "mask", "features", "gene_features")}
    for lo in progress(range(0, len(genes), batch_size), desc="embed genes", unit="batch"):
        batch = {k: t.to(device) for k, t in dataset.batch(genes[lo:lo + batch_size]).items()}
        cache["e"].append(model.embed_enhancer(batch["enhancers"], batch["enhancer_mask"]))
        cache["p"].append(model.embed_promoter(batch["promoter"]))
        for key, name in (("mask", "enhancer_mask"), ("features", "features"), ("gene_features", "gene_features")):
            cache[key].append(batch[name])
    cache = {k: torch.cat(v) for k, v in cache.items()}
    extra = store.read(genes, keys=("activity", "contact"))
    rows = []
    for lo in progress(range(0, len(hits), batch_size), desc="EPInformer", unit="batch"):
        sel = slice(lo, lo + batch_size)
        g = torch.as_tensor(hit_gene.ravel()[sel], device=device)
        e, p, mask = cache["e"][g], cache["p"][g], cache["mask"][g]
        kw = dict(enhancer_mask=mask, features=cache["features"][g], gene_features=cache["gene_features"][g])
        ref = model.forward_embedded(e, p, **kw)
        alt_emb = model.embed_sequences(torch.from_numpy(alt[sel]).to(device))
        s = torch.as_tensor(slot[sel], device=device)
        on_enh = s >= 0
        e_alt, p_alt = e.clone(), p.clone()
        rows_enh = torch.nonzero(on_enh).ravel()
        e_alt[rows_enh, s[rows_enh]] = alt_emb[rows_enh].to(e_alt.dtype)
        p_alt[~on_enh] = alt_emb[~on_enh].to(p_alt.dtype)
        var = model.forward_embedded(e_alt, p_alt, **kw)
        m = mask.cpu().numpy()
        gi = hit_gene.ravel()[sel]
        before = slot_scores(ref["attention"].cpu().numpy(), m, extra["activity"][gi], extra["contact"][gi])
        after = slot_scores(var["attention"].cpu().numpy(), m, extra["activity"][gi], extra["contact"][gi])
        genes_here = gene_index[sel]
        k = np.arange(len(genes_here))
        sl = np.maximum(slot[sel], 0)
        enh = slot[sel] >= 0

        def pick(scores, key):
            return np.where(enh, scores[key][k, sl], np.nan)

        rows.append(pd.DataFrame({
            "variant": hits["variant"].to_numpy()[sel], "gene_index": genes_here, "gene": gene_names[genes_here],
            "slot": slot[sel], "element": np.where(enh, "enhancer", "promoter"),
            "enhancer_name": [names.get((g_, s_), "") if s_ >= 0 else "" for g_, s_ in zip(genes_here, slot[sel])],
            "expression_ref": ref["prediction"].float().cpu().numpy().astype(np.float64),
            "expression_alt": var["prediction"].float().cpu().numpy().astype(np.float64),
            "attention_ref": pick(before, "attention"), "attention_alt": pick(after, "attention"),
            "attention_abc_ref": pick(before, "attention_abc"), "attention_abc_alt": pick(after, "attention_abc"),
            "rank_ref": pick(before, "rank"), "rank_alt": pick(after, "rank")}))
    return pd.concat(rows, ignore_index=True)[columns]
