"""Write a table as delimited text, byte for byte as ``DataFrame.to_csv(index=False)`` writes it,
several times faster.

pandas formats each cell through its csv writer; here each column is formatted once with C-level
maps (``str`` of int64, ``repr`` of float64, which equals numpy's ``astype(str)`` that pandas
uses) and the rows are joined in C. Rows that would need csv quoting (a text cell holding the
delimiter, a quote or a line break) and columns of other dtypes (nullable integers, categoricals,
dates) are written by pandas itself, chunk by chunk, so the output never differs.
"""

from __future__ import annotations

import gzip
import os

import numpy as np
import pandas as pd

ROWS_PER_CHUNK = 25_000
_BOOL_TEXT = np.array(["False", "True"], dtype=object)


def _text_cells(values: np.ndarray, specials: tuple[str, ...]) -> list | None:
    """``str`` of each object cell, missing as ""; None when a cell would need quoting."""
    cells = values.tolist()
    try:
        joined = "".join(cells)  # all str (what the readers give): no isna pass needed
    except TypeError:
        values = values.copy()
        values[pd.isna(values)] = ""
        cells = list(map(str, values))
        joined = "".join(cells)
    if any(ch in joined for ch in specials):
        return None
    return cells


def _float_cells(values: np.ndarray) -> list:
    """Text of each float, NaN as "".

    float64 ``repr`` is the shortest round-trip text, identical to numpy's ``astype(str)``
    that pandas uses, but it is the costliest step of writing a table: columns that repeat
    values (element or gene properties across their pairs) format each distinct value once.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) <= 0.7 * len(values):
        text = np.array(_float_text(uniques) + [""], dtype=object)
        return text[codes].tolist()  # code -1 (NaN) takes the trailing ""
    cells = _float_text(values)
    for i in np.flatnonzero(np.isnan(values)).tolist():
        cells[i] = ""
    return cells


def _float_text(values: np.ndarray) -> list:
    return list(map(repr, values.tolist())) if values.dtype.itemsize == 8 else values.astype(str).tolist()


def _cells(column: pd.Series, specials: tuple[str, ...]) -> list | None:
    """The text pandas writes for each cell of ``column``, or None when pandas must write it."""
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype):
        return _text_cells(column.to_numpy(dtype=object, na_value=""), specials)
    if not isinstance(dtype, np.dtype):
        if dtype.kind in "iu":  # nullable integers: str of each value, missing as ""
            return list(map(str, column.to_numpy(dtype=object, na_value="")))
        return None
    values = column.to_numpy()
    kind = dtype.kind
    if kind in "iu":
        return list(map(str, values.tolist()))
    if kind == "b":
        return _BOOL_TEXT[values.astype(np.int8)].tolist()
    if kind == "f":
        return _float_cells(values)
    if kind == "O":
        return _text_cells(values, specials)
    return None


def _pandas_options(sep: str) -> dict:
    return dict(sep=sep, index=False, lineterminator="\n")


def write_delimited(table: pd.DataFrame, path, sep: str = "\t", gzipped: bool | None = None) -> None:
    """Write ``table`` with a header to ``path`` (gzip when ``gzipped``, default: the name ends
    with ``.gz``).

    The bytes equal ``table.to_csv(path, sep=sep, index=False, lineterminator="\\n")``
    (gzip streams aside, which carry a time stamp).
    """
    with open_output(path, gzipped) as handle:
        write_rows(table, handle, sep)


def open_output(path, gzipped: bool | None = None):
    """A text handle on ``path`` as pandas opens one for ``to_csv`` (UTF-8, no newline translation)."""
    path = os.fspath(path)
    if gzipped is None:
        gzipped = path.endswith(".gz")
    if gzipped:
        return gzip.open(path, "wt", encoding="utf-8", newline="")
    return open(path, "w", encoding="utf-8", newline="")


def write_rows(table: pd.DataFrame, handle, sep: str = "\t", header: bool = True) -> None:
    """Write ``table`` (with its header line when ``header``) to an open text ``handle``."""
    specials = (sep, '"', "\n", "\r")
    if header:
        names = [str(c) for c in table.columns]
        if any(ch in name for name in names for ch in specials) or not names:
            table.iloc[:0].to_csv(handle, **_pandas_options(sep))
        else:
            handle.write(sep.join(names) + "\n")
    for lo in range(0, len(table), ROWS_PER_CHUNK):
        part = table.iloc[lo:lo + ROWS_PER_CHUNK]
        columns, floats = [], []
        for j in range(part.shape[1]):
            column = part.iloc[:, j]
            # power-law contacts fill contact, contact_norm and powerlaw_contact alike
            cells = next((done for values, done in floats if column.dtype == values.dtype
                          and np.array_equal(column.to_numpy(), values, equal_nan=True)), None)
            if cells is None:
                cells = _cells(column, specials)
                if cells is None:
                    break
                if column.dtype.kind == "f" and isinstance(column.dtype, np.dtype):
                    floats.append((column.to_numpy(), cells))
            columns.append(cells)
        if len(columns) < part.shape[1]:
            part.to_csv(handle, header=False, **_pandas_options(sep))
            continue
        handle.write("\n".join(map(sep.join, zip(*columns))))
        handle.write("\n")
