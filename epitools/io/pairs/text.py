"""Text-table access for pairs inputs: open plain or gzip files, sniff the first lines, and
read string-typed chunks that remember the 1-based file line of every row."""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import warnings
import zlib
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from epitools.errors import InputError

_NA_VALUES = ["", "NA", "NaN", "nan", "N/A", "null", "None"]
READ_CHUNK_ROWS = 1_000_000
# chunk size that reads a whole table as one chunk
WHOLE_TABLE = 2 ** 62
_LABEL_VALUES = {"0", "1"}
# Raised while decompressing or decoding: bad bytes in the file, not a bug.
_BYTE_ERRORS = (UnicodeDecodeError, EOFError, gzip.BadGzipFile, zlib.error)


def _is_gzip(path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_text(path):
    """Open plain or gzip/bgzip text by content, not by extension."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError("file not found", path=path)
    if _is_gzip(path):
        return gzip.open(path, "rt", newline="")
    return open(path, "r", newline="")


def is_int(text: str) -> bool:
    return re.fullmatch(r"\s*\d+\s*", text) is not None


def is_label(text: str) -> bool:
    return text.strip() in _LABEL_VALUES


def byte_error(path, err: Exception) -> InputError:
    """An :class:`InputError` for undecodable or corrupt bytes, naming the first bad line.

    The file is re-read line by line only on this error path; a good file is read once.
    """
    line = 0
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rb") as fh:
            for line, raw in enumerate(fh, start=1):
                raw.decode()
    except UnicodeDecodeError:
        return InputError("not UTF-8 text (undecodable bytes)", path=path, line=line)
    except (EOFError, gzip.BadGzipFile, zlib.error):
        return InputError("corrupt or truncated gzip data", path=path, line=line + 1)
    return InputError(f"cannot read file: {err}", path=path)


@contextlib.contextmanager
def naming_bad_bytes(path):
    """Turn decode and decompression errors raised while the block reads ``path`` into the
    :class:`InputError` of :func:`byte_error` (every text reader of the package uses this)."""
    try:
        yield
    except _BYTE_ERRORS as err:
        raise byte_error(path, err) from None


@dataclass
class TableLayout:
    """How to read one file: delimiter, column names and how many lines precede the data."""

    path: str
    sep: str
    names: list[str]
    skip: int

    def __post_init__(self):
        self.path = os.fspath(self.path)


def sniff(path, max_lines: int = 5) -> tuple[list[str], list[str], int]:
    """Return (leading comment lines, first data-ish lines, number of leading comment/blank lines)."""
    comments: list[str] = []
    lines: list[str] = []
    skip = 0
    try:
        with open_text(path) as fh:
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
    except _BYTE_ERRORS as err:
        raise byte_error(path, err) from None
    if not lines:
        raise InputError("no data rows", path=path, line=skip + 1)
    return comments, lines, skip


def delimiter(line: str) -> str:
    if "\t" in line:
        return "\t"
    if "," in line:
        return ","
    return "\t"


def split_fields(line: str, sep: str) -> list[str]:
    return [field.strip().strip('"') for field in line.split(sep)]


def unique_names(names: list[str], path, line: int) -> list[str]:
    """``names`` unchanged; a repeated column name is an :class:`InputError` at ``line``."""
    seen = set()
    for name in names:
        if name in seen:
            raise InputError("duplicate column name in header", path=path, line=line, field=name)
        seen.add(name)
    return names


_BOOL_TEXT = {"True", "TRUE", "true", "False", "FALSE", "false"}


def _is_text(value: str) -> bool:
    value = value.strip()
    if value in _NA_VALUES or value in _BOOL_TEXT:
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def text_columns(layout: TableLayout, max_rows: int = 5) -> set[str]:
    """Columns whose first data rows hold text (not numbers, booleans or missing values).

    The C parser would make these its ``str`` dtype anyway; reading them as ``object`` gives
    the same values without pandas' per-element string validation.
    """
    found: set[str] = set()
    with naming_bad_bytes(layout.path), open_text(layout.path) as fh:
        for _ in range(layout.skip):
            fh.readline()
        for _, raw in zip(range(max_rows), fh):
            fields = raw.rstrip("\r\n").split(layout.sep)
            found.update(name for name, value in zip(layout.names, fields) if _is_text(value))
    return found


def _is_text_column(column: pd.Series) -> bool:
    """Whether the parser kept every value of ``column`` as its text (or missing)."""
    if isinstance(column.dtype, pd.StringDtype):
        return True
    # pandas 2 infers text as object; a column whose chunks inferred differently mixes types
    return column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty")


def as_objects(column: pd.Series) -> np.ndarray:
    """Values of a text column as plain Python ``str`` (missing as NaN), shape (n,) object.

    Columns that repeat few values (chromosomes, genes, classes) are factorised first, so each
    distinct value becomes one Python object shared by its rows, as in the typed read's object
    columns; the validator's run comparisons then mostly compare identical objects.
    """
    if column.dtype == object:
        return column.to_numpy()
    # a strided sample guesses the cardinality: factorising all-distinct ids (pair_id) costs
    # ~4x converting them directly, factorising names that repeat ~3x less
    sample = column.iloc[:: max(1, len(column) // 2048)]
    if sample.nunique() < 0.95 * len(sample):
        codes, uniques = pd.factorize(column)
        # code -1 (missing) picks the NaN appended last
        return np.append(np.asarray(uniques, dtype=object), np.nan)[codes]
    return column.to_numpy(dtype=object, na_value=np.nan)


def _untyped_read(source, options: dict, str_columns: set, compression) -> pd.DataFrame:
    """The whole table parsed without a dtype map, text columns then made ``object``.

    pandas 3's reader takes its parallel, arrow-string path only without a dtype map (on
    1.56 M rows the map costs ~1.2 s, mostly concatenating per-block object arrays). The
    values equal those of the typed read: numbers are parsed by the same C converter, and a
    column of ``str_columns`` whose text was not kept throughout (all numeric-looking names,
    all missing, or chunks inferred differently) is parsed again as text.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = pd.read_csv(source, compression=compression, **{**options, "dtype": None})
    for warning in caught:
        # "Columns (3: pair_id, 12: flag) have mixed types": blocks of a text column that parsed
        # as numbers are read again below; the typed read warns only about the other columns
        named = re.findall(r"\d+: ([^,)]+)", str(warning.message))
        if not issubclass(warning.category, pd.errors.DtypeWarning) or set(named) - str_columns:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    retype = []
    for name in _in_order(table.columns, str_columns):
        if _is_text_column(table[name]):
            table[name] = pd.Series(as_objects(table[name]), index=table.index, dtype=object, copy=False)
        else:
            retype.append(name)
    if retype:
        again = pd.read_csv(source, compression=compression,
                            **{**options, "dtype": dict.fromkeys(retype, object), "usecols": retype})
        for name in retype:
            table[name] = again[name]
    return table


def _in_order(columns, wanted) -> list[str]:
    """The names of ``columns`` that are in ``wanted``, in column order."""
    wanted = set(wanted)
    return [name for name in columns if name in wanted]


def read_raw_chunks(layout: TableLayout, chunksize: int, str_columns=(), int_columns=(),
                    fast: bool = True) -> Iterator[pd.DataFrame]:
    """Yield raw string-typed chunks of ``layout`` with a ``_line`` column (1-based file line).

    Blank lines are read (so line numbers stay exact) and dropped afterwards. A whole-table
    read of a plain or gzip file read by path (``fast``) parses without a dtype map and makes
    the text columns ``object`` afterwards (:func:`_untyped_read`); should that parse fail, the
    table is read again as before: ``int_columns`` as int64 first (the coordinates), then, on a
    value that is not a plain integer (a blank line, ``NA``, ``1e3``, text), untyped, so the
    checks name the bad line. ``fast=False`` skips the first parse (the tests compare both).
    """
    # object, not the str dtype: names stay plain Python strings, several times faster to check
    dtype = {name: object for name in layout.names if name in set(str_columns)}
    fh = open_text(layout.path)
    try:
        skipped = [fh.readline() for _ in range(layout.skip)]
        source, skiprows, compression = fh, None, None
        if not any('"' in line for line in skipped):
            # the C parser reads a file by path: it reads and decodes the bytes itself, ~15%
            # faster than through a Python text stream (gzip by content, whatever the suffix)
            source, skiprows = layout.path, layout.skip
            compression = "gzip" if _is_gzip(layout.path) else None
        options = dict(sep=layout.sep, header=None, names=layout.names, dtype=dtype, skiprows=skiprows,
                       skip_blank_lines=False, keep_default_na=False, na_values=_NA_VALUES,
                       comment=None, quotechar='"', index_col=False, compression=compression)

        def parts():
            if chunksize >= WHOLE_TABLE:
                if fast and source is layout.path:
                    try:
                        yield _untyped_read(source, {k: v for k, v in options.items() if k != "compression"},
                                            set(str_columns), compression)
                        return
                    except (pd.errors.ParserError, ValueError, OverflowError, TypeError):
                        pass  # the reads below name the bad line
                # one call: pandas' chunked reader costs ~30% more CPU for the same table
                typed = {name: "int64" for name in layout.names if name in set(int_columns)}
                if typed and source is layout.path:  # a path can be parsed twice, a stream cannot
                    try:
                        yield pd.read_csv(source, **{**options, "dtype": {**dtype, **typed}})
                        return
                    except (ValueError, OverflowError, TypeError):
                        pass  # not plain integers throughout: the untyped read reports it
                yield pd.read_csv(source, **options)
            else:
                yield from pd.read_csv(source, chunksize=chunksize, **options)

        reader = parts()
        first_line = layout.skip + 1
        while True:
            try:
                chunk = next(reader)
            except StopIteration:
                break
            except _BYTE_ERRORS as err:
                raise byte_error(layout.path, err) from None
            except (pd.errors.ParserError, ValueError) as err:
                # the parser counts the lines it skipped itself when it reads by path
                raise InputError(_parser_message(err), path=layout.path,
                                 line=_parser_line(err, layout.skip if skiprows is None else 0)) from None
            chunk.insert(0, "_line", np.arange(first_line, first_line + len(chunk), dtype=np.int64))
            first_line += len(chunk)
            blank = np.array(chunk[layout.names[0]].isna().to_numpy())
            if blank.any():
                # only rows missing their first field can be blank lines
                rows = np.flatnonzero(blank)
                blank[rows] = chunk[layout.names].iloc[rows].isna().all(axis=1).to_numpy()
                if blank.any():
                    chunk = chunk.loc[~blank]
            if len(chunk):
                yield chunk.reset_index(drop=True)
    except _BYTE_ERRORS as err:  # from skipping the header lines
        raise byte_error(layout.path, err) from None
    finally:
        fh.close()


def _parser_line(err: Exception, skip: int) -> int | None:
    """File line of a pandas parser error: its "line N" counts read lines, "row N" 0-based data rows."""
    match = re.search(r"line (\d+)", str(err))
    if match:
        return int(match.group(1)) + skip
    match = re.search(r"starting at row (\d+)", str(err))
    return int(match.group(1)) + skip + 1 if match else None


def _parser_message(err: Exception) -> str:
    text = str(err).strip()
    match = re.search(r"Expected (\d+) fields in line \d+, saw (\d+)", text)
    if match:
        return f"expected {match.group(1)} fields, found {match.group(2)}"
    if "EOF inside string" in text:
        return "unterminated quoted field (a '\"' without its closing quote)"
    return f"cannot parse table: {text}"


def concat_chunks(chunks: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """One table from the canonical chunks of one input (at least one chunk)."""
    chunks = list(chunks)
    if len(chunks) == 1:
        return chunks[0]
    table = pd.concat(chunks)
    # pandas keeps attrs only when every chunk has equal ones; the file lines concatenate
    lines = [chunk.attrs.get("source_lines") for chunk in chunks]
    if all(part is not None for part in lines):
        table.attrs["source_lines"] = type(lines[0])(np.concatenate([part.lines for part in lines]))
    return table
