"""BED interval arithmetic on pandas frames (``chrom start end``, 0-based, half-open).

The semantics are those of the bedtools commands ABC's pipeline runs: ``merge`` joins
overlapping *and* book-ended intervals; ``intersect`` counts an overlap of at least 1 bp;
``sort`` orders chromosomes as a chromosome-sizes file lists them (lexicographically
without one), then by start.
"""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd

from epitools.errors import InputError

BED3 = ["chrom", "start", "end"]


def _open_text(path):
    return gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)


def read_bed(path, min_columns: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a BED-like file (plain or gzip); ``#``, ``track`` and ``browser`` lines are skipped.

    Returns
    -------
    (pandas.DataFrame, int64 array (n,))
        The rows as strings (columns ``0..k-1``, ``start``/``end`` as int64 in columns 1, 2)
        and the 1-based line number of each row, for error messages.
    """
    rows, lines = [], []
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n\r").split("\t")
            if len(fields) < min_columns:
                raise InputError(f"expected at least {min_columns} tab-separated fields, got {len(fields)}",
                                 path, line=lineno)
            rows.append(fields)
            lines.append(lineno)
    width = max((len(r) for r in rows), default=min_columns)
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], columns=range(width))
    lines = np.asarray(lines, dtype=np.int64)
    for column, field in ((1, "start"), (2, "end")):
        values = pd.to_numeric(frame[column], errors="coerce") if len(frame) else frame[column]
        bad = values.isna().to_numpy() if len(frame) else np.zeros(0, bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"not an integer: {frame[column].iloc[i]!r}", path, line=int(lines[i]), field=field)
        frame[column] = values.astype(np.int64) if len(frame) else values
    if len(frame):
        bad = (frame[1] < 0) | (frame[2] < frame[1])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"need 0 <= start <= end, got {frame[1].iloc[i]}-{frame[2].iloc[i]}",
                             path, line=int(lines[i]), field="end")
    return frame, lines


def chrom_rank(chroms, order=None) -> np.ndarray:
    """Sort key of each chromosome name: its index in ``order``, or lexicographic without one.

    Chromosomes missing from ``order`` sort after those in it, lexicographically.
    """
    chroms = np.asarray(chroms, dtype=object).astype(str)
    names = sorted(set(chroms))
    if order is not None:
        known = {c: i for i, c in enumerate(order)}
        names = sorted(names, key=lambda c: (known.get(c, len(known)), c))
    rank = {c: i for i, c in enumerate(names)}
    return np.fromiter((rank[c] for c in chroms), dtype=np.int64, count=len(chroms))


def sort_intervals(df: pd.DataFrame, order=None) -> pd.DataFrame:
    """``df`` sorted by chromosome (see :func:`chrom_rank`), start, then end; index reset."""
    key = chrom_rank(df["chrom"], order)
    idx = np.lexsort((df["end"].to_numpy(), df["start"].to_numpy(), key))
    return df.iloc[idx].reset_index(drop=True)


def merge_intervals(df: pd.DataFrame, order=None, value: str | None = None) -> pd.DataFrame:
    """Merge overlapping or touching intervals (``bedtools merge``).

    Parameters
    ----------
    df : pandas.DataFrame
        ``chrom start end`` (+ ``value``), any order.
    value : str, optional
        A column whose maximum over the merged intervals is kept (``-c 4 -o max``).

    Returns
    -------
    pandas.DataFrame
        Sorted ``chrom start end`` (+ ``value``) of the merged intervals.
    """
    if df.empty:
        return pd.DataFrame({c: df[c] for c in BED3 + ([value] if value else [])}).reset_index(drop=True)
    s = sort_intervals(df, order)
    chrom = s["chrom"].astype(str).to_numpy()
    start, end = s["start"].to_numpy(np.int64), s["end"].to_numpy(np.int64)
    new_chrom = np.r_[True, chrom[1:] != chrom[:-1]]
    # running maximum of the end within each chromosome: an interval starts a new group
    # when it begins after every earlier interval of its chromosome has ended
    group_of_chrom = np.cumsum(new_chrom) - 1
    offset = group_of_chrom.astype(np.float64) * (float(end.max()) + 1.0)
    running_end = np.maximum.accumulate(end + offset) - offset
    new_group = new_chrom | np.r_[True, start[1:] > running_end[:-1]]
    group = np.cumsum(new_group) - 1
    out = pd.DataFrame({"chrom": chrom[new_group],
                        "start": start[new_group],
                        "end": pd.Series(end).groupby(group).max().to_numpy()})
    if value:
        out[value] = s[value].groupby(group).max().to_numpy()
    return out


def overlaps_any(df: pd.DataFrame, other: pd.DataFrame) -> np.ndarray:
    """Whether each interval of ``df`` overlaps (>= 1 bp) any interval of ``other``.

    Returns
    -------
    bool array (len(df),)
    """
    hit = np.zeros(len(df), dtype=bool)
    if df.empty or other.empty:
        return hit
    chrom = df["chrom"].astype(str).to_numpy()
    merged = merge_intervals(other)
    for name, grp in merged.groupby("chrom", sort=False):
        sel = np.flatnonzero(chrom == name)
        if not sel.size:
            continue
        starts, ends = grp["start"].to_numpy(), grp["end"].to_numpy()
        # disjoint sorted blocks: the last block starting before our end overlaps iff it ends after our start
        k = np.searchsorted(starts, df["end"].to_numpy()[sel], side="left") - 1
        ok = k >= 0
        hit[sel[ok]] = ends[k[ok]] > df["start"].to_numpy()[sel[ok]]
    return hit


def overlap_counts(starts, ends, query_starts, query_ends) -> np.ndarray:
    """How many intervals ``[starts, ends)`` overlap each query interval (one chromosome).

    An interval misses a query exactly when it ends at or before the query's start or
    begins at or after its end, so the count is ``#(start < q_end) - #(end <= q_start)``.

    Returns
    -------
    int64 array (len(query_starts),)
    """
    s = np.sort(np.asarray(starts, np.int64))
    e = np.sort(np.asarray(ends, np.int64))
    return (np.searchsorted(s, np.asarray(query_ends, np.int64), side="left")
            - np.searchsorted(e, np.asarray(query_starts, np.int64), side="right")).astype(np.int64)
