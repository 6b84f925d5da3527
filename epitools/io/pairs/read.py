"""Read pairs tables of every supported single-file layout into canonical, validated chunks.

Canonical tables, BEDPE, TargetFinder (pair names or ``pairs.csv``), BENGI / TransEPI /
Hi-C-loop headerless tables and inline-sequence tables are read here, as text (plain or gzip)
or as Parquet tables (``.parquet``, the same column names; read a row group at a time when
streamed); window-BED pairs are routed to :mod:`epitools.io.pairs.windows`.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.io.pairs.columns import BEDPE_COLUMNS, COORD_COLUMNS, SIDES
from epitools.io.pairs.detect import is_parquet, resolve_format, table_layout
from epitools.io.pairs.text import (
    WHOLE_TABLE,
    TableLayout,
    as_objects,
    concat_chunks,
    read_raw_chunks,
    text_columns,
)
from epitools.io.pairs.validate import PairValidator
from epitools.io.pairs.windows import iter_window_chunks

log = logging.getLogger(__name__)

# "CELL|chr1:100-200" or "chr1:100-200"; BENGI names put the cell after the region.
_NAME_RE = r"^(?:(?P<cell>[^|:]+)\|)?(?P<chrom>[^|:\s]+):(?P<start>\d+)-(?P<end>\d+)$"
_BENGI_NAME_RE = r"^(?P<chrom>[^|:\s]+):(?P<start>\d+)-(?P<end>\d+)(?:\|(?P<cell>[^|]*))?"
_ALIASES = {
    "enhancer_distance_to_promoter": "distance",
    "enhancer_frag_seq": "enhancer_seq",
    "promoter_frag_seq": "promoter_seq",
}
# Columns read as text so that names and ids keep their spelling ("1" stays a chromosome name,
# "007" a pair id). Numeric columns are parsed by the C reader; the validator checks any that
# did not parse as integers and names the line.
_STR_COLUMNS = frozenset({
    "enhancer_chrom", "promoter_chrom", "pair_id", "cell_type", "gene", "enhancer_name",
    "promoter_name", "enhancer_frag_name", "promoter_frag_name", "name", "chrom1", "chrom2",
})


def _as_text(values: pd.Series) -> pd.Series:
    """Strings with missing values as "" (plain ``str`` ops on pandas 2 and 3)."""
    return values.astype(object).where(values.notna(), "").astype(str)


def _parse_names(names: pd.Series, pattern: str = _NAME_RE) -> pd.DataFrame:
    return _as_text(names).str.strip().str.extract(pattern)


def _coords_from_names(df: pd.DataFrame, side: str, path) -> pd.DataFrame:
    """Fill ``{side}_chrom/start/end`` (and cell type) from the (fragment) name column."""
    for column in (f"{side}_frag_name", f"{side}_name"):
        if column in df.columns:
            break
    else:
        raise InputError(
            f"missing required column '{side}_chrom' (no coordinate columns and no "
            f"'{side}_name' to take coordinates from)", path=path, line=None, field=f"{side}_chrom")
    parsed = _parse_names(df[column])
    bad = parsed["chrom"].isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        value = df[column].iloc[row]
        raise InputError(f"cannot read coordinates from name {value!r} (expected CELL|chrN:start-end)",
                         path=path, line=int(df["_line"].iloc[row]), field=column)
    df[f"{side}_chrom"] = parsed["chrom"].astype(object)
    df[f"{side}_start"] = parsed["start"].astype(object)
    df[f"{side}_end"] = parsed["end"].astype(object)
    return df


def _normalise_named(df: pd.DataFrame, fmt: str, path, header_line: int) -> pd.DataFrame:
    """Canonical, TargetFinder and inline-sequence tables (all have a header)."""
    df = df.rename(columns={k: v for k, v in _ALIASES.items() if k in df.columns and v not in df.columns})
    for side in SIDES:
        have = [c for c in COORD_COLUMNS if c.startswith(side) and c in df.columns]
        if len(have) == 3:
            continue
        if have or fmt == "canonical":
            missing = next(c for c in COORD_COLUMNS if c.startswith(side) and c not in df.columns)
            raise InputError(f"missing required column '{missing}'", path=path, line=header_line,
                             field=missing)
        _coords_from_names(df, side, path)
    if fmt == "sequences":
        for side in SIDES:
            if f"{side}_seq" not in df.columns:
                raise InputError(f"missing required column '{side}_seq'", path=path,
                                 line=header_line, field=f"{side}_seq")
        if "label" not in df.columns:
            match = re.search(r"_([01])_", Path(path).name)
            if match:
                df["label"] = match.group(1)
    if "cell_type" not in df.columns:
        # TargetFinder and gcn4epi names carry the cell: "K562|chr1:6454864-6455189".
        for column in ("enhancer_frag_name", "enhancer_name"):
            if column in df.columns:
                cell = _parse_names(df[column])["cell"]
                if cell.notna().any():
                    df["cell_type"] = cell.astype(object)
                break
    return df


def _normalise_bengi(df: pd.DataFrame) -> pd.DataFrame:
    for side in SIDES:
        start = pd.to_numeric(df[f"{side}_start"], errors="coerce")
        end = pd.to_numeric(df[f"{side}_end"], errors="coerce")
        # Hi-C-loop tables write point anchors as start == end; their names give [end-1, end).
        point = ((start == end) & (end >= 1) & (end < 2 ** 63)).to_numpy()
        if point.any():
            column = df[f"{side}_start"].astype(object)
            column[point] = (end[point] - 1).astype(np.int64).astype(str).to_numpy()
            df[f"{side}_start"] = column
    enhancer = _parse_names(df["enhancer_name"], _BENGI_NAME_RE)
    if enhancer["cell"].notna().any():
        df["cell_type"] = enhancer["cell"].replace("", np.nan).astype(object)
    promoter_names = _as_text(df["promoter_name"])
    gene = promoter_names.str.extract(r"\|(ENSG\d+(?:\.\d+)?)(?:\||$)")[0]
    symbol = promoter_names.str.extract(r"\|ENST\d+(?:\.\d+)?\|([^|=]+)(?:\||$)")[0]
    gene = gene.fillna(symbol)
    if gene.notna().any():
        df["gene"] = gene.astype(object)
        promoter = _parse_names(df["promoter_name"], _BENGI_NAME_RE)
        # The TSS is the promoter name's position only where the name is a transcript's.
        df["tss"] = promoter["start"].where(gene.notna()).astype(object)
    return df


def _normalise_bedpe(df: pd.DataFrame) -> pd.DataFrame:
    df = df.rename(columns={k: v for k, v in BEDPE_COLUMNS.items() if k in df.columns})
    for column in ("pair_id", "score", "enhancer_strand", "promoter_strand"):
        if column in df.columns:
            dot = _as_text(df[column]).str.strip().eq(".").to_numpy()
            if dot.any():
                df[column] = df[column].astype(object).mask(dot)
            if df[column].isna().all():
                df = df.drop(columns=column)
    return df


def _normalise(raw: pd.DataFrame, fmt: str, layout: TableLayout) -> pd.DataFrame:
    if fmt == "bengi":
        return _normalise_bengi(raw)
    if fmt == "bedpe":
        return _normalise_bedpe(raw)
    # a Parquet table's column names are in its schema, not on a line
    header_line = None if is_parquet(layout.path) else layout.skip
    return _normalise_named(raw, fmt, layout.path, header_line=header_line)


_PARQUET_ROWS = "the line of a Parquet table is its 1-based row number"


def _arrow_values(values, text: bool):
    """One Arrow column as the text reader would give it: strings as ``object`` (missing as
    NaN), integers with nulls as float64, nulls as NaN; shape (n,)."""
    import pyarrow as pa

    kind = values.type
    if pa.types.is_dictionary(kind) and _is_arrow_text(kind.value_type):
        # each distinct string becomes one Python object per chunk (row group), taken by the codes
        out = np.empty(len(values), dtype=object)
        at = 0
        for chunk in getattr(values, "chunks", [values]):
            part = out[at:at + len(chunk)]
            at += len(chunk)
            if not len(chunk.dictionary):
                part[:] = np.nan  # missing throughout
            elif 2 * len(chunk.dictionary) > len(chunk):
                # distinct ids: decoding them directly skips building words no row shares
                part[:] = chunk.dictionary_decode().to_numpy(zero_copy_only=False)
            else:
                np.take(chunk.dictionary.to_numpy(zero_copy_only=False),
                        chunk.indices.fill_null(0).to_numpy(), out=part)
            if chunk.null_count:
                part[chunk.is_null().to_numpy(zero_copy_only=False)] = np.nan
        return out
    if pa.types.is_dictionary(kind):
        values = values.cast(kind.value_type)
        kind = kind.value_type
    if pa.types.is_null(kind):
        return np.full(len(values), np.nan, dtype=object if text else np.float64)
    if _is_arrow_text(kind):
        out = as_objects(values.to_pandas())
    else:
        out = values.to_pandas().to_numpy()
    if out.dtype == object and values.null_count:
        # Arrow's nulls come back as None; the text reader's missing values are NaN
        out = out.copy()
        out[pd.isna(out)] = np.nan
    return out


def _is_arrow_text(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _parquet_chunks(layout: TableLayout, chunksize: int, str_columns) -> Iterator[pd.DataFrame]:
    """Raw chunks of a Parquet table with a ``_line`` column (the 1-based row number).

    A whole-table read (``chunksize >= WHOLE_TABLE``) reads every row group at once, converting
    and releasing one column at a time; a streamed read goes by row group
    (``ParquetFile.iter_batches``), so memory holds one row group and one chunk.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = 1
    try:
        schema = pq.read_schema(layout.path)
        # text read as dictionaries: 2-4x faster to decode (Parquet stores them so), and the
        # codes give one Python object per distinct string
        text = [field.name for field in schema if _is_arrow_text(field.type)]
        source = pq.ParquetFile(layout.path, read_dictionary=text)
        if chunksize >= WHOLE_TABLE:
            parts = iter([source.read(columns=layout.names, use_threads=True)])
        else:
            parts = source.iter_batches(batch_size=chunksize, columns=layout.names, use_threads=True)
        for part in parts:
            columns = {}
            for name in layout.names:
                if isinstance(part, pa.Table):
                    # release each Arrow column once converted, so the Arrow and pandas
                    # copies of the table never coexist in full
                    columns[name] = _arrow_values(part.column(0), name in str_columns)
                    part = part.remove_column(0)
                else:
                    columns[name] = _arrow_values(part.column(name), name in str_columns)
            # dtype object kept explicitly: pandas 3 would infer its str dtype from the strings
            raw = pd.DataFrame({name: pd.Series(values, dtype=values.dtype, copy=False)
                                for name, values in columns.items()}, copy=False)
            raw.insert(0, "_line", np.arange(first, first + len(raw), dtype=np.int64))
            first += len(raw)
            if len(raw):
                yield raw
    except (pa.ArrowException, OSError) as err:
        raise InputError(f"cannot read Parquet table near row {first} ({err})", path=layout.path) from None


def _naming_rows(chunks: Iterator[pd.DataFrame], path) -> Iterator[pd.DataFrame]:
    """``chunks`` unchanged; an :class:`InputError` with a line says that it is a Parquet row."""
    try:
        yield from chunks
    except InputError as err:
        if err.line is None or err.path != os.fspath(path):
            raise
        raise InputError(f"{err.message} ({_PARQUET_ROWS})", path=err.path, line=err.line,
                         field=err.field) from None


def iter_pairs(path, chunksize: int = 100_000, format: str = "auto", cell_type: str | None = None,
               promoter_bed=None, labels=None) -> Iterator[pd.DataFrame]:
    """Stream a pairs table as validated canonical chunks.

    Parameters
    ----------
    path : str or os.PathLike
        Pairs table (plain or gzip text, or Parquet when the name ends in ``.parquet``), or the
        enhancer window BED when ``promoter_bed`` is given.
    chunksize : int
        Rows per chunk; memory is bounded by the chunk (and, for Parquet, one row group) plus
        24 bytes per pair for the duplicate-``pair_id`` check.
    format : str
        ``"auto"`` or one of :data:`FORMATS`.
    cell_type : str, optional
        Fills ``cell_type`` where the source has none; a different source value is an error.
    promoter_bed, labels : str or os.PathLike, optional
        Route to the window-BED reader (see :func:`read_window_pairs`).

    Yields
    ------
    pandas.DataFrame
        Canonical chunks; the index is the 0-based data-row number in the whole input.
    """
    if chunksize < 1:
        raise UsageError(f"chunksize must be >= 1, got {chunksize}")
    fmt = resolve_format(path, format, promoter_bed)
    if fmt == "windows":
        if promoter_bed is None:
            raise UsageError(f"{os.fspath(path)} is a window BED; give promoter_bed= (and labels=)")
        yield from iter_window_chunks(path, promoter_bed, labels, chunksize, cell_type, one_based=True)
        return
    if labels is not None:
        raise UsageError("labels= is only used with window BEDs (promoter_bed=)")
    layout = table_layout(path, fmt)
    if is_parquet(path):
        yield from _naming_rows(_iter_layout(layout, fmt, chunksize, cell_type), path)
    else:
        yield from _iter_layout(layout, fmt, chunksize, cell_type)


def _iter_layout(layout: TableLayout, fmt: str, chunksize: int, cell_type) -> Iterator[pd.DataFrame]:
    """Validated canonical chunks of a single-file table (text or Parquet)."""
    parquet = is_parquet(layout.path)
    str_columns = set(layout.names) & _STR_COLUMNS
    if not parquet:
        str_columns |= text_columns(layout)
    validate = PairValidator(layout.path, cell_type=cell_type)
    empty = True
    coordinates = {f"{side}_{end}" for side in ("enhancer", "promoter") for end in ("start", "end")}
    int_columns = {name for name in layout.names if BEDPE_COLUMNS.get(name, name) in coordinates} - str_columns
    if parquet:
        chunks = _parquet_chunks(layout, chunksize, str_columns)
    else:
        chunks = read_raw_chunks(layout, chunksize, str_columns, int_columns)
    for raw in chunks:
        empty = False
        yield validate(_normalise(raw, fmt, layout))
    if empty:
        # A header-only table still has its columns checked; it yields one empty chunk.
        raw = pd.DataFrame({name: pd.Series(dtype=object) for name in ["_line", *layout.names]})
        yield validate(_normalise(raw, fmt, layout))


def read_pairs(path, format: str = "auto", cell_type: str | None = None, promoter_bed=None,
               labels=None) -> pd.DataFrame:
    """Read any supported pairs table into the canonical table.

    Parameters
    ----------
    path : str or os.PathLike
        Pairs table (plain or gzip text, or Parquet when the name ends in ``.parquet``), or the
        enhancer window BED when ``promoter_bed`` is given.
    format : str
        ``"auto"`` (detect) or one of :data:`FORMATS`.
    cell_type : str, optional
        Fills ``cell_type`` where the source has none.
    promoter_bed, labels : optional
        Window-BED inputs, see :func:`read_window_pairs`.

    Returns
    -------
    pandas.DataFrame
        (N, ...) canonical table with a 0..N-1 index.

    Raises
    ------
    InputError
        Naming the file, the 1-based line (for Parquet the 1-based row number, as the message
        says) and the field of the first bad value.
    """
    # one chunk: no concatenation copy and no cross-chunk id lookups (the C parser still
    # works through the file in its own blocks)
    table = concat_chunks(iter_pairs(path, chunksize=WHOLE_TABLE, format=format, cell_type=cell_type,
                                     promoter_bed=promoter_bed, labels=labels))
    log.info("read %d pairs from %s", len(table), os.fspath(path))
    return table
