"""Signal or read counts over genomic elements from bedGraph or bigWig files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from epitools.errors import InputError


def read_bedgraph(path) -> pd.DataFrame:
    """Read a (optionally gzipped) bedGraph: columns ``chrom start end value``.

    ``track``/``browser``/``#`` lines are skipped; a non-numeric field is an InputError
    naming its line.
    """
    rows = pd.read_csv(path, sep="\t", header=None, comment="#", dtype=str,
                       names=["chrom", "start", "end", "value"], skip_blank_lines=False)
    rows = rows[~rows["chrom"].fillna("").str.startswith(("track", "browser"))]
    rows = rows[rows["chrom"].notna()]
    for name in ("start", "end", "value"):
        num = pd.to_numeric(rows[name], errors="coerce")
        bad = num.isna()
        if bad.any():
            first = rows.index[bad.to_numpy()][0]
            raise InputError(f"not a number: {rows[name].loc[first]!r}", path=path,
                             line=int(first) + 1, field=name)
        rows[name] = num
    return rows.astype({"start": np.int64, "end": np.int64, "value": np.float64}).reset_index(drop=True)


def _coverage_from_bedgraph(track: pd.DataFrame, chrom, start, end) -> np.ndarray:
    """Sum of value × overlapping bp per element (bedGraph intervals do not overlap)."""
    out = np.zeros(len(chrom))
    for name, grp in track.groupby("chrom", sort=False):
        sel = np.flatnonzero(chrom == name)
        if not sel.size:
            continue
        g = grp.sort_values("start")
        s, e, v = g["start"].to_numpy(), g["end"].to_numpy(), g["value"].to_numpy()
        # integral of the signal from 0 to x, evaluated by searchsorted over interval ends
        cum = np.concatenate([[0.0], np.cumsum(v * (e - s))])

        def integral(x):
            i = np.searchsorted(e, x, side="right")  # intervals wholly left of x
            partial = np.where(i < s.size, np.clip(x - s[np.minimum(i, s.size - 1)], 0, None), 0)
            return cum[i] + partial * np.where(i < s.size, v[np.minimum(i, s.size - 1)], 0)

        out[sel] = integral(end[sel]) - integral(start[sel])
    return out


def element_signal(elements: pd.DataFrame, path, exact: bool = True) -> np.ndarray:
    """Signal of a track over each element.

    Parameters
    ----------
    elements : pandas.DataFrame
        Columns ``chrom``, ``start``, ``end``.
    path : str or os.PathLike
        bedGraph (plain or gzipped) or bigWig.
    exact : bool
        For a bedGraph whose intervals are exactly the elements (a read-count table such
        as ABC's ``CountReads.bedgraph``), take each element's value; otherwise, and for
        bigWig, the total coverage (mean signal × length, as ABC counts bigWigs).

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
    """
    chrom = elements["chrom"].astype(str).to_numpy()
    start = elements["start"].to_numpy(np.int64)
    end = elements["end"].to_numpy(np.int64)
    suffix = Path(str(path)).suffix.lower()
    if suffix in (".bw", ".bigwig"):
        import pyBigWig

        bw = pyBigWig.open(str(path))
        known = bw.chroms()
        out = np.zeros(len(chrom))
        for name in pd.unique(chrom):
            if name not in known:
                continue
            sel = np.flatnonzero(chrom == name)
            for i in sel:  # pyBigWig has no batch API; one C call per element
                val = bw.stats(name, int(start[i]), int(max(end[i], start[i] + 1)), type="mean")[0]
                out[i] = (val or 0.0) * (end[i] - start[i])
        bw.close()
        return out
    track = read_bedgraph(path)
    if exact:
        keyed = track.drop_duplicates(["chrom", "start", "end"]).set_index(["chrom", "start", "end"])["value"]
        idx = pd.MultiIndex.from_arrays([chrom, start, end])
        vals = keyed.reindex(idx).to_numpy()
        if not np.isnan(vals).any():
            return vals.astype(np.float64)
    return _coverage_from_bedgraph(track, chrom, start, end)
