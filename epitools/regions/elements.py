"""The elements table: candidate regions with their reads, activity and ABC class.

Written as a headed BED ``#chrom start end name dnase h3k27ac activity class dnase_reads
h3k27ac_reads dnase_rpm h3k27ac_rpm`` that :func:`epitools.io.genes.read_elements` (the gene
store) and ``epi-candidates pairs`` (then ``epi-prioritize abc``) read: ``dnase`` and
``h3k27ac`` are the (quantile-normalised) RPM of accessibility (DNase-seq or ATAC-seq) and
H3K27ac, ``activity`` their geometric mean (ABC's ``activity_base``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from epitools.errors import UsageError
from epitools.io.atomic import atomic_path
from epitools.regions.activity import PROMOTER_CLASSES, element_activity, element_classes, element_names
from epitools.regions.counts import element_counts

log = logging.getLogger(__name__)

ELEMENT_TABLE_COLUMNS = ["chrom", "start", "end", "name", "dnase", "h3k27ac", "activity", "class",
                         "dnase_reads", "h3k27ac_reads", "dnase_rpm", "h3k27ac_rpm"]


def element_table(elements: pd.DataFrame, accessibility, h3k27ac=None, *, genes: pd.DataFrame | None = None,
                  qnorm=None, tss_slop: int = 500, chrom_sizes: dict | None = None,
                  double_sex: bool = True) -> pd.DataFrame:
    """Reads, RPM, activity and class of every element.

    Parameters
    ----------
    elements : pandas.DataFrame
        ``chrom start end`` (n rows); a ``class`` column is used when ``genes`` is None.
    accessibility, h3k27ac : path
        BAM/CRAM, bigWig or bedGraph (see :func:`epitools.regions.counts.element_counts`).
    genes : pandas.DataFrame, optional
        ``chrom tss`` (+ ``start end`` bounds) for the promoter/genic/intergenic class.
    qnorm : path or pandas.DataFrame, optional
        ABC's quantile-normalisation reference (needs the classes).

    Returns
    -------
    pandas.DataFrame
        :data:`ELEMENT_TABLE_COLUMNS`, n rows in input order.
    """
    base = elements[["chrom", "start", "end"]].reset_index(drop=True)
    if genes is not None:
        classes = element_classes(base, genes, tss_slop, chrom_sizes)
    elif "class" in elements.columns:
        classes = elements["class"].astype(str).to_numpy()
    else:
        if qnorm is not None:
            raise UsageError("--qnorm needs element classes: give --genes")
        classes = np.full(len(base), "unknown", dtype=object)
    reads, total = element_counts(base, accessibility, double_sex)
    h_reads, h_total = element_counts(base, h3k27ac, double_sex) if h3k27ac is not None else (None, None)
    is_promoter = pd.Series(classes).str.lower().isin(PROMOTER_CLASSES).to_numpy()
    act = element_activity(reads, h_reads, is_promoter=is_promoter, qnorm_reference=qnorm,
                           total_dhs=total, total_h3k27ac=h_total)
    # without H3K27ac the mark is absent, not zero activity: 0 keeps read_elements' ">= 0" contract
    h3 = act["normalized_h3k27ac"].to_numpy() if h3k27ac is not None else np.zeros(len(base))
    table = base.assign(
        name=element_names(base, classes).to_numpy(), dnase=act["normalized_dhs"].to_numpy(), h3k27ac=h3,
        activity=act["activity_base"].to_numpy(), **{"class": classes},
        dnase_reads=reads, h3k27ac_reads=h_reads if h_reads is not None else np.zeros(len(base)),
        dnase_rpm=act["DHS.RPM"].to_numpy(),
        h3k27ac_rpm=act["H3K27ac.RPM"].to_numpy() if h3k27ac is not None else np.zeros(len(base)))
    log.info("activity: %d elements, median activity %.4g (%s)", len(table), float(np.median(table["activity"])),
             "quantile-normalised" if qnorm is not None else "RPM")
    return table[ELEMENT_TABLE_COLUMNS]


def write_element_table(table: pd.DataFrame, path) -> None:
    """Write the elements table as a headed BED (``#chrom ...``), atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write("#" + "\t".join(table.columns) + "\n")
            table.to_csv(fh, sep="\t", header=False, index=False, float_format="%.10g", lineterminator="\n")
    log.info("wrote %d elements to %s", len(table), path)


def write_regions(regions: pd.DataFrame, path) -> None:
    """Write ``chrom start end`` as a headerless BED3, atomically."""
    with atomic_path(path) as tmp:
        regions[["chrom", "start", "end"]].to_csv(tmp, sep="\t", header=False, index=False, lineterminator="\n")
    log.info("wrote %d regions to %s", len(regions), path)
