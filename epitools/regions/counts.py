"""Read counts (BAM/CRAM) and signal (bigWig, bedGraph) over elements, and library totals.

BAM/CRAM (indexed) are read with pysam, one chromosome at a time: unmapped, secondary,
supplementary and QC-failed records are skipped; a paired-end fragment is counted once per
element it overlaps (by either mate: mates are matched by read name), a single-end read once.
The library total for RPM is the mapped reads of the index (``samtools idxstats``, as ABC),
halved for paired-end data so that it counts fragments too. A bigWig gives the exact sum of its
per-base signal over each element (ABC's ``stats(type="sum", exact=True)``) and its total the
same sum over every chromosome; a bedGraph goes through :func:`epitools.io.tracks.element_signal`.
As ABC does, values on chromosomes whose name ends in X or Y are doubled (``double_sex``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from epitools.errors import InputError
from epitools.progress import progress

log = logging.getLogger(__name__)

BAM_SUFFIXES = (".bam", ".cram")
BIGWIG_SUFFIXES = (".bw", ".bigwig")
_SKIP_FLAGS = 0x4 | 0x100 | 0x200 | 0x800  # unmapped, secondary, QC fail, supplementary


def track_kind(path) -> str:
    """``bam``, ``bigwig`` or ``bedgraph`` from the file name."""
    name = Path(str(path)).name.lower().removesuffix(".gz")
    if name.endswith(BAM_SUFFIXES):
        return "bam"
    if name.endswith(BIGWIG_SUFFIXES):
        return "bigwig"
    return "bedgraph"


def _open_alignments(path):
    import pysam

    try:
        handle = pysam.AlignmentFile(str(path), "rc" if str(path).lower().endswith(".cram") else "rb")
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot open alignments: {exc}", path) from exc
    if not handle.has_index():
        handle.close()
        raise InputError("alignments are not indexed (run `samtools index`)", path)
    return handle


def _bam_counts(elements: pd.DataFrame, path) -> tuple[np.ndarray, float]:
    out = np.zeros(len(elements))
    chrom = elements["chrom"].astype(str).to_numpy()
    start, end = elements["start"].to_numpy(np.int64), elements["end"].to_numpy(np.int64)
    with _open_alignments(path) as bam:
        known = set(bam.references)
        paired_seen = False
        names = [c for c in pd.unique(chrom) if c in known]
        for name in progress(names, desc="count reads", unit="chrom"):
            for i in np.flatnonzero(chrom == name):
                singles, fragments = 0, set()
                for read in bam.fetch(name, int(start[i]), int(end[i])):
                    if read.flag & _SKIP_FLAGS:
                        continue
                    if read.is_paired:
                        fragments.add(read.query_name)
                        paired_seen = True
                    else:
                        singles += 1
                out[i] = singles + len(fragments)
        mapped = float(sum(s.mapped for s in bam.get_index_statistics()))
    missing = set(pd.unique(chrom)) - known
    if missing:
        log.warning("%s: %d element chromosome(s) not in the alignments (e.g. %s); their counts are 0",
                    path, len(missing), sorted(missing)[0])
    return out, mapped / 2 if paired_seen else mapped


def _bigwig_signal(elements: pd.DataFrame, path) -> tuple[np.ndarray, float]:
    import pyBigWig

    try:
        bw = pyBigWig.open(str(path))
    except RuntimeError as exc:
        raise InputError("cannot open bigWig", path) from exc
    try:
        sizes = bw.chroms()
        chrom = elements["chrom"].astype(str).to_numpy()
        start, end = elements["start"].to_numpy(np.int64), elements["end"].to_numpy(np.int64)
        out = np.zeros(len(elements))
        for i in range(len(elements)):  # pyBigWig has no batch API: one C call per element
            if chrom[i] in sizes and end[i] > start[i]:
                value = bw.stats(chrom[i], int(start[i]), int(min(end[i], sizes[chrom[i]])),
                                 type="sum", exact=True)[0]
                out[i] = value or 0.0
        total = sum((bw.stats(c, 0, int(n), type="sum", exact=True)[0] or 0.0) for c, n in sizes.items())
    finally:
        bw.close()
    return out, float(total)


def element_counts(elements: pd.DataFrame, path, double_sex: bool = True) -> tuple[np.ndarray, float]:
    """Reads (or signal) over each element and the library total.

    Parameters
    ----------
    elements : pandas.DataFrame
        ``chrom start end`` (n rows).
    path : path
        BAM/CRAM (indexed), bigWig or bedGraph (for a bedGraph the total is its sum over
        the elements, so RPM is relative to the elements).
    double_sex : bool
        Double values on chromosomes ending in X or Y (ABC's convention).

    Returns
    -------
    (float64 array (n,), float)
    """
    kind = track_kind(path)
    if not Path(str(path)).is_file():
        raise InputError("file not found", path)
    if kind == "bam":
        values, total = _bam_counts(elements, path)
    elif kind == "bigwig":
        values, total = _bigwig_signal(elements, path)
    else:
        from epitools.io.tracks import element_signal

        values = element_signal(elements, path)
        total = float(np.nansum(values))
    if double_sex:
        sex = elements["chrom"].astype(str).str[-1:].isin(["X", "Y"]).to_numpy()
        values = np.where(sex, 2 * values, values)
    if not total > 0:
        raise InputError("no reads or signal in the file (total is 0)", path)
    log.info("%s: %.6g over %d elements of a total %.6g (%s)", Path(str(path)).name, float(np.sum(values)),
             len(elements), total, kind)
    return values, total
