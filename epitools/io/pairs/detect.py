"""Which pairs format a file is, and the column layout to read it with."""

from __future__ import annotations

import os

from epitools.errors import InputError, UsageError
from epitools.io.pairs.columns import BEDPE_COLUMNS, BENGI_COLUMNS, COORD_COLUMNS, FORMATS
from epitools.io.pairs.text import (
    TableLayout,
    delimiter,
    is_int,
    is_label,
    sniff,
    split_fields,
    unique_names,
)

_BEDPE_ORDER = list(BEDPE_COLUMNS)


def _header_format(columns: list[str]) -> str | None:
    cols = set(columns)
    if ({"enhancer_seq", "promoter_seq"} <= cols) or ({"enhancer_frag_seq", "promoter_frag_seq"} <= cols):
        return "sequences"
    if {"enhancer_name", "promoter_name"} <= cols and not set(COORD_COLUMNS) <= cols:
        return "targetfinder"
    if {"enhancer_name", "promoter_name", "enhancer_distance_to_promoter"} <= cols:
        return "targetfinder"
    if set(COORD_COLUMNS) & cols:
        return "canonical"
    if {"chrom1", "start1", "end1", "chrom2", "start2", "end2"} <= cols:
        return "bedpe"
    if {"enhancer_name", "promoter_name"} <= cols:
        return "targetfinder"
    return None


def _headerless_format(fields: list[str]) -> str | None:
    if len(fields) >= 10 and is_label(fields[0]) and all(is_int(fields[i]) for i in (3, 4, 7, 8)):
        return "bengi"
    if len(fields) >= 6 and all(is_int(fields[i]) for i in (1, 2, 4, 5)) and not is_int(fields[0]):
        return "bedpe"
    if len(fields) >= 4 and is_label(fields[0]) and not is_int(fields[1]) and is_int(fields[2]) \
            and is_int(fields[3]):
        return "windows"
    if len(fields) >= 3 and not is_int(fields[0]) and is_int(fields[1]) and is_int(fields[2]):
        return "windows"
    return None


def is_parquet(path) -> bool:
    """Whether ``path`` names a Parquet table (by its ``.parquet`` suffix, any case)."""
    return os.fspath(path).lower().endswith(".parquet")


def parquet_names(path) -> list[str]:
    """Column names of the Parquet table ``path``; an unreadable file is an :class:`InputError`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError("file not found", path=path)
    try:
        names = list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError) as err:
        raise InputError(f"not a readable Parquet table ({err})", path=path) from None
    return unique_names(names, path, None)


def _comment_fields(comment: str) -> list[str]:
    return split_fields(comment.lstrip("#"), delimiter(comment))


def detect_format(path) -> str:
    """Name of the pairs format of ``path``, one of :data:`FORMATS`.

    Raises
    ------
    InputError
        When no known layout matches the header or first data line.
    """
    if is_parquet(path):
        fmt = _header_format(parquet_names(path))
        if fmt is None:
            raise InputError("cannot detect the pairs format of a Parquet table (expected canonical, "
                             "BEDPE, TargetFinder or inline-sequence column names); pass format= one of "
                             f"{', '.join(FORMATS)}", path=path)
        return fmt
    comments, lines, skip = sniff(path)
    first = lines[0]
    sep = delimiter(first)
    fmt = _header_format(split_fields(first, sep))
    if fmt is None and comments:
        fmt = _header_format(_comment_fields(comments[-1]))
    if fmt is None:
        fmt = _headerless_format(split_fields(first, sep))
    if fmt is None:
        raise InputError(
            "cannot detect the pairs format (expected a canonical header, BEDPE, TargetFinder, "
            f"BENGI, window BED or inline-sequence table); pass format= one of {', '.join(FORMATS)}",
            path=path, line=skip + 1)
    return fmt


def resolve_format(path, format: str, promoter_bed) -> str:
    """``format`` checked against :data:`FORMATS`, or detected from ``path`` when ``"auto"``."""
    if format == "auto":
        return "windows" if promoter_bed is not None else detect_format(path)
    if format not in FORMATS:
        raise UsageError(f"unknown pairs format {format!r}; choose auto or one of {', '.join(FORMATS)}")
    return format


def table_layout(path, fmt: str) -> TableLayout:
    """Delimiter, column names and leading lines of a single-file table of format ``fmt``.

    A Parquet table has no delimiter (``sep=""``) and no leading lines (``skip=0``).
    """
    if is_parquet(path):
        if fmt == "windows":
            raise UsageError("window-BED pairs cannot be read from a Parquet table")
        names = parquet_names(path)
        missing = [name for name in BENGI_COLUMNS if name not in names] if fmt == "bengi" else []
        if missing:
            raise InputError(f"missing required column '{missing[0]}' (a BENGI table as Parquet needs "
                             f"the columns {', '.join(BENGI_COLUMNS)})", path=path, field=missing[0])
        return TableLayout(path, "", names, 0)
    comments, lines, skip = sniff(path)
    first = lines[0]
    sep = delimiter(first)
    fields = split_fields(first, sep)
    if fmt in ("canonical", "targetfinder", "sequences"):
        return TableLayout(path, sep, unique_names(fields, path, skip + 1), skip + 1)
    if fmt == "bedpe":
        if {"chrom1", "start1"} <= set(fields):
            return TableLayout(path, sep, unique_names(fields, path, skip + 1), skip + 1)
        names = _BEDPE_ORDER[: len(fields)] + [f"column_{i + 1}" for i in range(10, len(fields))]
        if comments:
            named = _comment_fields(comments[-1])
            if len(named) == len(fields) and {"chrom1", "start1"} <= set(named):
                names = unique_names(named, path, skip)
        return TableLayout(path, sep, names, skip)
    if fmt == "bengi":
        if len(fields) < len(BENGI_COLUMNS):
            raise InputError(f"BENGI tables have {len(BENGI_COLUMNS)} columns, found {len(fields)}",
                             path=path, line=skip + 1)
        names = list(BENGI_COLUMNS) + [f"column_{i + 1}" for i in range(10, len(fields))]
        return TableLayout(path, sep, names, skip)
    raise UsageError(f"format {fmt!r} is not read through this path")
