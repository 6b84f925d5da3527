"""EPInformer: Δ predicted expression, attention, attention-ABC and rank of variants.

For every gene of a gene store whose promoter window or one of whose candidate enhancer windows
holds a variant, the window is rebuilt with the ALT allele and only its embedding is replaced:
each gene's REF embeddings and REF prediction are computed once. Element features (distance,
activity, contact) stay as measured; only the sequence changes. A store whose enhancer slots
hold the element's own sequence (``enhancer_context="own"``, N outside the element) scores only
variants inside the element, and its ALT slots are N-padded the same way.

The per-slot scores are those of ``epi-prioritize epinformer``
(:mod:`epitools.regions.attention_abc`): promoter-query attention (mean over layers and
heads, sum-normalised per gene) and attention-ABC (attention x activity x contact, activity
sqrt(DNase x H3K27ac), sum-normalised per gene) from the scored model's own attention (equal
to prioritize's ``attention_abc`` for a PE-Activity model, else its ``model_attention_abc``);
rank 1 = the largest attention-ABC among the gene's candidates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from epitools.data.gene_dataset import GeneDataset
from epitools.io.gene_store import GeneStore
from epitools.progress import progress
from epitools.regions.attention_abc import attention_abc_scores, attention_scores
from epitools.variants.alleles import apply_alleles, deletion_extra, window_hits


def slot_scores(attention: np.ndarray, mask: np.ndarray, activity: np.ndarray, contact: np.ndarray) -> dict:
    """Attention, attention-ABC and rank per slot.

    Parameters
    ----------
    attention : (G, layers, heads, M); mask : (G, M) bool; activity : (G, M, 2) DNase, H3K27ac;
    contact : (G, M)

    Returns
    -------
    dict of (G, M) arrays: ``attention``, ``attention_abc`` float64 (0 on empty slots) and ``rank``
    int64 (1 = largest attention-ABC among the gene's candidates, ties share the best; 0 on empty slots).
    """
    mask = np.asarray(mask, bool)
    attn = attention_scores(attention, mask)
    act = np.asarray(activity, np.float64)
    gene, slot = np.nonzero(mask)
    attn_abc = np.zeros(mask.shape)
    attn_abc[gene, slot] = attention_abc_scores(attn[gene, slot], np.sqrt(act[gene, slot, 0] * act[gene, slot, 1]),
                                                np.asarray(contact, np.float64)[gene, slot], gene)
    keyed = np.where(mask, attn_abc, -np.inf)
    # rank "min" as prioritize's: 1 + number of candidates with a strictly larger score
    rank = (keyed[:, None, :] > keyed[:, :, None]).sum(-1) + 1
    return {"attention": attn, "attention_abc": attn_abc, "rank": np.where(mask, rank, 0)}


def gene_windows(store: GeneStore, length: int) -> pd.DataFrame:
    """Every scored window of the store: ``gene_index slot chrom start element_start element_end``
    (slot -1 = promoter; the element's span, which an ``own``-context slot keeps, in genome
    coordinates; a promoter's is its whole window)."""
    genes = store.genes()
    cand = store.candidates()
    start = genes["tss"].to_numpy(np.int64) - length // 2
    promoter = pd.DataFrame({"gene_index": np.arange(len(genes)), "slot": -1, "chrom": genes["chrom"],
                             "start": start, "element_start": start, "element_end": start + length})
    e_start, e_end = cand["enhancer_start"].to_numpy(np.int64), cand["enhancer_end"].to_numpy(np.int64)
    enhancer = pd.DataFrame({"gene_index": cand["gene_index"].to_numpy(), "slot": cand["slot"].to_numpy(),
                             "chrom": cand["chrom"].to_numpy(), "start": (e_start + e_end) // 2 - length // 2,
                             "element_start": e_start, "element_end": e_end})
    return pd.concat([promoter, enhancer], ignore_index=True)


COLUMNS = ["variant", "gene_index", "gene", "slot", "element", "enhancer_name", "expression_ref",
           "expression_alt", "attention_ref", "attention_alt", "attention_abc_ref", "attention_abc_alt",
           "rank_ref", "rank_alt"]


@torch.no_grad()
def gene_effects(model, store, variants: pd.DataFrame, genome, device="cpu", batch_size: int = 256
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
    batch_size : int
        Genes (REF) or (variant, window) hits (ALT) per forward pass.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`: ``variant gene_index gene slot element enhancer_name expression_ref
        expression_alt``, and for enhancer hits ``attention_ref/_alt``, ``attention_abc_ref/_alt``,
        ``rank_ref/_alt`` (NaN for promoter hits).
    """
    store = store if isinstance(store, GeneStore) else GeneStore(store)
    length = model.enhancer_length
    own = store.attrs.get("enhancer_context", "genome") == "own"
    windows = gene_windows(store, length)
    names = pd.Series(windows["chrom"].astype(str).unique())
    windows["chrom"] = windows["chrom"].astype(str).map(dict(zip(names, names.map(genome.resolve))))
    hits = window_hits(variants, windows["chrom"].to_numpy(dtype=object), windows["start"].to_numpy(), length)
    if own and not hits.empty:  # an own-context slot holds only the element: others are N there
        w = windows.iloc[hits["window"].to_numpy()]
        v = variants.iloc[hits["variant"].to_numpy()]
        inside = ((v["start"].to_numpy() >= w["element_start"].to_numpy())
                  & (v["end"].to_numpy() <= w["element_end"].to_numpy()))
        hits = hits[inside].reset_index(drop=True)
    if hits.empty:
        return pd.DataFrame(columns=COLUMNS)
    hits = hits.sort_values(["window", "variant"], kind="stable").reset_index(drop=True)
    win = windows.iloc[hits["window"].to_numpy()]
    var = hits["variant"].to_numpy()
    refs = variants["ref"].to_numpy(dtype=object)[var]
    alts = variants["alt"].to_numpy(dtype=object)[var]
    gene_index = win["gene_index"].to_numpy(np.int64)
    slot = win["slot"].to_numpy(np.int64).copy()  # writable: it becomes a tensor
    offset = hits["offset"].to_numpy()
    names = store.candidates().set_index(["gene_index", "slot"])["enhancer_name"]
    gene_names = store.genes()["gene"].to_numpy()
    # REF embeddings and REF scores of each gene holding a variant, once
    genes, hit_gene = np.unique(gene_index, return_inverse=True)
    hit_gene = hit_gene.ravel()
    dataset = GeneDataset(store)
    cache = {k: [] for k in ("e", "p", "mask", "features", "gene_features", "prediction", "attention")}
    for lo in progress(range(0, len(genes), batch_size), desc="embed REF genes", unit="batch"):
        batch = {k: t.to(device) for k, t in dataset.batch(genes[lo:lo + batch_size]).items()}
        e = model.embed_enhancer(batch["enhancers"], batch["enhancer_mask"])
        p = model.embed_promoter(batch["promoter"])
        out = model.forward_embedded(e, p, enhancer_mask=batch["enhancer_mask"], features=batch["features"],
                                     gene_features=batch["gene_features"])
        for key, value in (("e", e), ("p", p), ("mask", batch["enhancer_mask"]), ("features", batch["features"]),
                           ("gene_features", batch["gene_features"]), ("prediction", out["prediction"]),
                           ("attention", out["attention"])):
            cache[key].append(value)
    cache = {k: torch.cat(v) for k, v in cache.items()}
    extra = store.read(genes, keys=("activity", "contact"))
    mask = cache["mask"].cpu().numpy()
    before = slot_scores(cache["attention"].float().cpu().numpy(), mask, extra["activity"], extra["contact"])
    ref_prediction = cache["prediction"].float().cpu().numpy().astype(np.float64)
    alt_prediction = np.empty(len(hits))
    after = {key: np.full(len(hits), np.nan) for key in ("attention", "attention_abc", "rank")}
    extra_bases = deletion_extra(refs, alts)
    for lo in progress(range(0, len(hits), batch_size), desc="EPInformer ALT", unit="batch"):
        sel = slice(lo, min(lo + batch_size, len(hits)))
        w = win.iloc[sel]
        uniq, inverse = np.unique(hits["window"].to_numpy()[sel], return_inverse=True)
        ref_codes = genome.fetch_windows(windows["chrom"].to_numpy(dtype=object)[uniq],
                                         windows["start"].to_numpy()[uniq], length + extra_bases)[inverse.ravel()]
        alt = apply_alleles(ref_codes, offset[sel], refs[sel], alts[sel], length)
        if own:
            grow = np.fromiter((len(a) - len(r) for r, a in zip(refs[sel], alts[sel])), np.int64)
            lo_el = (w["element_start"].to_numpy() - w["start"].to_numpy())[:, None]
            hi_el = (w["element_end"].to_numpy() - w["start"].to_numpy() + grow)[:, None]
            pos = np.arange(length)[None, :]
            enh = (w["slot"].to_numpy() >= 0)[:, None]
            alt[enh & ((pos < lo_el) | (pos >= hi_el))] = 4
        alt_emb = model.embed_sequences(torch.from_numpy(alt).to(device))
        g = torch.as_tensor(hit_gene[sel], device=device)
        s = torch.as_tensor(slot[sel], device=device)
        e_alt, p_alt = cache["e"][g].clone(), cache["p"][g].clone()
        rows = torch.nonzero(s >= 0).ravel()
        e_alt[rows, s[rows]] = alt_emb[rows].to(e_alt.dtype)
        p_alt[s < 0] = alt_emb[s < 0].to(p_alt.dtype)
        out = model.forward_embedded(e_alt, p_alt, enhancer_mask=cache["mask"][g], features=cache["features"][g],
                                     gene_features=cache["gene_features"][g])
        alt_prediction[sel] = out["prediction"].float().cpu().numpy()
        gi = hit_gene[sel]
        scores = slot_scores(out["attention"].float().cpu().numpy(), mask[gi], extra["activity"][gi],
                             extra["contact"][gi])
        k, sl = np.arange(len(gi)), np.maximum(slot[sel], 0)
        on_enhancer = slot[sel] >= 0
        for key in after:
            after[key][sel] = np.where(on_enhancer, scores[key][k, sl], np.nan)
    on_enhancer = slot >= 0
    sl = np.maximum(slot, 0)

    def pick(key):
        return np.where(on_enhancer, before[key][hit_gene, sl], np.nan)

    return pd.DataFrame({
        "variant": var, "gene_index": gene_index, "gene": gene_names[gene_index], "slot": slot,
        "element": np.where(on_enhancer, "enhancer", "promoter"),
        "enhancer_name": [names.get((g_, s_), "") if s_ >= 0 else "" for g_, s_ in zip(gene_index, slot)],
        "expression_ref": ref_prediction[hit_gene], "expression_alt": alt_prediction,
        "attention_ref": pick("attention"), "attention_alt": after["attention"],
        "attention_abc_ref": pick("attention_abc"), "attention_abc_alt": after["attention_abc"],
        "rank_ref": pick("rank"), "rank_alt": after["rank"]})[COLUMNS]
