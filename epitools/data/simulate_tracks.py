"""Simulated signal tracks: element intervals flattened into bedGraph and bigWig."""

from __future__ import annotations

import numpy as np
import pandas as pd


def flatten_intervals(chroms, starts, ends, values, chrom_order) -> pd.DataFrame:
    """Sum possibly overlapping intervals into non-overlapping, sorted segments.

    Parameters
    ----------
    chroms, starts, ends, values : array-like, (n,)
        Intervals (0-based, half-open) and the signal each carries.
    chrom_order : list of str
        Output chromosome order.

    Returns
    -------
    DataFrame with ``chrom start end value``; segments with zero signal are dropped and
    touching segments with equal values are kept separate (bedGraph allows both).
    """
    frame = pd.DataFrame({"chrom": np.asarray(chroms), "start": np.asarray(starts, np.int64),
                          "end": np.asarray(ends, np.int64), "value": np.asarray(values, float)})
    out = []
    for chrom in chrom_order:
        sub = frame[frame["chrom"] == chrom]
        if sub.empty:
            continue
        edges = np.unique(np.concatenate([sub["start"].to_numpy(), sub["end"].to_numpy()]))
        first = np.searchsorted(edges, sub["start"].to_numpy())
        last = np.searchsorted(edges, sub["end"].to_numpy())
        delta = np.zeros(len(edges))
        np.add.at(delta, first, sub["value"].to_numpy())
        np.add.at(delta, last, -sub["value"].to_numpy())
        depth = np.zeros(len(edges), dtype=np.int64)
        np.add.at(depth, first, 1)
        np.add.at(depth, last, -1)
        level = np.cumsum(delta)[:-1]
        # Gaps between elements carry no signal; float residue of the cumsum is not signal.
        keep = np.cumsum(depth)[:-1] > 0
        out.append(pd.DataFrame({"chrom": chrom, "start": edges[:-1][keep], "end": edges[1:][keep],
                                 "value": np.round(level[keep], 4)}))
    return pd.concat(out, ignore_index=True) if out else frame.iloc[:0]
