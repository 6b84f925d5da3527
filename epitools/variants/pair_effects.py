"""Δ interaction score of pair models for variants in enhancer or promoter windows.

Each distinct REF window involved (the window holding a variant and every partner of its pairs)
goes through the per-element part of the model once, each ALT window once, and only the
interaction part (``forward_embedded``) runs per (variant, pair): the unchanged partner's
embedding is reused for every variant of the other side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from epitools.data.encoding import one_hot
from epitools.data.windows import centered_starts
from epitools.training.predict import unique_rows
from epitools.variants.alleles import alt_windows, window_hits

SIDES = ("enhancer", "promoter")


@torch.no_grad()
def embed_codes(embed, codes: np.ndarray, geometry, device, batch_size: int = 256) -> torch.Tensor:
    """Embeddings of windows given as base codes (n, L): ``embed`` over batches, (n, ...)."""
    parts = []
    for lo in range(0, len(codes), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(geometry.encode(codes[lo:lo + batch_size]))).to(device)
        parts.append(embed(one_hot(x) if geometry.encoding == "onehot" else x.long()))
    return torch.cat(parts) if parts else torch.zeros(0)


@torch.no_grad()
def embedded_logits(model, e_emb, p_emb, e_idx, p_idx, batch_size: int = 1024) -> np.ndarray:
    """Logits (n,) float64 of pairs (``e_emb[e_idx[i]]``, ``p_emb[p_idx[i]]``)."""
    out = np.empty(len(e_idx), np.float64)
    for lo in range(0, len(e_idx), batch_size):
        e = e_emb[torch.as_tensor(e_idx[lo:lo + batch_size])]
        p = p_emb[torch.as_tensor(p_idx[lo:lo + batch_size])]
        out[lo:lo + batch_size] = model.forward_embedded(e, p)["logit"].float().cpu().numpy()
    return out


def expand_groups(group_of_item: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (query, item) with ``group_of_item[item] == groups[query]``: two (m,) int64 arrays."""
    order = np.argsort(group_of_item, kind="stable")
    sorted_groups = group_of_item[order]
    lo = np.searchsorted(sorted_groups, groups, side="left")
    counts = np.searchsorted(sorted_groups, groups, side="right") - lo
    query = np.repeat(np.arange(len(groups)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return query, order[np.repeat(lo, counts) + within]


def pair_windows_index(pairs: pd.DataFrame, genome, geometry) -> dict:
    """Distinct windows of each side: ``{side: (chroms (u,), starts (u,), ids per pair (n,))}``."""
    out = {}
    for side, length in zip(SIDES, (geometry.enhancer_length, geometry.promoter_length)):
        chrom = pairs[f"{side}_chrom"].astype(str).map({c: genome.resolve(c) for c in
                                                          pairs[f"{side}_chrom"].astype(str).unique()})
        win = centered_starts(pairs[f"{side}_start"], pairs[f"{side}_end"], length)
        key = pd.MultiIndex.from_arrays([chrom.to_numpy(dtype=object), win])
        ids, uniq = pd.factorize(key)
        out[side] = (uniq.get_level_values(0).to_numpy(dtype=object),
                     uniq.get_level_values(1).to_numpy(np.int64), ids.astype(np.int64))
    return out


def pair_effects(predictor, variants: pd.DataFrame, pairs: pd.DataFrame, genome, index: dict | None = None
                 ) -> pd.DataFrame:
    """REF and ALT logits of every (variant, pair) whose enhancer or promoter window holds the variant.

    Parameters
    ----------
    predictor : epitools.training.predict.Predictor
        A pair model (``task == "pairs"``).
    variants : pandas.DataFrame
        :data:`epitools.variants.vcf.VARIANT_COLUMNS`.
    pairs : pandas.DataFrame
        Canonical pair columns, n rows.
    genome : epitools.io.genome.Genome
    index : dict, optional
        :func:`pair_windows_index` of ``pairs`` for this model's geometry (computed when None).

    Returns
    -------
    pandas.DataFrame
        ``variant`` (row of ``variants``), ``pair`` (row of ``pairs``), ``element``
        (enhancer|promoter), ``logit_ref``, ``logit_alt``.
    """
    model, geometry, device = predictor.model, predictor.geometry, predictor.device
    index = index or pair_windows_index(pairs, genome, geometry)
    lengths = dict(zip(SIDES, (geometry.enhancer_length, geometry.promoter_length)))
    embeds = {"enhancer": model.embed_enhancer, "promoter": model.embed_promoter}
    frames = []
    for side, other in (SIDES, SIDES[::-1]):
        chroms, starts, ids = index[side]
        hits = window_hits(variants, chroms, starts, lengths[side])
        if hits.empty:
            continue
        hit_of_row, pair_of_row = expand_groups(ids, hits["window"].to_numpy())
        # REF embeddings of the windows holding variants and of their pairs' partners
        own_windows, own_inv = np.unique(hits["window"].to_numpy(), return_inverse=True)
        partner_ids = index[other][2][pair_of_row]
        partner_windows, partner_inv = np.unique(partner_ids, return_inverse=True)
        own_emb = embed_codes(embeds[side], genome.fetch_windows(chroms[own_windows], starts[own_windows],
                                                                 lengths[side]), geometry, device)
        o_chroms, o_starts, _ = index[other]
        partner_emb = embed_codes(embeds[other], genome.fetch_windows(
            o_chroms[partner_windows], o_starts[partner_windows], lengths[other]), geometry, device)
        v = variants.iloc[hits["variant"].to_numpy()]
        alt = alt_windows(genome, chroms[hits["window"]], starts[hits["window"]], hits["offset"],
                          v["ref"].tolist(), v["alt"].tolist(), lengths[side])
        first, inverse = unique_rows(alt)  # one embedding per distinct ALT window
        alt_emb = embed_codes(embeds[side], alt[first], geometry, device)
        own_idx, alt_idx = own_inv.ravel()[hit_of_row], inverse[hit_of_row]
        if side == "enhancer":
            ref = embedded_logits(model, own_emb, partner_emb, own_idx, partner_inv.ravel())
            var = embedded_logits(model, alt_emb, partner_emb, alt_idx, partner_inv.ravel())
        else:
            ref = embedded_logits(model, partner_emb, own_emb, partner_inv.ravel(), own_idx)
            var = embedded_logits(model, partner_emb, alt_emb, partner_inv.ravel(), alt_idx)
        frames.append(pd.DataFrame({"variant": hits["variant"].to_numpy()[hit_of_row], "pair": pair_of_row,
                                    "element": side, "logit_ref": ref, "logit_alt": var}))
    if not frames:
        return pd.DataFrame({"variant": [], "pair": [], "element": [], "logit_ref": [], "logit_alt": []})
    return pd.concat(frames, ignore_index=True)
