"""Enhancer–promoter pair tables: read every published layout into one canonical table.

The canonical table has one row per pair and the columns

``enhancer_chrom enhancer_start enhancer_end promoter_chrom promoter_start promoter_end``
    0-based, half-open coordinates (int64),
``pair_id``
    always present (str),

then, when the source has them, ``label`` (int64, 0/1), ``cell_type``, ``gene``, ``tss``,
``distance`` (always present: kept from the source or computed), ``enhancer_seq`` and
``promoter_seq`` (upper case), and any other source column unchanged.

Formats (``format=``; ``"auto"`` detects from the header, columns and file name):

``canonical``
    tab- or comma-separated table with a header naming the six coordinate columns.
``bedpe``
    ``chrom1 start1 end1 chrom2 start2 end2 [name score strand1 strand2 ...]``; side 1 is the
    enhancer, ``name`` becomes ``pair_id``. A ``#chrom1 ...`` header line names extra columns.
``targetfinder``
    TargetFinder ``pairs.csv`` (``enhancer_name``, ``promoter_name``, optional coordinate
    columns, ``enhancer_distance_to_promoter``, ``label``, ``window_*`` ...) or the 3-column
    name table ``enhancer_name,promoter_name,label``; names are ``CELL|chrN:start-end``.
``bengi``
    headerless BENGI / TransEPI / Hi-C-loop tables: label, distance, enhancer chrom/start/end/name,
    promoter chrom/start/end/name. Zero-length anchors (``start == end``, as the Hi-C-loop files
    write them) are read as the 1-bp interval ``[end - 1, end)`` their name gives. ``cell_type``
    comes from the names (``chr:start-end|CELL|...``); ``gene`` (the ENSG id, else the symbol
    after an ENST id) and ``tss`` (the name's position) from transcript promoter names.
``sequences``
    tables with inline sequences (``enhancer_seq``/``promoter_seq`` or the gcn4epi
    ``*_frag_seq`` columns); coordinates come from the coordinate columns or else from the
    fragment names (``*_frag_name``), else the element names; without a ``label`` column the
    label is taken from the file name (``_1_`` interacting, ``_0_`` not).
``windows``
    an enhancer window BED and a promoter window BED in the same row order plus an optional
    labels file (one 0/1 per line); see :func:`read_window_pairs`.

``pair_id`` when the source has none: ``"{enhancer_chrom}:{enhancer_start}-{enhancer_end}|"
"{promoter_chrom}:{promoter_start}-{promoter_end}"`` (canonical coordinates); the k-th repeat
(k >= 2) of the same coordinates in one file gets the suffix ``#k``, so ids are unique, stable
and independent of the chunk size.

Every error in the input raises :class:`~epitools.errors.InputError` naming the file, the
1-based line in that file (header included) and the field.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_path

log = logging.getLogger(__name__)

COORD_COLUMNS = (
    "enhancer_chrom", "enhancer_start", "enhancer_end",
    "promoter_chrom", "promoter_start", "promoter_end",
)
OPTIONAL_COLUMNS = ("label", "cell_type", "gene", "tss", "distance", "enhancer_seq", "promoter_seq")
FORMATS = ("canonical", "bedpe", "targetfinder", "bengi", "windows", "sequences")

_SIDES = ("enhancer", "promoter")
_NA_VALUES = ["", "NA", "NaN", "nan", "N/A", "null", "None"]
_LABEL_VALUES = {"0", "1"}
# "CELL|chr1:100-200" or "chr1:100-200"; BENGI names put the cell after the region.
_NAME_RE = r"^(?:(?P<cell>[^|:]+)\|)?(?P<chrom>[^|:\s]+):(?P<start>\d+)-(?P<end>\d+)$"
_BENGI_NAME_RE = r"^(?P<chrom>[^|:\s]+):(?P<start>\d+)-(?P<end>\d+)(?:\|(?P<cell>[^|]*))?"
_BENGI_COLUMNS = [
    "label", "distance",
    "enhancer_chrom", "enhancer_start", "enhancer_end", "enhancer_name",
    "promoter_chrom", "promoter_start", "promoter_end", "promoter_name",
]
_BEDPE_COLUMNS = {
    "chrom1": "enhancer_chrom", "start1": "enhancer_start", "end1": "enhancer_end",
    "chrom2": "promoter_chrom", "start2": "promoter_start", "end2": "promoter_end",
    "name": "pair_id", "score": "score", "strand1": "enhancer_strand", "strand2": "promoter_strand",
}
_BEDPE_ORDER = list(_BEDPE_COLUMNS)
_ALIASES = {
    "enhancer_distance_to_promoter": "distance",
    "enhancer_frag_seq": "enhancer_seq",
    "promoter_frag_seq": "promoter_seq",
}
_READ_CHUNK = 1_000_000


# --------------------------------------------------------------------------- file access

def _is_gzip(path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open_text(path):
    """Open plain or gzip/bgzip text by content, not by extension."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError("file not found", path=path)
    if _is_gzip(path):
        return gzip.open(path, "rt", newline="")
    return open(path, "r", newline="")


def _is_int(text: str) -> bool:
    return re.fullmatch(r"\s*\d+\s*", text) is not None


def _is_label(text: str) -> bool:
    return text.strip() in _LABEL_VALUES


class _Layout:
    """How to read one file: delimiter, column names and how many lines precede the data."""

    def __init__(self, path, sep: str, names: list[str], skip: int, header: bool):
        self.path = os.fspath(path)
        self.sep = sep
        self.names = names
        self.skip = skip
        self.header = header


def _sniff(path, max_lines: int = 5) -> tuple[list[str], list[str], int]:
    """Return (leading comment lines, first data-ish lines, number of leading comment/blank lines)."""
    comments: list[str] = []
    lines: list[str] = []
    skip = 0
    with _open_text(path) as fh:
        for raw in fh:
            line = raw.rstrip("\r\n")
            if not lines and (not line.strip() or line.startswith(("#", "track ", "browser "))):
                skip += 1
                if line.startswith("#"):
                    comments.append(line)
                continue
            lines.append(line)
            if len(lines) >= max_lines:
                break
    if not lines:
        raise InputError("no data rows", path=path, line=skip + 1)
    return comments, lines, skip


def _delimiter(line: str) -> str:
    if "\t" in line:
        return "\t"
    if "," in line:
        return ","
    return "\t"


def _split(line: str, sep: str) -> list[str]:
    return [field.strip().strip('"') for field in line.split(sep)]


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
    if len(fields) >= 10 and _is_label(fields[0]) and all(_is_int(fields[i]) for i in (3, 4, 7, 8)):
        return "bengi"
    if len(fields) >= 6 and all(_is_int(fields[i]) for i in (1, 2, 4, 5)) and not _is_int(fields[0]):
        return "bedpe"
    if len(fields) >= 4 and _is_label(fields[0]) and not _is_int(fields[1]) and _is_int(fields[2]) \
            and _is_int(fields[3]):
        return "windows"
    if len(fields) >= 3 and not _is_int(fields[0]) and _is_int(fields[1]) and _is_int(fields[2]):
        return "windows"
    return None


def detect_format(path) -> str:
    """Name of the pairs format of ``path``, one of :data:`FORMATS`.

    Raises
    ------
    InputError
        When no known layout matches the header or first data line.
    """
    comments, lines, skip = _sniff(path)
    first = lines[0]
    sep = _delimiter(first)
    fmt = _header_format(_split(first, sep))
    if fmt is None and comments:
        fmt = _header_format(_split(comments[-1].lstrip("#"), _delimiter(comments[-1])))
    if fmt is None:
        fmt = _headerless_format(_split(first, sep))
    if fmt is None:
        raise InputError(
            "cannot detect the pairs format (expected a canonical header, BEDPE, TargetFinder, "
            f"BENGI, window BED or inline-sequence table); pass format= one of {', '.join(FORMATS)}",
            path=path, line=skip + 1)
    return fmt


def _layout(path, fmt: str) -> _Layout:
    comments, lines, skip = _sniff(path)
    first = lines[0]
    sep = _delimiter(first)
    fields = _split(first, sep)
    if fmt in ("canonical", "targetfinder", "sequences"):
        return _Layout(path, sep, _unique_names(fields, path, skip + 1), skip + 1, header=True)
    if fmt == "bedpe":
        if {"chrom1", "start1"} <= set(fields):
            return _Layout(path, sep, _unique_names(fields, path, skip + 1), skip + 1, header=True)
        names = _BEDPE_ORDER[: len(fields)] + [f"column_{i + 1}" for i in range(10, len(fields))]
        if comments:
            named = _split(comments[-1].lstrip("#"), _delimiter(comments[-1]))
            if len(named) == len(fields) and {"chrom1", "start1"} <= set(named):
                names = _unique_names(named, path, skip)
        return _Layout(path, sep, names, skip, header=False)
    if fmt == "bengi":
        if len(fields) < len(_BENGI_COLUMNS):
            raise InputError(f"BENGI tables have {len(_BENGI_COLUMNS)} columns, found {len(fields)}",
                             path=path, line=skip + 1)
        names = _BENGI_COLUMNS + [f"column_{i + 1}" for i in range(10, len(fields))]
        return _Layout(path, sep, names, skip, header=False)
    raise UsageError(f"format {fmt!r} is not read through this path")


def _unique_names(names: list[str], path, line: int) -> list[str]:
    seen = set()
    for name in names:
        if name in seen:
            raise InputError("duplicate column name in header", path=path, line=line, field=name)
        seen.add(name)
    return names


def _read_chunks(layout: _Layout, chunksize: int, str_columns=()) -> Iterator[pd.DataFrame]:
    """Yield raw string-typed chunks of ``layout`` with a ``_line`` column (1-based file line).

    Blank lines are read (so line numbers stay exact) and dropped afterwards.
    """
    dtype = {name: str for name in layout.names if name in set(str_columns)}
    fh = _open_text(layout.path)
    try:
        for _ in range(layout.skip):
            fh.readline()
        reader = pd.read_csv(
            fh, sep=layout.sep, header=None, names=layout.names, dtype=dtype,
            chunksize=chunksize, skip_blank_lines=False, keep_default_na=False,
            na_values=_NA_VALUES, comment=None, quotechar='"', index_col=False,
        )
        first_line = layout.skip + 1
        while True:
            try:
                chunk = next(reader)
            except StopIteration:
                break
            except (pd.errors.ParserError, ValueError) as err:
                raise InputError(_parser_message(err, layout.skip), path=layout.path,
                                 line=_parser_line(err, layout.skip)) from None
            chunk.insert(0, "_line", np.arange(first_line, first_line + len(chunk), dtype=np.int64))
            first_line += len(chunk)
            blank = chunk[layout.names].isna().all(axis=1)
            if blank.any():
                chunk = chunk.loc[~blank]
            if len(chunk):
                yield chunk.reset_index(drop=True)
    finally:
        fh.close()


def _parser_line(err: Exception, skip: int) -> int | None:
    match = re.search(r"line (\d+)", str(err))
    return int(match.group(1)) + skip if match else None


def _parser_message(err: Exception, skip: int) -> str:
    text = str(err).strip()
    match = re.search(r"Expected (\d+) fields in line \d+, saw (\d+)", text)
    if match:
        return f"expected {match.group(1)} fields, found {match.group(2)}"
    return f"cannot parse table: {text}"


# --------------------------------------------------------------------------- normalisers

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
    for side in _SIDES:
        have = [c for c in COORD_COLUMNS if c.startswith(side) and c in df.columns]
        if len(have) == 3:
            continue
        if have or fmt == "canonical":
            missing = next(c for c in COORD_COLUMNS if c.startswith(side) and c not in df.columns)
            raise InputError(f"missing required column '{missing}'", path=path, line=header_line,
                             field=missing)
        _coords_from_names(df, side, path)
    if fmt == "sequences":
        for side in _SIDES:
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
    for side in _SIDES:
        start = pd.to_numeric(df[f"{side}_start"], errors="coerce")
        end = pd.to_numeric(df[f"{side}_end"], errors="coerce")
        # Hi-C-loop tables write point anchors as start == end; their names give [end-1, end).
        point = ((start == end) & (end >= 1)).to_numpy()
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
    df = df.rename(columns={k: v for k, v in _BEDPE_COLUMNS.items() if k in df.columns})
    for column in ("pair_id", "score", "enhancer_strand", "promoter_strand"):
        if column in df.columns:
            dot = _as_text(df[column]).str.strip().eq(".").to_numpy()
            if dot.any():
                df[column] = df[column].astype(object).mask(dot)
            if df[column].isna().all():
                df = df.drop(columns=column)
    return df


# --------------------------------------------------------------------------- validation

class _SeenIds:
    """64-bit hashes of the ids seen so far, kept in sorted blocks merged geometrically.

    Memory is 24 bytes per distinct id and each lookup is O(log n) per block, so duplicate
    detection across chunks costs O(n log n) overall.
    """

    def __init__(self):
        self._blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    @staticmethod
    def hash(ids: pd.Series) -> np.ndarray:
        return pd.util.hash_array(ids.to_numpy(dtype=object))

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Occurrences so far and first line of each key (-1 when unseen)."""
        count = np.zeros(len(keys), dtype=np.int64)
        first = np.full(len(keys), -1, dtype=np.int64)
        for block_keys, block_count, block_first in self._blocks:
            pos = np.minimum(np.searchsorted(block_keys, keys), len(block_keys) - 1)
            hit = block_keys[pos] == keys
            count[hit] += block_count[pos[hit]]
            take = hit & ((first < 0) | (block_first[pos] < first))
            first[take] = block_first[pos[take]]
        return count, first

    def add(self, keys: np.ndarray, lines: np.ndarray, counts: np.ndarray | None = None) -> None:
        if counts is None:
            counts = np.ones(len(keys), dtype=np.int64)
        self._blocks.append(self._reduce(keys, counts, lines))
        while len(self._blocks) > 1 and len(self._blocks[-2][0]) <= 2 * len(self._blocks[-1][0]):
            (k1, c1, f1), (k2, c2, f2) = self._blocks[-2], self._blocks[-1]
            self._blocks[-2:] = [self._reduce(np.concatenate([k1, k2]), np.concatenate([c1, c2]),
                                              np.concatenate([f1, f2]))]

    @staticmethod
    def _reduce(keys, counts, lines):
        uniq, inverse = np.unique(keys, return_inverse=True)
        total = np.bincount(inverse, weights=counts, minlength=len(uniq)).astype(np.int64)
        first = np.full(len(uniq), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, inverse, lines)
        return uniq, total, first


class _Validator:
    """Type, check and complete canonical chunks; keeps state across chunks of one file.

    ``sources`` maps a column prefix ("enhancer", "promoter", "label") to ``(path, line_delta)``
    so that errors in multi-file inputs name the right file and line.
    """

    def __init__(self, path, cell_type: str | None = None, sources: dict | None = None):
        self.path = os.fspath(path)
        self.cell_type = cell_type
        self.sources = sources or {}
        self.rows = 0
        self.seen = _SeenIds()
        self.generated_ids: bool | None = None

    # -- error reporting
    def _where(self, field: str, line: int):
        for prefix, (path, delta) in self.sources.items():
            if field.startswith(prefix):
                return path, line + delta
        return self.path, line

    def fail(self, df: pd.DataFrame, mask, field: str, message: str):
        row = int(np.flatnonzero(np.asarray(mask))[0])
        path, line = self._where(field, int(df["_line"].iloc[row]))
        value = df[field].iloc[row] if field in df.columns else None
        detail = f" (value {value!r})" if value is not None and not _isna(value) else ""
        raise InputError(f"{message}{detail}", path=path, line=line, field=field)

    def _missing(self, df, field, what="missing value"):
        missing = df[field].isna().to_numpy()
        if missing.any():
            self.fail(df, missing, field, what)

    def _integers(self, df, field, allow_missing=False) -> pd.Series:
        text = df[field]
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & (text.notna() | (not allow_missing))
        bad |= values.notna() & ((values % 1) != 0)
        if bad.any():
            self.fail(df, bad, field, "not an integer")
        negative = values < 0
        if negative.any():
            self.fail(df, negative, field, "negative coordinate")
        if allow_missing and values.isna().any():
            return values.astype("Int64")
        return values.astype(np.int64)

    # -- the checks
    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        for field in COORD_COLUMNS:
            if field not in df.columns:
                raise InputError(f"missing required column '{field}'", path=self._where(field, 1)[0],
                                 field=field)
            self._missing(df, field)
        for side in _SIDES:
            chrom = f"{side}_chrom"
            df[chrom] = df[chrom].astype(str).str.strip().astype(object)
            empty = (df[chrom] == "").to_numpy()
            if empty.any():
                self.fail(df, empty, chrom, "missing value")
            start = self._integers(df, f"{side}_start")
            end = self._integers(df, f"{side}_end")
            bad = (start >= end).to_numpy()
            if bad.any():
                self.fail(df, bad, f"{side}_start", f"start >= end ({side}_end "
                          f"{int(end.iloc[int(np.flatnonzero(bad)[0])])})")
            df[f"{side}_start"], df[f"{side}_end"] = start, end
        apart = (df["enhancer_chrom"] != df["promoter_chrom"]).to_numpy()
        if apart.any():
            row = int(np.flatnonzero(apart)[0])
            self.fail(df, apart, "promoter_chrom",
                      f"promoter on a different chromosome than its enhancer "
                      f"({df['enhancer_chrom'].iloc[row]})")
        if "label" in df.columns:
            self._missing(df, "label", "missing label")
            labels = pd.to_numeric(df["label"], errors="coerce")
            bad = ~labels.isin([0, 1])
            if bad.any():
                self.fail(df, bad.to_numpy(), "label", "label must be 0 or 1")
            df["label"] = labels.astype(np.int64)
        for side in _SIDES:
            column = f"{side}_seq"
            if column in df.columns:
                self._missing(df, column, "missing sequence")
                seq = df[column].astype(str).str.strip().str.upper()
                bad = seq.str.contains(r"[^ACGTN]", regex=True) | (seq == "")
                if bad.any():
                    self.fail(df, bad.to_numpy(), column, "sequence has characters other than ACGTN")
                df[column] = seq.astype(object)
        self._cell_type(df)
        for column in ("cell_type", "gene"):
            if column in df.columns:
                df[column] = df[column].astype(object)
        if "tss" in df.columns:
            df["tss"] = self._integers(df, "tss", allow_missing=True)
        self._distance(df)
        self._pair_ids(df)
        df.index = pd.RangeIndex(self.rows, self.rows + len(df))
        self.rows += len(df)
        return _order(df.drop(columns="_line"))

    def _cell_type(self, df):
        if self.cell_type is None:
            return
        if "cell_type" not in df.columns:
            df["cell_type"] = self.cell_type
            return
        given = df["cell_type"].astype(object)
        conflict = given.notna() & (given.astype(str) != self.cell_type)
        if conflict.any():
            self.fail(df, conflict.to_numpy(), "cell_type",
                      f"cell type differs from the requested cell_type={self.cell_type!r}")
        df["cell_type"] = given.fillna(self.cell_type)

    def _distance(self, df):
        if "distance" in df.columns:
            values = pd.to_numeric(df["distance"], errors="coerce")
            bad = values.isna() & df["distance"].notna()
            if bad.any():
                self.fail(df, bad.to_numpy(), "distance", "not a number")
            if values.notna().all() and ((values % 1) == 0).all():
                values = values.astype(np.int64)
            if values.notna().all():
                df["distance"] = values
                return
        enhancer_mid = (df["enhancer_start"] + df["enhancer_end"]) // 2
        promoter_mid = (df["promoter_start"] + df["promoter_end"]) // 2
        if "tss" in df.columns:
            promoter_mid = df["tss"].fillna(promoter_mid).astype(np.int64)
        computed = (enhancer_mid - promoter_mid).abs().astype(np.int64)
        if "distance" in df.columns:
            values = pd.to_numeric(df["distance"], errors="coerce")
            df["distance"] = values.fillna(computed)
        else:
            df["distance"] = computed

    def _pair_ids(self, df):
        lines = df["_line"].to_numpy()
        if self.generated_ids is None:
            self.generated_ids = "pair_id" not in df.columns
        if self.generated_ids:
            base = (df["enhancer_chrom"] + ":" + df["enhancer_start"].astype(str) + "-"
                    + df["enhancer_end"].astype(str) + "|" + df["promoter_chrom"] + ":"
                    + df["promoter_start"].astype(str) + "-" + df["promoter_end"].astype(str))
            keys = _SeenIds.hash(base)
            before, _ = self.seen.lookup(keys)
            within = base.groupby(base, sort=False).cumcount().to_numpy()
            repeat = before + within + 1
            suffixed = base + "#" + pd.Series(repeat, index=base.index).astype(str)
            df["pair_id"] = base.where(repeat == 1, suffixed).astype(object)
            self.seen.add(keys, lines)
            return
        if "pair_id" not in df.columns:
            raise InputError("missing required column 'pair_id' in part of the input", path=self.path,
                             field="pair_id")
        self._missing(df, "pair_id", "missing pair_id")
        ids = df["pair_id"].astype(str).str.strip()
        df["pair_id"] = ids.astype(object)
        dup_within = ids.duplicated(keep="first").to_numpy()
        keys = _SeenIds.hash(ids)
        seen_count, seen_first = self.seen.lookup(keys)
        dup = dup_within | (seen_count > 0)
        if dup.any():
            row = int(np.flatnonzero(dup)[0])
            if seen_count[row] > 0:
                first = int(seen_first[row])
            else:
                first = int(lines[int(np.flatnonzero((ids == ids.iloc[row]).to_numpy())[0])])
            self.fail(df, dup, "pair_id", f"duplicate pair_id, first seen on line {first}")
        self.seen.add(keys, lines)


def _isna(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _order(df: pd.DataFrame) -> pd.DataFrame:
    head = list(COORD_COLUMNS) + ["pair_id"] + [c for c in OPTIONAL_COLUMNS if c in df.columns]
    rest = [c for c in df.columns if c not in head]
    return df[head + rest]


# --------------------------------------------------------------------------- public API

def iter_pairs(path, chunksize: int = 100_000, format: str = "auto", cell_type: str | None = None,
               promoter_bed=None, labels=None) -> Iterator[pd.DataFrame]:
    """Stream a pairs table as validated canonical chunks.

    Parameters
    ----------
    path : str or os.PathLike
        Pairs table (plain or gzip), or the enhancer window BED when ``promoter_bed`` is given.
    chunksize : int
        Rows per chunk; memory is bounded by the chunk plus 24 bytes per pair for the
        duplicate-``pair_id`` check.
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
    fmt = _resolve_format(path, format, promoter_bed)
    if fmt == "windows":
        if promoter_bed is None:
            raise UsageError(f"{os.fspath(path)} is a window BED; give promoter_bed= (and labels=)")
        yield from _iter_windows(path, promoter_bed, labels, chunksize, cell_type, one_based=True)
        return
    if labels is not None:
        raise UsageError("labels= is only used with window BEDs (promoter_bed=)")
    layout = _layout(path, fmt)
    str_columns = set(layout.names) & (
        set(COORD_COLUMNS) | {"pair_id", "label", "cell_type", "gene", "enhancer_name", "promoter_name",
                              "enhancer_frag_name", "promoter_frag_name", "name", "chrom1", "chrom2",
                              "start1", "end1", "start2", "end2", "tss", "distance",
                              "enhancer_distance_to_promoter"})
    validate = _Validator(path, cell_type=cell_type)
    empty = True
    for raw in _read_chunks(layout, chunksize, str_columns):
        empty = False
        yield validate(_normalise(raw, fmt, layout))
    if empty:
        # A header-only table still has its columns checked; it yields one empty chunk.
        raw = pd.DataFrame({name: pd.Series(dtype=object) for name in ["_line", *layout.names]})
        yield validate(_normalise(raw, fmt, layout))


def _normalise(raw: pd.DataFrame, fmt: str, layout: _Layout) -> pd.DataFrame:
    if fmt == "bengi":
        return _normalise_bengi(raw)
    if fmt == "bedpe":
        return _normalise_bedpe(raw)
    return _normalise_named(raw, fmt, layout.path, header_line=layout.skip)


def read_pairs(path, format: str = "auto", cell_type: str | None = None, promoter_bed=None,
               labels=None) -> pd.DataFrame:
    """Read any supported pairs table into the canonical table.

    Parameters
    ----------
    path : str or os.PathLike
        Pairs table (plain or gzip), or the enhancer window BED when ``promoter_bed`` is given.
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
        Naming the file, the 1-based line and the field of the first bad value.
    """
    chunks = list(iter_pairs(path, chunksize=_READ_CHUNK, format=format, cell_type=cell_type,
                             promoter_bed=promoter_bed, labels=labels))
    table = pd.concat(chunks) if len(chunks) > 1 else chunks[0]
    log.info("read %d pairs from %s", len(table), os.fspath(path))
    return table


def read_window_pairs(enhancer_bed, promoter_bed, labels=None, cell_type: str | None = None,
                      one_based: bool = True) -> pd.DataFrame:
    """Pairs from an enhancer window BED and a promoter window BED in the same row order.

    Each BED is ``label chrom start end`` (the EPINTLM layout) or ``chrom start end [...]``.
    With ``one_based`` (default; the EPINTLM files) ``start`` and ``end`` are 1-based inclusive
    and become 0-based half-open (``start - 1, end``). ``labels`` is a file with one 0/1 per line;
    without it the BED label column is used. Label columns that disagree are an error.

    Returns
    -------
    pandas.DataFrame
        (N, ...) canonical table.
    """
    chunks = list(_iter_windows(enhancer_bed, promoter_bed, labels, _READ_CHUNK, cell_type, one_based))
    return pd.concat(chunks) if len(chunks) > 1 else chunks[0]


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
    table = _order_for_write(df)
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


# --------------------------------------------------------------------------- helpers

def _resolve_format(path, format: str, promoter_bed) -> str:
    if format == "auto":
        return "windows" if promoter_bed is not None else detect_format(path)
    if format not in FORMATS:
        raise UsageError(f"unknown pairs format {format!r}; choose auto or one of {', '.join(FORMATS)}")
    return format


def _order_for_write(df: pd.DataFrame) -> pd.DataFrame:
    head = [c for c in list(COORD_COLUMNS) + ["pair_id", *OPTIONAL_COLUMNS] if c in df.columns]
    return df[head + [c for c in df.columns if c not in head]]


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


def _bed_layout(path) -> tuple[_Layout, bool]:
    _, lines, skip = _sniff(path)
    sep = _delimiter(lines[0])
    fields = _split(lines[0], sep)
    labelled = len(fields) >= 4 and _is_label(fields[0]) and not _is_int(fields[1])
    if labelled:
        names = ["label", "chrom", "start", "end"] + [f"column_{i + 1}" for i in range(4, len(fields))]
    elif len(fields) >= 3:
        names = ["chrom", "start", "end"] + [f"column_{i + 1}" for i in range(3, len(fields))]
    else:
        raise InputError(f"a window BED needs chrom, start, end; found {len(fields)} fields",
                         path=path, line=skip + 1)
    return _Layout(path, sep, names, skip, header=False), labelled


def _side_frame(raw: pd.DataFrame, side: str, one_based: bool) -> pd.DataFrame:
    out = pd.DataFrame({
        f"{side}_chrom": raw["chrom"],
        f"{side}_start": raw["start"],
        f"{side}_end": raw["end"],
    })
    if one_based:
        start = pd.to_numeric(raw["start"], errors="coerce")
        ok = start.notna() & ((start % 1) == 0)
        # Shift only values that are integers; anything else is reported by the validator as is.
        out[f"{side}_start"] = raw["start"].astype(object).where(
            ~ok.to_numpy(), (start[ok] - 1).astype("Int64").astype(str).reindex(raw.index))
    return out


def _iter_windows(enhancer_bed, promoter_bed, labels, chunksize: int, cell_type, one_based: bool):
    enh_layout, enh_labelled = _bed_layout(enhancer_bed)
    pro_layout, pro_labelled = _bed_layout(promoter_bed)
    str_cols = {"label", "chrom", "start", "end"}
    readers = {
        "enhancer": _read_chunks(enh_layout, chunksize, str_cols),
        "promoter": _read_chunks(pro_layout, chunksize, str_cols),
    }
    sources = {"enhancer": (os.fspath(enhancer_bed), 0), "promoter": (os.fspath(promoter_bed), 0)}
    if labels is not None:
        _, _, lab_skip = _sniff(labels)
        lab_layout = _Layout(labels, "\t", ["label"], lab_skip, header=False)
        readers["label"] = _read_chunks(lab_layout, chunksize, {"label"})
        sources["label"] = (os.fspath(labels), 0)
    elif enh_labelled:
        sources["label"] = (os.fspath(enhancer_bed), 0)
    validate = _Validator(enhancer_bed, cell_type=cell_type, sources=sources)
    buffers = {name: None for name in readers}
    done = {name: False for name in readers}
    while True:
        for name, reader in readers.items():
            if not done[name] and (buffers[name] is None or len(buffers[name]) < chunksize):
                try:
                    nxt = next(reader)
                    buffers[name] = nxt if buffers[name] is None else pd.concat(
                        [buffers[name], nxt], ignore_index=True)
                except StopIteration:
                    done[name] = True
        sizes = {n: 0 if b is None else len(b) for n, b in buffers.items()}
        take = min(min(sizes.values()), chunksize)
        if take == 0:
            left = {n: s for n, s in sizes.items() if s}
            if left:
                name = next(iter(left))
                short = next(n for n, s in sizes.items() if s == 0)
                first = buffers[name]["_line"].iloc[0]
                paths = {"enhancer": enhancer_bed, "promoter": promoter_bed, "label": labels}
                raise InputError(f"has more rows than {os.fspath(paths[short])}", path=paths[name],
                                 line=int(first), field=None)
            return
        parts = {n: buffers[n].iloc[:take].reset_index(drop=True) for n in buffers}
        buffers = {n: buffers[n].iloc[take:].reset_index(drop=True) for n in buffers}
        enh, pro = parts["enhancer"], parts["promoter"]
        chunk = pd.concat([_side_frame(enh, "enhancer", one_based),
                           _side_frame(pro, "promoter", one_based)], axis=1)
        chunk.insert(0, "_line", enh["_line"].to_numpy())
        # Line deltas let errors point at the same row in the other files.
        sources["promoter"] = (os.fspath(promoter_bed), int(pro["_line"].iloc[0] - enh["_line"].iloc[0]))
        label_source = None
        if "label" in parts:
            label_source = parts["label"]
            sources["label"] = (os.fspath(labels), int(label_source["_line"].iloc[0] - enh["_line"].iloc[0]))
            chunk["label"] = label_source["label"].to_numpy()
            _check_agree(label_source, enh if enh_labelled else None, labels, enhancer_bed)
        elif enh_labelled:
            chunk["label"] = enh["label"].to_numpy()
        if pro_labelled and (enh_labelled or "label" in parts):
            reference = label_source if label_source is not None else enh
            _check_agree(reference, pro, None, promoter_bed, report_other=True)
        yield validate(chunk)


def _check_agree(labels_part: pd.DataFrame, bed_part, labels_path, bed_path, report_other=False):
    """Raise when a BED label column disagrees with the labels it is paired with."""
    if bed_part is None:
        return
    a = pd.to_numeric(labels_part["label"], errors="coerce").to_numpy()
    b = pd.to_numeric(bed_part["label"], errors="coerce").to_numpy()
    differ = (a != b) & ~np.isnan(a) & ~np.isnan(b)
    if differ.any():
        row = int(np.flatnonzero(differ)[0])
        if report_other:
            path, line = bed_path, int(bed_part["_line"].iloc[row])
        else:
            path, line = labels_path, int(labels_part["_line"].iloc[row])
        raise InputError(f"label {labels_part['label'].iloc[row]} disagrees with label "
                         f"{bed_part['label'].iloc[row]} in the paired file", path=path, line=line,
                         field="label")
