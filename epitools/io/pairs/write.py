"""Write canonical pairs tables as canonical TSV, BEDPE or TargetFinder CSV, atomically; as a
Parquet table (the same columns) when the output name ends in ``.parquet``."""

from __future__ import annotations

import logging
import os

import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_path
from epitools.io.pairs.columns import COORD_COLUMNS, canonical_order
from epitools.io.pairs.delimited import open_output, write_delimited, write_rows
from epitools.io.pairs.detect import is_parquet

log = logging.getLogger(__name__)
# rows per Parquet row group: a streamed read holds one group (~25 MB of Arrow buffers for
# the 21-column candidate table of bench/table_io.py)
PARQUET_ROW_GROUP = 2 ** 17


def write_pairs(df: pd.DataFrame, path, format: str = "canonical") -> None:
    """Write a canonical table atomically (gzip when ``path`` ends with ``.gz``).

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical table (as returned by :func:`read_pairs`).
    path : str or os.PathLike
        Output file; a name ending in ``.parquet`` writes a Parquet table with the columns
        the text layout would have (BEDPE's ``#chrom1`` named ``chrom1``).
    format : {"canonical", "bedpe", "targetfinder"}
        ``canonical``: tab-separated with header. ``bedpe``: a ``#chrom1 ...`` header line, then
        ``chrom1 start1 end1 chrom2 start2 end2 name score strand1 strand2`` and the remaining
        columns. ``targetfinder``: comma-separated TargetFinder layout with ``CELL|chrN:start-end``
        names.
    """
    table, sep = _layout(df, path, format)
    with atomic_path(path) as tmp:
        if is_parquet(path):
            import pyarrow.parquet as pq

            pq.write_table(_arrow_table(table, path), tmp, row_group_size=PARQUET_ROW_GROUP)
        else:
            # the bytes of table.to_csv(sep=sep, index=False), formatted a column at a time
            write_delimited(table, tmp, sep=sep, gzipped=os.fspath(path).endswith(".gz"))
    log.info("wrote %d pairs to %s", len(table), os.fspath(path))


def write_pairs_stream(frames, path, format: str = "canonical") -> int:
    """Write an iterable of canonical frames (same columns) as one table, atomically.

    Memory holds one frame; the output is what :func:`write_pairs` writes for their
    concatenation. Returns the number of rows written.
    """
    if is_parquet(path):
        return _write_parquet_stream(frames, path, format)
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


def _arrow_table(table: pd.DataFrame, path, schema=None):
    """``table`` as an Arrow table (no index), with ``schema`` when given; a column Arrow
    cannot type (mixed values in one ``object`` column) is an :class:`InputError`."""
    import pyarrow as pa

    # a table read here carries its file lines in attrs, which Parquet metadata cannot hold
    table = table.rename(columns={"#chrom1": "chrom1"}) if "#chrom1" in table.columns else table.copy(deep=False)
    table.attrs = {}
    try:
        return pa.Table.from_pandas(table, schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError) as err:
        raise InputError(f"cannot write this table as Parquet: {err}", path=path) from None


def _write_parquet_stream(frames, path, format: str) -> int:
    """:func:`write_pairs_stream` for a ``.parquet`` output: one row group (or more) per frame,
    every frame converted to the first one's schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, schema, writer = 0, None, None
    with atomic_path(path) as tmp:
        try:
            for frame in frames:
                table, _ = _layout(frame, path, format)
                if schema is None:
                    first = _arrow_table(table, path)
                    # a column missing throughout the first frame has no type yet: text is the
                    # only type a later frame's values of an object column can take
                    schema = pa.schema([field.with_type(pa.string()) if pa.types.is_null(field.type) else field
                                        for field in first.schema], metadata=first.schema.metadata)
                    writer = pq.ParquetWriter(tmp, schema)
                elif ["chrom1" if c == "#chrom1" else c for c in table.columns] != schema.names:
                    raise InputError(f"cannot append a part with columns {list(table.columns)} to a table "
                                     f"with columns {schema.names}", path=path)
                part = _arrow_table(table, path, schema=schema)
                writer.write_table(part, row_group_size=PARQUET_ROW_GROUP)
                rows += len(table)
            if writer is None:
                # no frames: a table of no rows with the coordinate columns, as the text
                # writer leaves an empty file
                empty = pd.DataFrame({c: pd.Series(dtype=object if c.endswith("_chrom") else "int64")
                                      for c in COORD_COLUMNS})
                pq.write_table(_arrow_table(_layout(empty, path, format)[0], path), tmp)
        finally:
            if writer is not None:
                writer.close()
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
