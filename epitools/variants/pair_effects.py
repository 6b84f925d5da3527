"""Δ interaction score of pair models for variants in enhancer or promoter windows.

Only pairs whose enhancer or promoter window holds a variant are scored. REF windows (the
window holding a variant and every partner of its pairs) go through the per-element part of the
model once, through the table-wide element cache (:mod:`epitools.training.element_cache`), and
each pair's REF logit is computed once; a :class:`PairScorer` keeps both for later calls (the
variants, then the background null). Each (variant, window) ALT window is built by copying the
REF codes and substituting the allele in numpy, embedded once in large batches, and only the
interaction part (``forward_embedded``) runs per (variant, pair).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from epitools.data.encoding import one_hot
from epitools.data.windows import centered_starts
from epitools.progress import progress
from epitools.training.element_cache import WindowIndex, embed_windows, index_windows
from epitools.variants.alleles import apply_alleles, deletion_extra, window_hits

SIDES = ("enhancer", "promoter")
#: (variant, window) hits whose ALT windows are built and embedded together (bounds memory)
HIT_CHUNK = 8192


@torch.no_grad()
def embed_codes(embed, codes: np.ndarray, geometry, device, batch_size: int = 256) -> torch.Tensor:
    """Embeddings of windows given as base codes (n, L): ``embed`` over batches, (n, ...)."""
    parts = []
    for lo in range(0, len(codes), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(geometry.encode(codes[lo:lo + batch_size]))).to(device)
        parts.append(embed(one_hot(x) if geometry.encoding == "onehot" else x.long()))
    return torch.cat(parts) if parts else torch.zeros(0)


@torch.no_grad()
def embedded_logits(model, e_emb, p_emb, e_idx, p_idx, batch_size: int = 4096) -> np.ndarray:
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
    """Distinct windows of each side (:func:`~epitools.training.element_cache.index_windows`).

    Returns
    -------
    dict
        ``{side: (chroms (u,) genome names, starts (u,) int64, ids (n,) int64 window of each pair)}``.
    """
    index = index_windows([pairs], geometry)
    out = {}
    for side, length in zip(SIDES, (geometry.enhancer_length, geometry.promoter_length)):
        w = index[side]
        names = pd.Series(w.chrom, dtype=object)
        chroms = names.map({c: genome.resolve(c) for c in names.unique()}).to_numpy(dtype=object)
        out[side] = (chroms, centered_starts(w.start, w.end, length).astype(np.int64), w.ids)
    return out


class PairScorer:
    """REF and ALT logits of variants under one pair model over one pairs table.

    Parameters
    ----------
    predictor : epitools.training.predict.Predictor
        A pair model (``task == "pairs"``).
    pairs : pandas.DataFrame
        Canonical pair columns, n rows.
    genome : epitools.io.genome.Genome
    index : dict, optional
        :func:`pair_windows_index` of ``pairs`` for this model's geometry (computed when None).
    batch_size : int
        Windows per forward pass of the per-element part.
    """

    def __init__(self, predictor, pairs: pd.DataFrame, genome, index: dict | None = None, batch_size: int = 128):
        self.predictor, self.genome, self.batch_size = predictor, genome, batch_size
        geometry = predictor.geometry
        self.index = index or pair_windows_index(pairs, genome, geometry)
        self.lengths = dict(zip(SIDES, (geometry.enhancer_length, geometry.promoter_length)))
        model = predictor.model
        self.embeds = {"enhancer": model.embed_enhancer, "promoter": model.embed_promoter}
        # table-wide REF cache, filled on demand: row of each window in _emb (-1: not embedded)
        self._slot = {side: np.full(len(self.index[side][0]), -1, np.int64) for side in SIDES}
        self._emb = dict.fromkeys(SIDES)
        self._ref_logit = np.full(len(pairs), np.nan)

    def _ensure(self, side: str, windows: np.ndarray) -> None:
        """Embed the REF windows ``windows`` (distinct ids) of ``side`` not embedded yet."""
        missing = windows[self._slot[side][windows] < 0]
        if not missing.size:
            return
        chroms, starts, _ = self.index[side]
        length = self.lengths[side]
        # windows given as elements [w, w + L): embed_windows centres them back on w
        sub = WindowIndex(np.arange(missing.size), chroms[missing], starts[missing], starts[missing] + length)
        cache, _ = embed_windows(self.embeds[side], sub, length, self.predictor.geometry, self.genome,
                                 self.predictor.device, self.batch_size, budget_bytes=1 << 62,
                                 desc=f"embed REF {side}s")
        new = torch.from_numpy(cache.array).to(self.predictor.device)
        cache.close()
        done = 0 if self._emb[side] is None else len(self._emb[side])
        self._emb[side] = new if self._emb[side] is None else torch.cat([self._emb[side], new])
        self._slot[side][missing] = done + np.arange(missing.size)

    def ref_logits(self, pair_rows: np.ndarray) -> np.ndarray:
        """REF logits (m,) of pairs ``pair_rows``, each pair computed once per scorer."""
        need = np.unique(pair_rows[np.isnan(self._ref_logit[pair_rows])])
        if need.size:
            win = {side: self.index[side][2][need] for side in SIDES}
            for side in SIDES:
                self._ensure(side, np.unique(win[side]))
            self._ref_logit[need] = embedded_logits(self.predictor.model, self._emb["enhancer"],
                                                    self._emb["promoter"], self._slot["enhancer"][win["enhancer"]],
                                                    self._slot["promoter"][win["promoter"]])
        return self._ref_logit[pair_rows]

    def __call__(self, variants: pd.DataFrame) -> pd.DataFrame:
        """REF and ALT logits of every (variant, pair) whose enhancer or promoter window holds the variant.

        Parameters
        ----------
        variants : pandas.DataFrame
            :data:`epitools.variants.vcf.VARIANT_COLUMNS` on the genome's chromosome names.

        Returns
        -------
        pandas.DataFrame
            ``variant`` (row of ``variants``), ``pair`` (row of ``pairs``), ``element``
            (enhancer|promoter), ``logit_ref``, ``logit_alt``.
        """
        model, geometry, device = self.predictor.model, self.predictor.geometry, self.predictor.device
        frames = []
        for side, other in (SIDES, SIDES[::-1]):
            chroms, starts, ids = self.index[side]
            length = self.lengths[side]
            hits = window_hits(variants, chroms, starts, length)
            if hits.empty:
                continue
            # rows grouped by hit, in hit order: a chunk of hits is a contiguous block of rows
            hit_of_row, pair_of_row = expand_groups(ids, hits["window"].to_numpy())
            partner = self.index[other][2][pair_of_row]
            self._ensure(other, np.unique(partner))
            ref = self.ref_logits(pair_of_row)
            alt_logit = np.empty(len(pair_of_row))
            win, offset = hits["window"].to_numpy(), hits["offset"].to_numpy()
            var = hits["variant"].to_numpy()
            refs = variants["ref"].to_numpy(dtype=object)[var]
            alts = variants["alt"].to_numpy(dtype=object)[var]
            bounds = range(0, len(hits), HIT_CHUNK)
            for lo in progress(bounds, total=len(bounds), desc=f"ALT {side}s", unit="chunk"):
                hi = min(lo + HIT_CHUNK, len(hits))
                extra = deletion_extra(refs[lo:hi], alts[lo:hi])
                uniq, inverse = np.unique(win[lo:hi], return_inverse=True)
                ref_codes = self.genome.fetch_windows(chroms[uniq], starts[uniq], length + extra)[inverse.ravel()]
                alt = apply_alleles(ref_codes, offset[lo:hi], refs[lo:hi], alts[lo:hi], length)
                alt_emb = embed_codes(self.embeds[side], alt, geometry, device, self.batch_size)
                r0, r1 = np.searchsorted(hit_of_row, [lo, hi])
                mine, theirs = hit_of_row[r0:r1] - lo, self._slot[other][partner[r0:r1]]
                alt_logit[r0:r1] = (embedded_logits(model, alt_emb, self._emb[other], mine, theirs)
                                    if side == "enhancer" else
                                    embedded_logits(model, self._emb[other], alt_emb, theirs, mine))
            frames.append(pd.DataFrame({"variant": var[hit_of_row], "pair": pair_of_row, "element": side,
                                        "logit_ref": ref, "logit_alt": alt_logit}))
        if not frames:
            return pd.DataFrame({"variant": [], "pair": [], "element": [], "logit_ref": [], "logit_alt": []})
        return pd.concat(frames, ignore_index=True)


def pair_effects(predictor, variants: pd.DataFrame, pairs: pd.DataFrame, genome, index: dict | None = None
                 ) -> pd.DataFrame:
    """REF and ALT logits of every (variant, pair) whose enhancer or promoter window holds the variant.

    One-off :class:`PairScorer` call; see :meth:`PairScorer.__call__` for the columns.
    """
    return PairScorer(predictor, pairs, genome, index)(variants)
