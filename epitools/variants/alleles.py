"""Which windows hold a variant, and the REF and ALT base codes of those windows.

A window ``[w, w + L)`` holds a variant when the variant's REF span lies inside it. The ALT
window keeps the length ``L`` as tangermeme's ``variant_effect`` does with its default
``left=False``: the bases left of the variant stay where they are; after a deletion the
window is refilled from the genome on the right, after an insertion it is trimmed on the
right (:func:`alt_windows` gives the same codes as ``tangermeme.variant_effect.deletion_effect``
and ``insertion_effect``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from epitools.data.encoding import CODE_TABLE, N_CODE


def allele_codes(allele: str) -> np.ndarray:
    """Base codes (len,) uint8 of an allele string."""
    return CODE_TABLE[np.frombuffer(allele.encode("ascii"), dtype=np.uint8)]


def window_hits(variants: pd.DataFrame, chroms, win_starts, length: int) -> pd.DataFrame:
    """Every (variant, window) pair where the variant lies inside the window.

    Parameters
    ----------
    variants : pandas.DataFrame
        ``chrom start end`` (0-based REF span).
    chroms, win_starts : array-like, shape (u,)
        Distinct windows of one length: chromosome (the genome's names) and start.
    length : int

    Returns
    -------
    pandas.DataFrame
        ``variant`` (row of ``variants``), ``window`` (index into the windows), ``offset``
        (variant start inside the window).
    """
    chroms = np.asarray(chroms, dtype=object)
    win_starts = np.asarray(win_starts, dtype=np.int64)
    parts = []
    v_chrom = variants["chrom"].to_numpy(dtype=object)
    v_start = variants["start"].to_numpy(np.int64)
    v_end = variants["end"].to_numpy(np.int64)
    for chrom in pd.unique(v_chrom):
        on = np.flatnonzero(chroms == chrom)
        if not on.size:
            continue
        order = on[np.argsort(win_starts[on], kind="stable")]
        starts = win_starts[order]
        rows = np.flatnonzero(v_chrom == chrom)
        # windows with  end - L <= w <= start
        lo = np.searchsorted(starts, v_end[rows] - length, side="left")
        hi = np.searchsorted(starts, v_start[rows], side="right")
        counts = np.maximum(hi - lo, 0)
        variant = np.repeat(rows, counts)
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        window = order[np.repeat(lo, counts) + within]
        parts.append(pd.DataFrame({"variant": variant, "window": window,
                                   "offset": v_start[variant] - win_starts[window]}))
    if not parts:
        return pd.DataFrame({"variant": np.zeros(0, np.int64), "window": np.zeros(0, np.int64),
                             "offset": np.zeros(0, np.int64)})
    return pd.concat(parts, ignore_index=True)


def alt_windows(genome, chroms, win_starts, offsets, refs, alts, length: int) -> np.ndarray:
    """ALT base codes of windows, each with one variant applied, length kept.

    Parameters
    ----------
    genome : epitools.io.genome.Genome
    chroms, win_starts : array-like, shape (n,)
        Window of each row.
    offsets : array-like of int, shape (n,)
        Start of the REF allele inside the window.
    refs, alts : sequence of str, shape (n,)
    length : int

    Returns
    -------
    numpy.ndarray
        uint8, shape (n, length).
    """
    extra = deletion_extra(refs, alts)
    ref = genome.fetch_windows(chroms, np.asarray(win_starts, dtype=np.int64), length + extra)
    return apply_alleles(ref, offsets, refs, alts, length)


def deletion_extra(refs, alts) -> int:
    """Bases past the window end that the longest deletion of ``refs``/``alts`` pulls in."""
    return max(0, max((len(r) - len(a) for r, a in zip(refs, alts)), default=0))


def apply_alleles(ref: np.ndarray, offsets, refs, alts, length: int) -> np.ndarray:
    """ALT codes from REF codes: each row's variant applied in numpy, length kept.

    Parameters
    ----------
    ref : numpy.ndarray
        uint8, shape (n, length + extra): each row's REF window and the ``extra`` genome bases
        right of it (:func:`deletion_extra`; 0 for SNVs). Not modified.
    offsets : array-like of int, shape (n,)
        Start of the REF allele inside the window.
    refs, alts : sequence of str, shape (n,)
    length : int

    Returns
    -------
    numpy.ndarray
        uint8, shape (n, length).
    """
    n = len(ref)
    offsets = np.asarray(offsets, dtype=np.int64)
    ref_len = np.fromiter((len(r) for r in refs), np.int64, n)
    alt_len = np.fromiter((len(a) for a in alts), np.int64, n)
    out = np.array(ref[:, :length], dtype=np.uint8, copy=True)
    snv = (ref_len == 1) & (alt_len == 1)
    if snv.any():
        rows = np.flatnonzero(snv)
        out[rows, offsets[rows]] = CODE_TABLE[np.frombuffer("".join(alts[i] for i in rows).encode(), np.uint8)]
    for i in np.flatnonzero(~snv):
        o = offsets[i]
        seq = np.concatenate([ref[i, :o], allele_codes(alts[i]), ref[i, o + ref_len[i]:]])[:length]
        out[i, :len(seq)] = seq
        out[i, len(seq):] = N_CODE
    return out
