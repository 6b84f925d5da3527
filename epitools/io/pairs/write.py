"""Write canonical pairs tables as canonical TSV, BEDPE or TargetFinder CSV, atomically."""

from __future__ import annotations

import logging
import os

import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_path
from epitools.io.pairs.columns import COORD_COLUMNS, canonical_order

log = logging.getLogger(__name__)


def write_pairs(df: pd.DataFrame, path, format: str = "canonical") -> None:
    """Write a canonical table atomically (gzip when ``path`` ends with ``.gz``).

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical table (as returned by :func:`read_pairs`).
    path : str or os.PathLike
        Output file.
    format : {"canonical", "bedpe", "targetfinder"}
        ``canonical``: tab-separated with header. ``bedpe``: a ``#chrom1 ...`` header line, then
        ``chrom1 start1 end1 chrom2 start2 end2 name score strand1 strand2`` and the remaining
        columns. ``targetfinder``: comma-separated TargetFinder layout with ``CELL|chrN:start-end``
        names.
    """
    missing = [c for c in COORD_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"cannot write pairs without column '{missing[0]}'", path=path, field=missing[0])
    table = canonical_order(df)
    sep = "\t"
    if format == "bedpe":
        table = _to_bedpe(table)
    elif format == "targetfinder":
        table, sep = _to_targetfinder(table), ","
    elif format != "canonical":
        raise UsageError(f"cannot write pairs as {format!r}; use canonical, bedpe or targetfinder")
    compression = "gzip" if os.fspath(path).endswith(".gz") else None
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep=sep, index=False, compression=compression, lineterminator="\n")
    log.info("wrote %d pairs to %s", len(table), os.fspath(path))


def _to_bedpe(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "#chrom1": df["enhancer_chrom"], "start1": df["enhancer_start"], "end1": df["enhancer_end"],
        "chrom2": df["promoter_chrom"], "start2": df["promoter_start"], "end2": df["promoter_end"],
        "name": df["pair_id"] if "pair_id" in df.columns else ".",
        "score": df["score"] if "score" in df.columns else ".",
        "strand1": df["enhancer_strand"] if "enhancer_strand" in df.columns else ".",
        "strand2": df["promoter_strand"] if "promoter_strand" in df.columns else ".",
    })
    used = set(COORD_COLUMNS) | {"pair_id", "score", "enhancer_strand", "promoter_strand"}
    rest = [c for c in df.columns if c not in used]
    return pd.concat([out, df[rest]], axis=1)


def _element_names(df: pd.DataFrame, side: str) -> pd.Series:
    region = (df[f"{side}_chrom"].astype(str) + ":" + df[f"{side}_start"].astype(str) + "-"
              + df[f"{side}_end"].astype(str))
    if "cell_type" in df.columns:
        region = df["cell_type"].astype(str) + "|" + region
    return region


def _to_targetfinder(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "enhancer_chrom": df["enhancer_chrom"], "enhancer_start": df["enhancer_start"],
        "enhancer_end": df["enhancer_end"], "enhancer_name": _element_names(df, "enhancer"),
        "promoter_chrom": df["promoter_chrom"], "promoter_start": df["promoter_start"],
        "promoter_end": df["promoter_end"], "promoter_name": _element_names(df, "promoter"),
    })
    if "distance" in df.columns:
        out["enhancer_distance_to_promoter"] = df["distance"]
    used = set(COORD_COLUMNS) | {"distance", "cell_type", "enhancer_name", "promoter_name"}
    rest = [c for c in df.columns if c not in used]
    return pd.concat([out, df[rest]], axis=1)
