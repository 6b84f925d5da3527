"""Candidate regions from peaks, as ABC's ``makeCandidateRegions.py`` makes them.

Steps (the counts of each are returned and logged):

1. peaks (narrowPeak or BED) get a strength: read counts from a BAM/CRAM, signal from a
   bigWig/bedGraph, or one of the peak's own columns (``signal`` = narrowPeak column 7);
2. overlapping or touching peaks are merged, keeping the strongest value;
3. the ``n_strongest`` merged peaks are kept (descending strength; ties keep genome order);
4. every peak inside a kept merged peak becomes a ``2 × extend`` window around its summit
   (narrowPeak column 10; the peak's midpoint when it has none), clipped to the chromosome;
   with ``ignore_summits`` the whole peak is extended by ``extend`` on each side and widened
   to ``min_width`` (ABC's ``--ignoreSummits``);
5. windows are merged; 6. merged windows touching a block-list interval are removed;
7. include-list regions (e.g. TSS ± 250 bp) on the genome's chromosomes are added;
8. everything is sorted and merged again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.regions.intervals import BED3, merge_intervals, overlaps_any, read_bed, sort_intervals

log = logging.getLogger(__name__)

# narrowPeak columns a peak may be ranked by (0-based column index)
PEAK_COLUMNS = {"score": 4, "signal": 6, "pvalue": 7, "qvalue": 8}


@dataclass
class CandidateSteps:
    """Interval counts after each step of :func:`candidate_regions`."""

    counts: dict = field(default_factory=dict)

    def add(self, step: str, n: int) -> None:
        self.counts[step] = int(n)
        log.info("candidate regions: %-34s %d", step, n)


def read_peaks(path) -> pd.DataFrame:
    """Read narrowPeak or BED peaks.

    Returns
    -------
    pandas.DataFrame
        ``chrom start end summit`` (absolute 0-based summit; the midpoint where the file has
        no summit column or ``-1``) and, where present, ``score signal pvalue qvalue``.
    """
    raw, lines = read_bed(path)
    if raw.empty:
        raise InputError("no peaks", path)
    out = pd.DataFrame({"chrom": raw[0].astype(str), "start": raw[1], "end": raw[2]})
    for name, column in PEAK_COLUMNS.items():
        if column in raw.columns:
            values = pd.to_numeric(raw[column].replace({"": np.nan, ".": np.nan}), errors="coerce")
            out[name] = values.to_numpy(np.float64)
    midpoint = (out["start"] + out["end"]) // 2
    if 9 in raw.columns:
        offset = pd.to_numeric(raw[9], errors="coerce")
        bad = offset.isna() & (raw[9] != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"summit offset is not an integer: {raw[9].iloc[i]!r}", path,
                             line=int(lines[i]), field="peak")
        offset = offset.fillna(-1).astype(np.int64)
        out["summit"] = np.where(offset >= 0, out["start"] + offset, midpoint)
    else:
        out["summit"] = midpoint
    return out


def candidate_regions(peaks: pd.DataFrame, strength, *, n_strongest: int = 150_000, extend: int = 250,
                      min_width: int = 500, ignore_summits: bool = False, chrom_sizes: dict | None = None,
                      include: pd.DataFrame | None = None, block: pd.DataFrame | None = None
                      ) -> tuple[pd.DataFrame, CandidateSteps]:
    """Candidate elements from peaks (see the module docstring for the steps).

    Parameters
    ----------
    peaks : pandas.DataFrame
        As :func:`read_peaks` returns (``chrom start end summit``).
    strength : float array (n_peaks,)
        Each peak's read count or signal.
    n_strongest, extend, min_width, ignore_summits
        ABC's ``nStrongestPeaks``, ``peakExtendFromSummit``, ``minPeakWidth``, ``ignoreSummits``.
    chrom_sizes : dict, optional
        Clips windows at chromosome ends, orders chromosomes and keeps only include-list
        regions on these chromosomes (lexicographic order and no clipping without it).
    include, block : pandas.DataFrame, optional
        ``chrom start end`` of regions to add and of regions that remove a candidate.

    Returns
    -------
    (pandas.DataFrame, CandidateSteps)
        Sorted, merged ``chrom start end`` and the count after every step.
    """
    if n_strongest < 1 or extend < 0 or min_width < 0:
        raise UsageError("--n-strongest must be >= 1 and --extend, --min-width >= 0")
    strength = np.asarray(strength, dtype=np.float64)
    if strength.shape != (len(peaks),):
        raise UsageError(f"{strength.size} strengths for {len(peaks)} peaks")
    order = list(chrom_sizes) if chrom_sizes else None
    steps = CandidateSteps()
    steps.add("peaks", len(peaks))
    if chrom_sizes:
        known = peaks["chrom"].isin(list(chrom_sizes)).to_numpy()
        peaks, strength = peaks[known].reset_index(drop=True), strength[known]
        steps.add("peaks on the genome's chromosomes", len(peaks))
    valued = peaks[BED3].assign(strength=np.nan_to_num(strength, nan=0.0))
    merged = merge_intervals(valued, order, value="strength")
    steps.add("merged peaks", len(merged))
    rank = np.lexsort((np.arange(len(merged)), -merged["strength"].to_numpy()))
    strongest = merged.iloc[np.sort(rank[:n_strongest])].reset_index(drop=True)
    steps.add(f"strongest merged peaks (n <= {n_strongest})", len(strongest))
    chosen = peaks[overlaps_any(peaks, strongest)]
    steps.add("peaks in the strongest", len(chosen))
    windows = _windows(chosen, extend, min_width, ignore_summits, chrom_sizes)
    regions = merge_intervals(windows, order)
    steps.add("merged windows", len(regions))
    if block is not None and not block.empty:
        regions = regions[~overlaps_any(regions, block)]
        steps.add("after the block-list", len(regions))
    if include is not None and not include.empty:
        added = include[BED3]
        if chrom_sizes:
            size = added["chrom"].map(chrom_sizes)
            added = added[size.notna().to_numpy() & (added["start"] < size.fillna(0)).to_numpy()]
        steps.add("include-list regions added", len(added))
        regions = pd.concat([regions, added], ignore_index=True)
    regions = merge_intervals(regions, order)
    steps.add("candidate regions", len(regions))
    return sort_intervals(regions, order), steps


def _windows(peaks: pd.DataFrame, extend: int, min_width: int, ignore_summits: bool,
             chrom_sizes: dict | None) -> pd.DataFrame:
    if ignore_summits:
        start = peaks["start"].to_numpy(np.int64) - extend
        end = peaks["end"].to_numpy(np.int64) + extend
        short = (end - start) < min_width
        pad = (min_width - (end - start)) // 2
        start, end = np.where(short, start - pad, start), np.where(short, end + pad, end)
    else:
        summit = peaks["summit"].to_numpy(np.int64)
        start, end = summit - extend, summit + extend
    start = np.maximum(start, 0)
    if chrom_sizes:
        end = np.minimum(end, peaks["chrom"].map(chrom_sizes).to_numpy(np.int64))
    return pd.DataFrame({"chrom": peaks["chrom"].to_numpy(), "start": start, "end": end})


def read_regions(path) -> pd.DataFrame:
    """``chrom start end`` of a BED file (include- or block-list); other columns are dropped."""
    raw, _ = read_bed(path)
    return pd.DataFrame({"chrom": raw[0].astype(str) if len(raw) else pd.Series([], dtype=str),
                         "start": raw[1] if len(raw) else pd.Series([], dtype=np.int64),
                         "end": raw[2] if len(raw) else pd.Series([], dtype=np.int64)})


def peak_column_strength(peaks: pd.DataFrame, column: str, path=None) -> np.ndarray:
    """Strength of each peak from one of its own columns (``signal``, ``score``, ``pvalue``, ``qvalue``)."""
    if column not in PEAK_COLUMNS:
        raise UsageError(f"--rank-by must be one of {', '.join(PEAK_COLUMNS)}, got {column!r}")
    if column not in peaks.columns or peaks[column].isna().all():
        raise InputError(f"peaks have no '{column}' column (narrowPeak column "
                         f"{PEAK_COLUMNS[column] + 1}); rank by reads (--bam) or a bigWig instead",
                         path, field=column)
    return peaks[column].to_numpy(np.float64)
