"""Write canonical pairs tables as canonical TSV, BEDPE or TargetFinder CSV, atomically."""

from __future__ import annotations

import logging
import os

import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_path
from epitools.io.pairs.columns import COORD_COLUMNS, canonical_order
from epitools.io.pairs.delimited import open_output, write_delimited, write_rows

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
    table, sep = _layout(df, path, format)
    with atomic_path(path) as tmp:
        # the bytes of table.to_csv(sep=sep, index=False), formatted a column at a time
        write_delimited(table, tmp, sep=sep, gzipped=os.fspath(path).endswith(".gz"))
    log.info("wrote %d pairs to %s", len(table), os.fspath(path))


def write_pairs_stream(frames, path, format: str = "canonical") -> int:
    """Write an iterable of canonical frames (same columns) as one table, atomically.

    Memory holds one frame; the output is what :func:`write_pairs` writes for their
    concatenation. Returns the number of rows written.
    """
    rows, columns = 0, None
    with atomic_path(path) as tmp, open_output(tmp, os.fspath(path).endswith(".gz")) as handle:
        for frame in frames:
            table, sep = _layout(frame, path, format)
            first = columns is None
            if first:
                columns = list(table.columns)
            elif list(table.columns) != columns:
                raise InputError(f"cannot append a part with columns {list(table.columns)} to a table "
                                 f"with columns {columns}", path=path)
            write_rows(table, handle, sep, header=first)
            rows += len(table)
    log.info("wrote %d pairs to %s", rows, os.fspath(path))
    return rows


def _layout(df: pd.DataFrame, path, format: str) -> tuple[pd.DataFrame, str]:
    """The table as written in ``format`` and its delimiter."""
    missing = [c for c in COORD_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"cannot write pairs without column '{missing[0]}'", path=path, field=missing[0])
    table = canonical_order(df)
    if format == "bedpe":
        return _to_bedpe(table), "\t"
    if format == "targetfinder":
        return _to_targetfinder(table), ","
    if format != "canonical":
        raise UsageError(f"cannot write pairs as {format!r}; use canonical, bedpe or targetfinder")
    return table, "\t"


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
