"""Element activity as ABC computes it (Fulco et al. 2019; Nasser et al. 2021).

Activity is the geometric mean of accessibility (DNase-seq or ATAC-seq) and H3K27ac, each in
reads per million, optionally quantile-normalised to a reference (ABC's ``EnhancersQNormRef``),
promoters and other elements separately. Element classes follow ABC's
``assign_enhancer_classes``: ``promoter`` when an element overlaps a gene's TSS ± ``tss_slop``,
else ``genic`` when it overlaps a gene body, else ``intergenic``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from epitools.errors import InputError
from epitools.regions.intervals import overlaps_any

log = logging.getLogger(__name__)

PROMOTER_CLASSES = ("promoter", "tss")
ELEMENT_CLASSES = ("promoter", "genic", "intergenic")


def rpm(counts, total: float | None = None) -> np.ndarray:
    """Reads per million: ``1e6 × counts / total`` (total: the sum of ``counts`` by default)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = float(counts.sum()) if total is None else float(total)
    if not total > 0:
        raise InputError(f"total read count must be positive, got {total:g}", field="reads")
    return 1e6 * counts / total


def _interp_extrapolate(x, xp, fp) -> np.ndarray:
    """Piecewise-linear interpolation that extends the end segments linearly."""
    order = np.argsort(xp, kind="stable")
    xp, fp = np.asarray(xp, np.float64)[order], np.asarray(fp, np.float64)[order]
    y = np.interp(x, xp, fp)
    lo, hi = x < xp[0], x > xp[-1]
    y[lo] = fp[0] + (x[lo] - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0])
    y[hi] = fp[-1] + (x[hi] - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    return y


def quantile_normalise(values, is_promoter, reference: pd.DataFrame, column: str) -> np.ndarray:
    """Map each value to the reference distribution by its rank, as ABC does.

    Within promoters and within the other elements separately, an element of average rank
    ``r`` among ``n`` takes the reference value at rank ``(1 - r / n) × n``, linearly
    interpolated (extrapolated at the ends) and clipped at 0.

    Parameters
    ----------
    values : float array (n,)
        RPM (any monotone transform of the counts gives the same result).
    is_promoter : bool array (n,)
    reference : pandas.DataFrame
        Columns ``enh_class`` (promoter/nonpromoter), ``rank`` and ``column``.
    column : str
        Reference column, e.g. ``DHS.RPM`` or ``H3K27ac.RPM``.

    Returns
    -------
    float64 array (n,)
    """
    values = pd.Series(np.asarray(values, dtype=np.float64))
    is_promoter = np.asarray(is_promoter, dtype=bool)
    if column not in reference.columns:
        raise InputError(f"quantile reference lacks column '{column}'", field=column)
    out = np.zeros(values.size)
    for cls, mask in (("promoter", is_promoter), ("nonpromoter", ~is_promoter)):
        if not mask.any():
            continue
        ref = reference[reference["enh_class"] == cls]
        if len(ref) < 2:
            raise InputError(f"quantile reference has no '{cls}' rows", field="enh_class")
        quantile = values[mask].rank().to_numpy() / mask.sum()
        x = (1 - quantile) * mask.sum()
        out[mask] = np.clip(_interp_extrapolate(x, ref["rank"].to_numpy(), ref[column].to_numpy()), 0, None)
    return out


def read_qnorm_reference(path, columns=("DHS.RPM",)) -> pd.DataFrame:
    """ABC's quantile-normalisation reference: ``enh_class``, ``rank`` and the ``columns``."""
    try:
        reference = pd.read_csv(path, sep="\t")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read the quantile-normalisation reference: {exc}", path=path) from exc
    missing = [c for c in ("enh_class", "rank", *columns) if c not in reference.columns]
    if missing:
        raise InputError(f"quantile-normalisation reference lacks column(s) {', '.join(missing)}",
                         path=path, line=1, field=missing[0])
    return reference


def element_activity(dhs, h3k27ac=None, *, is_promoter=None, qnorm_reference=None,
                     total_dhs: float | None = None, total_h3k27ac: float | None = None) -> pd.DataFrame:
    """Per-element activity from read counts (or signal).

    Parameters
    ----------
    dhs : float array (n,)
        DNase-seq or ATAC-seq counts per element (ATAC is normalised to the reference's
        ``DHS.RPM``, as ABC does when the reference has no ``ATAC.RPM``).
    h3k27ac : float array (n,), optional
        H3K27ac ChIP-seq counts; without it activity is the accessibility alone.
    is_promoter : bool array (n,), optional
        Needed with ``qnorm_reference`` (promoters are normalised separately).
    qnorm_reference : pandas.DataFrame or path, optional
        ABC's quantile-normalisation reference (``EnhancersQNormRef.<cell>.txt``).
    total_dhs, total_h3k27ac : float, optional
        Total mapped reads for RPM; default the sum over the elements.

    Returns
    -------
    pandas.DataFrame
        ``DHS.RPM``, ``H3K27ac.RPM`` (when given), ``normalized_dhs``,
        ``normalized_h3k27ac`` and ``activity_base``.
    """
    out = pd.DataFrame({"DHS.RPM": rpm(dhs, total_dhs)})
    if h3k27ac is not None:
        out["H3K27ac.RPM"] = rpm(h3k27ac, total_h3k27ac)
    if qnorm_reference is None:
        out["normalized_dhs"] = out["DHS.RPM"]
        if h3k27ac is not None:
            out["normalized_h3k27ac"] = out["H3K27ac.RPM"]
    else:
        if not isinstance(qnorm_reference, pd.DataFrame):
            qnorm_reference = read_qnorm_reference(
                qnorm_reference, ["DHS.RPM"] + (["H3K27ac.RPM"] if h3k27ac is not None else []))
        if is_promoter is None:
            raise InputError("quantile normalisation needs each element's class (promoter or not)",
                             field="class")
        out["normalized_dhs"] = quantile_normalise(out["DHS.RPM"], is_promoter, qnorm_reference, "DHS.RPM")
        if h3k27ac is not None:
            out["normalized_h3k27ac"] = quantile_normalise(out["H3K27ac.RPM"], is_promoter,
                                                           qnorm_reference, "H3K27ac.RPM")
    if h3k27ac is not None:
        out["activity_base"] = np.sqrt(out["normalized_dhs"] * out["normalized_h3k27ac"])
    else:
        out["activity_base"] = out["normalized_dhs"]
    return out


def element_classes(elements: pd.DataFrame, genes: pd.DataFrame, tss_slop: int = 500,
                    chrom_sizes: dict | None = None) -> np.ndarray:
    """ABC's class of each element: ``promoter``, ``genic`` or ``intergenic``.

    Parameters
    ----------
    elements : pandas.DataFrame
        ``chrom start end`` (n rows).
    genes : pandas.DataFrame
        ``chrom tss`` and, for the genic class, gene bounds ``start end``.
    tss_slop : int
        Half-width of the promoter window around each TSS (clipped to the chromosome).

    Returns
    -------
    object array (n,)
    """
    tss = genes["tss"].to_numpy(np.int64)
    end = tss + tss_slop
    if chrom_sizes:
        end = np.minimum(end, genes["chrom"].astype(str).map(chrom_sizes).fillna(np.inf).to_numpy())
    windows = pd.DataFrame({"chrom": genes["chrom"].astype(str).to_numpy(),
                            "start": np.maximum(tss - tss_slop, 0), "end": end.astype(np.int64)})
    classes = np.full(len(elements), "intergenic", dtype=object)
    if {"start", "end"} <= set(genes.columns):
        classes[overlaps_any(elements, genes[["chrom", "start", "end"]].astype({"chrom": str}))] = "genic"
    classes[overlaps_any(elements, windows)] = "promoter"
    counts = pd.Series(classes).value_counts()
    log.info("element classes: %s", ", ".join(f"{counts.get(c, 0)} {c}" for c in ELEMENT_CLASSES))
    return classes


def element_names(elements: pd.DataFrame, classes) -> pd.Series:
    """ABC's element names ``<class>|<chrom>:<start>-<end>``."""
    return (pd.Series(np.asarray(classes, dtype=object), index=elements.index).astype(str) + "|"
            + elements["chrom"].astype(str) + ":" + elements["start"].astype(str) + "-"
            + elements["end"].astype(str))
