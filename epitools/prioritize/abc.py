"""Activity-by-Contact (ABC) score (Fulco et al. 2019; Nasser et al. 2021).

``ABC = activity × contact / Σ(activity × contact)`` over every candidate element within
the window of the gene. Activity is the geometric mean of DNase (or ATAC) and H3K27ac,
in reads per million, optionally quantile-normalised to a reference (ABC's
``EnhancersQNormRef``), promoters and non-promoters separately.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from epitools.errors import InputError, UsageError
# The activity math lives in epitools.regions.activity (epi-candidates activity uses it too);
# its names stay importable from here.
from epitools.regions.activity import (PROMOTER_CLASSES, element_activity,  # noqa: F401
                                       quantile_normalise, read_qnorm_reference, rpm)

log = logging.getLogger(__name__)

def self_promoter(df: pd.DataFrame, tss_slop: int = 500, class_col: str = "class") -> np.ndarray:
    """ABC's self-promoter flag: a promoter-class element within ``tss_slop`` of its gene's TSS."""
    cls = df[class_col].astype(str).str.lower().isin(PROMOTER_CLASSES).to_numpy() \
        if class_col in df.columns else np.zeros(len(df), dtype=bool)
    tss = df["tss"].to_numpy(np.float64)
    return cls & (df["enhancer_start"].to_numpy() - tss_slop < tss) & \
        (df["enhancer_end"].to_numpy() + tss_slop > tss)


def abc_score(df: pd.DataFrame, *, activity: str = "activity", contact: str = "contact_norm",
              gene: tuple[str, ...] = ("gene", "tss"), window: float = 5_000_000,
              self_promoters: bool = True, self_promoter_col: str | None = None,
              threshold: float | None = None) -> pd.DataFrame:
    """Add ``abc_numerator`` and ``abc_score`` (and ``abc_predicted`` with a threshold).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per candidate element–gene pair, with ``activity``, ``contact`` and
        ``distance`` columns and the columns in ``gene`` identifying a gene.
    window : float
        Only elements closer than this to the TSS count (others get NaN).
    self_promoters : bool
        Give an element that is the gene's own promoter a score of 1 (ABC's convention).
        The flag comes from ``self_promoter_col`` or, when absent, :func:`self_promoter`.
    threshold : float, optional
        Adds ``abc_predicted = abc_score >= threshold``.

    Returns
    -------
    pandas.DataFrame (a copy)
    """
    for col in (activity, contact, "distance", *gene):
        if col not in df.columns:
            raise InputError(f"ABC needs column '{col}'", field=col)
    out = df.copy()
    inside = out["distance"].to_numpy(np.float64) < window
    num = out[activity].to_numpy(np.float64) * out[contact].to_numpy(np.float64)
    num = np.where(inside, num, np.nan)
    out["abc_numerator"] = num
    denom = out.groupby(list(gene), sort=False, dropna=False)["abc_numerator"].transform("sum").to_numpy()
    # A gene whose candidates all have zero activity (or contact) has nothing to share out:
    # each of its elements explains none of it, so 0 rather than 0/0.
    empty = inside & np.isfinite(num) & (denom == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["abc_score"] = np.where(empty, 0.0, num / denom)
    if empty.any():
        n_genes = out.loc[empty, list(gene)].drop_duplicates().shape[0]
        log.warning("ABC: %d gene(s) have zero total activity x contact over their %d candidate "
                    "element(s); their ABC score is 0", n_genes, int(empty.sum()))
    if self_promoters:
        flag = out[self_promoter_col].astype(bool).to_numpy() if self_promoter_col else \
            (self_promoter(out) if {"enhancer_start", "enhancer_end"} <= set(out.columns)
             else np.zeros(len(out), dtype=bool))
        out.loc[flag & inside, "abc_score"] = 1.0
    if threshold is not None:
        out["abc_predicted"] = out["abc_score"].to_numpy() >= threshold
    log.info("ABC for %d pairs of %d genes", int(inside.sum()),
             out.loc[inside, list(gene)].drop_duplicates().shape[0])
    return out


ELEMENT_KEYS = ["enhancer_chrom", "enhancer_start", "enhancer_end"]


def _track_activity(pairs: pd.DataFrame, dnase, h3k27ac, qnorm, merge_overlaps: bool = False) -> pd.DataFrame:
    """``pairs`` with ``activity`` from read counts (or signal) of the tracks over each element."""
    from epitools.io.tracks import element_signal

    first = pairs.drop_duplicates(ELEMENT_KEYS)
    elements = first[ELEMENT_KEYS].set_axis(["chrom", "start", "end"], axis=1).reset_index(drop=True)
    is_promoter = (first["class"].astype(str).str.lower().isin(PROMOTER_CLASSES).to_numpy()
                   if "class" in first.columns else None)
    signal = {}
    for name, path in (("dnase", dnase), ("h3k27ac", h3k27ac)):
        if path is not None:
            signal[name] = element_signal(elements, path, merge_overlaps=merge_overlaps)
            if not np.nansum(signal[name]) > 0:
                raise InputError(f"no signal over any of the {len(elements)} candidate elements "
                                 "(wrong chromosome names or an empty track?)", path=path)
    activity = element_activity(signal["dnase"], signal.get("h3k27ac"), is_promoter=is_promoter,
                                qnorm_reference=qnorm)
    elements = first[ELEMENT_KEYS].reset_index(drop=True).assign(activity=activity["activity_base"].to_numpy())
    return pairs.drop(columns=["activity"], errors="ignore").merge(elements, on=ELEMENT_KEYS, how="left")


def score_table(pairs, *, dnase=None, h3k27ac=None, qnorm=None, hic=None, resolution: int | None = None,
                balance: str = "auto", divisive_weights: bool | None = None,
                gamma: float | None = None, scale: float | None = None, window: float = 5_000_000, self_promoters: bool = True,
                threshold: float | None = 0.02, merge_overlaps: bool = False) -> pd.DataFrame:
    """ABC score of every pair of a pairs table (``epi-prioritize abc``).

    Parameters
    ----------
    pairs : path or pandas.DataFrame
        Pairs table (N rows); ``gene`` defaults to ``promoter_chrom:promoter_start``.
    dnase, h3k27ac : path, optional
        bedGraph or bigWig tracks; activity is computed over each distinct element
        (:func:`element_activity`). Without ``dnase`` the table's ``activity`` column is used.
        Overlapping bedGraph intervals are an error unless ``merge_overlaps`` (values add up).
    qnorm : path or pandas.DataFrame, optional
        ABC's quantile-normalisation reference (needs ``dnase``).
    hic, resolution, balance, divisive_weights, gamma, scale
        Contact from a ``.cool``/``.mcool``/``.hic`` or the power law
        (:func:`epitools.contacts.pair_contacts`), unless the table has ``contact_norm``
        and no ``hic`` is given.
    window, self_promoters, threshold
        As for :func:`abc_score`.

    Returns
    -------
    pandas.DataFrame
        The N pairs with ``activity``, ``contact_norm``, ``distance``, ``tss``,
        ``abc_numerator``, ``abc_score`` (and ``abc_predicted`` with a threshold).
    """
    from epitools.contacts import pair_contacts, pair_geometry
    from epitools.io.pairs import read_pairs

    if not window > 0:
        raise UsageError(f"--window must be positive, got {window:g}")
    for option, value in (("--gamma", gamma), ("--scale", scale)):
        if value is not None and not value > 0:
            raise UsageError(f"{option} must be positive, got {value:g}")
    if dnase is None and (h3k27ac is not None or qnorm is not None):
        raise UsageError("--h3k27ac and --qnorm need --dnase (activity is DNase x H3K27ac)")
    source = None if isinstance(pairs, pd.DataFrame) else pairs
    pairs = read_pairs(source) if source is not None else pairs.copy()
    if "gene" not in pairs.columns:
        pairs["gene"] = pairs["promoter_chrom"].astype(str) + ":" + pairs["promoter_start"].astype(str)
    if dnase is not None:
        pairs = _track_activity(pairs, dnase, h3k27ac, qnorm, merge_overlaps)
    elif "activity" not in pairs.columns:
        raise InputError("no activity: give --dnase (and --h3k27ac) or an `activity` column",
                         path=source, field="activity")
    if hic is not None or "contact_norm" not in pairs.columns:
        pairs = pair_contacts(pairs, hic, resolution=resolution, balance=balance,
                              divisive_weights=divisive_weights, gamma=gamma, scale=scale)
    missing = [c for c in ("distance", "tss") if c not in pairs.columns]
    if missing:
        geometry = pair_geometry(pairs)
        for column in missing:
            pairs[column] = geometry[column].to_numpy()
    return abc_score(pairs, window=window, self_promoters=self_promoters, threshold=threshold)
