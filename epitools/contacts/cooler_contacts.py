"""Read Hi-C contacts for many bin pairs from a ``.cool`` / ``.mcool`` file.

Pixels are read through cooler's own balanced pixel query
(``Cooler.matrix(balance=column, divisive_weights=..., as_pixels=True)``), one block of
rows of one chromosome at a time, so balancing follows cooler's rules exactly and memory
stays bounded by the block size. Queried (bin1, bin2) pairs are matched with
``np.searchsorted`` on an int64 key; row sums and per-diagonal sums are accumulated with
``np.bincount``. No Python loop runs over pairs or pixels.

Balancing semantics (cooler's): a column is multiplicative (``count * w1 * w2``), except
``KR``, ``SCALE``, ``VC`` and ``VC_SQRT``, which hic2cool and the 4DN portal store in Juicer's
divisive form (``count / (w1 * w2)``); a ``divisive_weights`` attribute on the column (cooler's
``balance`` writes one) or an explicit choice overrides the name rule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from epitools.errors import InputError, UsageError

log = logging.getLogger(__name__)

#: ``--balance`` choices for every Hi-C format (``.hic`` names map through
#: :data:`epitools.contacts.hic_contacts.HIC_NORMALIZATION`); ``NONE`` is Juicer's spelling of none.
BALANCE_CHOICES = ("auto", "weight", "ICE", "KR", "SCALE", "VC", "VC_SQRT", "none", "NONE")
#: Columns read as divisive when not told otherwise: cooler's rule (``Cooler.matrix(...,
#: divisive_weights=None)``) for KR, VC, VC_SQRT, under which hic2cool writes Juicer's vectors,
#: and Juicer's SCALE, which is divisive like them.
DIVISIVE_BY_NAME = ("KR", "SCALE", "VC", "VC_SQRT")
PREFERRED_RESOLUTION = 5000
_CHUNK = 5_000_000


def _coolers_by_resolution(path: str) -> dict:
    """Resolution -> cooler.Cooler for every cooler in a file (old v2 files included)."""
    import cooler

    try:
        uris = cooler.fileops.list_coolers(path) or ["/"]
        clrs = [cooler.Cooler(f"{path}::{uri}") for uri in uris]
        out = {int(c.binsize): c for c in clrs}
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise InputError(f"not a readable .cool/.mcool file ({exc})", path=path) from exc
    if None in out or not out:
        raise InputError("cooler without a fixed bin size is not supported", path=path)
    return out


def list_resolutions(path) -> list[int]:
    """Resolutions (bp) stored in a ``.cool`` (one) or ``.mcool`` (several), ascending."""
    return sorted(_coolers_by_resolution(str(path)))


def open_cooler(path, resolution: int | None = None):
    """Open a cooler, choosing the resolution of a multi-resolution file.

    Parameters
    ----------
    path : str or os.PathLike
        ``.cool``, ``.mcool`` or ``file::group`` URI.
    resolution : int, optional
        Bin size. Default: 5 kb (ABC's resolution) or the coarsest one finer than it;
        when nothing is ≤ 5 kb, the finest stored.

    Returns
    -------
    cooler.Cooler
    """
    import cooler

    path = str(path)
    if "::" in path:
        clr = cooler.Cooler(path)
        if resolution is not None and clr.binsize != resolution:
            raise InputError(f"cooler has resolution {clr.binsize}, not {resolution}", path=path)
        return clr
    by_res = _coolers_by_resolution(path)
    return by_res[choose_resolution(list(by_res), resolution, path)]


def choose_resolution(available, resolution: int | None, path) -> int:
    """``resolution`` when stored, else InputError; default 5 kb or the coarsest finer, else finest."""
    if resolution is None:
        finer = [r for r in available if r <= PREFERRED_RESOLUTION]
        return max(finer) if finer else min(available)
    if resolution not in available:
        raise InputError(f"resolution {resolution} not stored; available: "
                         f"{', '.join(map(str, sorted(available)))}", path=path, field="resolution")
    return resolution


def choose_balance(clr, balance: str = "auto") -> str | None:
    """The bin column used to balance contacts, or None for raw counts.

    ``auto`` takes ``weight`` when present, else the first of ``KR``, ``VC``,
    ``VC_SQRT`` present, else raw counts.
    """
    columns = list(clr.bins().columns)
    if balance in ("none", "NONE"):
        return None
    if balance == "auto":
        for name in ("weight", "KR", "VC", "VC_SQRT"):
            if name in columns:
                return name
        return None
    if balance not in columns:
        extra = [c for c in columns if c not in ("chrom", "start", "end")]
        raise UsageError(f"--balance {balance}: no such bin column in {clr.filename}; "
                         f"available: {', '.join(extra) or 'none (raw counts only)'}")
    return balance


def weights_are_divisive(clr, column: str | None, divisive: bool | None = None) -> bool | None:
    """Whether a balancing column divides the counts (None without a column).

    Parameters
    ----------
    clr : cooler.Cooler
    column : str or None
        Bin column chosen by :func:`choose_balance`.
    divisive : bool, optional
        Explicit choice (``--divisive-weights/--multiplicative-weights``); wins over the file.

    Returns
    -------
    bool or None
        ``divisive`` when given; else the column's ``divisive_weights`` attribute when the
        file stores one; else cooler's name rule (``KR``, ``VC``, ``VC_SQRT`` divisive).
    """
    if column is None:
        return None
    if divisive is not None:
        return bool(divisive)
    with clr.open("r") as grp:
        stored = grp["bins"][column].attrs.get("divisive_weights")
    if stored is not None:
        return bool(stored)
    return column in DIVISIVE_BY_NAME


def _alias(name: str) -> str:
    """The other spelling of a chromosome name (chr1 <-> 1, chrM <-> MT)."""
    if name in ("chrM", "chrMT"):
        return "MT"
    if name in ("MT", "M"):
        return "chrM"
    return name[3:] if name.startswith("chr") else f"chr{name}"


def resolve_chromosomes(names, available) -> dict[str, str]:
    """Map each name in ``names`` to its spelling in ``available`` (absent when missing)."""
    available = set(available)
    out = {}
    for name in names:
        if name in available:
            out[name] = name
        elif _alias(name) in available:
            out[name] = _alias(name)
    return out


@dataclass
class ChromContacts:
    """Contacts of one chromosome at the queried bin pairs.

    Attributes
    ----------
    values : float64 (n,)
        Balanced (or raw) contact at each (bin1, bin2) query; 0 where no pixel, NaN where
        either bin is masked (its balancing factor is NaN or infinite), as in
        ``Cooler.matrix(balance=column)``'s dense matrix.
    row_sums : float64 (nbins,)
        Cis row sums of the balanced matrix (non-finite pixels treated as 0).
    diag_sums : float64 (max_diag + 1,)
        Sum over each diagonal ``bin2 - bin1`` (non-finite pixels treated as 0).
    diag_counts : int64 (max_diag + 1,)
        Number of pixels on each diagonal.
    """

    values: np.ndarray
    row_sums: np.ndarray
    diag_sums: np.ndarray = field(default_factory=lambda: np.zeros(0))
    diag_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _row_blocks(clr, lo: int, hi: int, chunksize: int) -> list[tuple[int, int]]:
    """Consecutive bin-row ranges [a, b) of ``lo..hi`` holding about ``chunksize`` pixels each."""
    with clr.open("r") as grp:
        offsets = np.asarray(grp["indexes"]["bin1_offset"][lo:hi + 1], dtype=np.int64)
    targets = np.arange(offsets[0], offsets[-1], max(1, chunksize))
    cuts = np.unique(np.concatenate([[0], np.searchsorted(offsets, targets, side="right") - 1,
                                     [hi - lo]]))
    cuts = cuts[(cuts >= 0) & (cuts <= hi - lo)]
    return [(lo + int(a), lo + int(b)) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def _bin_factors(clr, lo: int, hi: int, balance: str | None, divisive: bool) -> np.ndarray:
    """Per-bin balancing factor of bins ``lo..hi`` (ones without balancing), shape (hi - lo,)."""
    if balance is None:
        return np.ones(hi - lo)
    weights = np.asarray(clr.bins()[balance][lo:hi], dtype=np.float64)
    if not divisive:
        return weights
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 / weights


def accumulate_contacts(blocks, nb: int, bin1, bin2, factors, max_diag: int = 0) -> ChromContacts:
    """Match queried bin pairs against streamed pixel blocks of one chromosome.

    Parameters
    ----------
    blocks : iterable of (r, c, v)
        Upper-triangle pixels (``c >= r``; int64 bins relative to the chromosome's first bin)
        with their balanced (or raw) values, float64; one block at a time.
    nb : int
        Bins of the chromosome.
    bin1, bin2 : int arrays, shape (n,)
        Queried bin pairs; order within a pair does not matter.
    factors : float array, shape (nb,)
        Per-bin balancing factors; a non-finite one masks its bin (queries give NaN).
    max_diag : int
        Accumulate diagonal sums for offsets ``0..max_diag``.

    Returns
    -------
    ChromContacts
    """
    b1 = np.asarray(bin1, dtype=np.int64)
    b2 = np.asarray(bin2, dtype=np.int64)
    qlo, qhi = np.minimum(b1, b2), np.maximum(b1, b2)
    qkey = qlo * nb + qhi
    order = np.argsort(qkey, kind="stable")
    skey = qkey[order]
    values = np.zeros(qkey.size, dtype=np.float64)
    row_sums = np.zeros(nb, dtype=np.float64)
    diag_sums = np.zeros(max_diag + 1, dtype=np.float64)
    diag_counts = np.zeros(max_diag + 1, dtype=np.int64)
    for r, c, v in blocks:
        v0 = np.where(np.isfinite(v), v, 0.0)
        row_sums += np.bincount(r, weights=v0, minlength=nb)
        off = r != c
        row_sums += np.bincount(c[off], weights=v0[off], minlength=nb)
        if max_diag > 0:
            d = c - r
            near = d <= max_diag
            diag_sums += np.bincount(d[near], weights=v0[near], minlength=max_diag + 1)
            diag_counts += np.bincount(d[near], minlength=max_diag + 1)
        if skey.size:
            key = r * nb + c
            pos = np.searchsorted(skey, key)
            pos_c = np.minimum(pos, skey.size - 1)
            hit = skey[pos_c] == key
            # Several queries can share a key: fill the whole run of equal keys.
            right = np.searchsorted(skey, key[hit], side="right")
            left = pos_c[hit]
            run = right - left
            idx = np.repeat(left, run) + (np.arange(run.sum()) - np.repeat(np.cumsum(run) - run, run))
            values[order[idx]] = np.repeat(v[hit], run)
    # A masked bin is NaN in cooler's dense balanced matrix whether or not a pixel is stored.
    masked = ~np.isfinite(np.asarray(factors, dtype=np.float64))
    if masked.any() and b1.size:
        values[masked[np.clip(qlo, 0, nb - 1)] | masked[np.clip(qhi, 0, nb - 1)]] = np.nan
    return ChromContacts(values=values, row_sums=row_sums, diag_sums=diag_sums,
                         diag_counts=diag_counts)


def chrom_contacts(clr, chrom: str, bin1, bin2, balance: str | None, divisive: bool = False,
                   max_diag: int = 0, chunksize: int = _CHUNK) -> ChromContacts:
    """Look up contacts of (bin1, bin2) pairs within one chromosome.

    Parameters
    ----------
    clr : cooler.Cooler
    chrom : str
        Chromosome as named in the cooler.
    bin1, bin2 : int arrays, shape (n,)
        Bin indices relative to the chromosome's first bin; order does not matter.
    balance : str or None
        Balancing bin column, or None for raw counts.
    divisive : bool
        Divide by the column instead of multiplying (see :func:`weights_are_divisive`).
    max_diag : int
        Accumulate diagonal sums for offsets ``0..max_diag`` (for power-law fits).
    chunksize : int
        About this many pixels are read per block of rows.

    Returns
    -------
    ChromContacts
    """
    lo, hi = clr.extent(chrom)
    selector = clr.matrix(balance=balance if balance is not None else False,
                          divisive_weights=bool(divisive) if balance is not None else None,
                          as_pixels=True, join=False)
    column = "balanced" if balance is not None else "count"

    def blocks():
        for a, b in _row_blocks(clr, lo, hi, chunksize):
            pix = selector[a:b, lo:hi]
            r = pix["bin1_id"].to_numpy(np.int64) - lo
            c = pix["bin2_id"].to_numpy(np.int64) - lo
            v = pix[column].to_numpy(np.float64)
            upper = c >= r  # a square-stored cooler also holds the lower triangle
            yield r[upper], c[upper], v[upper]

    return accumulate_contacts(blocks(), hi - lo, bin1, bin2,
                               _bin_factors(clr, lo, hi, balance, divisive), max_diag)
