"""Validation of canonical pair chunks: types, coordinates, labels, sequences, cell types,
distances and unique ``pair_id`` across the chunks of one input.

Every problem raises :class:`~epitools.errors.InputError` naming the file, the 1-based line in
that file (header included) and the field.
"""

from __future__ import annotations

import operator
import os

import numpy as np
import pandas as pd

from epitools.errors import InputError
from epitools.io.pairs.columns import COORD_COLUMNS, SIDES, canonical_order

_INT64_LIMIT = 2 ** 63


class SeenIds:
    """64-bit hashes of the ids seen so far, kept in sorted blocks merged geometrically.

    Memory is 24 bytes per id (a sorted key, and the key and file line in reading order for
    error messages); each lookup is O(log n) per block, so duplicate detection across chunks
    costs O(n log n) overall, with numpy's vectorised sort rather than an argsort. Ids added
    without their keys are hashed only when a later chunk looks them up: a table read in one
    chunk never pays for it.
    """

    def __init__(self):
        self._blocks: list[np.ndarray] = []
        self._raw: list[tuple[np.ndarray, np.ndarray]] = []
        # the last chunk's ids or keys, hashed and sorted only when another chunk looks them up
        self._pending: tuple | None = None

    @staticmethod
    def hash(ids) -> np.ndarray:
        """64-bit keys of string ids, shape (n,) int64.

        Python's own string hash (computed in C, cached on the string) is ~10x faster than
        ``pandas.util.hash_array``; the keys live only as long as one read, so a per-process
        hash seed does not matter.
        """
        ids = np.asarray(ids, dtype=object)
        return np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids))

    @property
    def empty(self) -> bool:
        """Whether no id was added yet."""
        return self._pending is None and not self._raw

    def count(self, keys: np.ndarray) -> np.ndarray:
        """How many times each key was added so far, shape (n,) int64."""
        self._flush()
        count = np.zeros(len(keys), dtype=np.int64)
        for block in self._blocks:
            count += np.searchsorted(block, keys, side="right") - np.searchsorted(block, keys, side="left")
        return count

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Whether each key was added before, shape (n,) bool."""
        self._flush()
        hit = np.zeros(len(keys), dtype=bool)
        for block in self._blocks:
            pos = np.minimum(np.searchsorted(block, keys), len(block) - 1)
            hit |= block[pos] == keys
        return hit

    def first_line(self, key) -> int:
        """The smallest file line added with ``key`` (only called to name a duplicate)."""
        self._flush()
        return int(min(lines[keys == key].min() for keys, lines in self._raw if (keys == key).any()))

    def add(self, lines: np.ndarray, keys: np.ndarray | None = None, ids=None) -> None:
        """Record one chunk: its ``keys`` (n,) int64, or its ``ids`` (n,) to hash when needed."""
        self._flush()
        self._pending = (lines, keys, ids)

    def _flush(self) -> None:
        if self._pending is None:
            return
        lines, keys, ids = self._pending
        self._pending = None
        if keys is None:
            keys = self.hash(ids)
        self._raw.append((keys, lines))
        if len(keys):
            self._blocks.append(np.sort(keys))
        while len(self._blocks) > 1 and len(self._blocks[-2]) <= 2 * len(self._blocks[-1]):
            self._blocks[-2:] = [np.sort(np.concatenate(self._blocks[-2:]))]


class PairValidator:
    """Type, check and complete canonical chunks; keeps state across chunks of one file.

    ``sources`` maps a column prefix ("enhancer", "promoter", "label") to ``(path, line_delta)``
    so that errors in multi-file inputs name the right file and line.
    """

    def __init__(self, path, cell_type: str | None = None, sources: dict | None = None):
        self.path = os.fspath(path)
        self.cell_type = cell_type
        self.sources = sources or {}
        self.rows = 0
        self.seen = SeenIds()
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

    def _text(self, df, field, what="missing value") -> np.ndarray:
        """``str(v).strip()`` of a column, shape (n,) object; a missing value fails with ``what``.

        All-``str`` columns (what the reader gives) go through one C-level map; only a
        column with missing or non-string values pays for the ``isna`` pass.
        """
        values = df[field].to_numpy(dtype=object)
        try:
            return np.fromiter(map(str.strip, values), dtype=object, count=len(values))
        except TypeError:
            self._missing(df, field, what)
            return np.fromiter(map(str.strip, map(str, values)), dtype=object, count=len(values))

    def _run_text(self, df, field) -> tuple[np.ndarray, np.ndarray | None]:
        """``_text`` of a column whose equal values come in runs (chromosome names), and the
        first row of each run, shape (r,) int64, or None when runs are too short to pay.

        Equal strings strip alike, so each run is stripped once; the column is rebuilt only
        when a value had surrounding whitespace.
        """
        values = df[field].to_numpy(dtype=object)
        starts = _run_starts(values)
        heads = None if starts is None else values[starts]
        if heads is None or not all(isinstance(v, str) for v in heads):
            # short runs, or missing / non-text values: per row (which names a missing one)
            return self._text(df, field), None
        stripped = np.fromiter(map(str.strip, heads), dtype=object, count=len(heads))
        if (stripped != heads).any():
            values = np.repeat(stripped, np.diff(np.append(starts, len(values))))
        return values, starts

    def _integers(self, df, field, allow_missing=False) -> pd.Series:
        text = df[field]
        if isinstance(text.dtype, np.dtype) and text.dtype.kind in "iu":
            # parsed as int64 by the reader: only the sign is left to check
            negative = text.to_numpy() < 0
            if negative.any():
                self.fail(df, negative, field, "negative coordinate")
            return text.astype(np.int64)
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & (text.notna() | (not allow_missing))
        bad |= values.notna() & ((values % 1) != 0)
        if bad.any():
            self.fail(df, bad, field, "not an integer")
        negative = values < 0
        if negative.any():
            self.fail(df, negative, field, "negative coordinate")
        # Beyond int64 the cast below would wrap silently.
        too_large = values >= _INT64_LIMIT
        if too_large.any():
            self.fail(df, too_large, field, "integer too large")
        if allow_missing and values.isna().any():
            return values.astype("Int64")
        return values.astype(np.int64)

    # -- the checks
    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        # columns are replaced, never written in place: a shallow copy keeps the caller's frame intact
        df = df.copy(deep=False)
        chroms, runs = {}, {}
        for field in COORD_COLUMNS:
            if field not in df.columns:
                raise InputError(f"missing required column '{field}'", path=self._where(field, 1)[0],
                                 field=field)
            if field.endswith("_chrom"):
                chroms[field], runs[field] = self._run_text(df, field)
            else:
                self._missing(df, field)
        for side in SIDES:
            chrom = f"{side}_chrom"
            names = chroms[chrom]
            df[chrom] = pd.Series(names, index=df.index, dtype=object, copy=False)
            starts = runs[chrom]
            # a run is empty throughout when its first value is
            empty = _at_rows(names == "" if starts is None else names[starts] == "", starts, len(df))
            if empty.any():
                self.fail(df, empty, chrom, "missing value")
            start = self._integers(df, f"{side}_start")
            end = self._integers(df, f"{side}_end")
            bad = (start >= end).to_numpy()
            if bad.any():
                self.fail(df, bad, f"{side}_start", f"start >= end ({side}_end "
                          f"{int(end.iloc[int(np.flatnonzero(bad)[0])])})")
            df[f"{side}_start"], df[f"{side}_end"] = start, end
        enhancer, promoter = chroms["enhancer_chrom"], chroms["promoter_chrom"]
        if runs["enhancer_chrom"] is None or runs["promoter_chrom"] is None:
            apart = enhancer != promoter
        else:
            # both columns are constant between consecutive run starts of either
            starts = np.union1d(runs["enhancer_chrom"], runs["promoter_chrom"])
            apart = _at_rows(enhancer[starts] != promoter[starts], starts, len(df))
        if apart.any():
            row = int(np.flatnonzero(apart)[0])
            self.fail(df, apart, "promoter_chrom",
                      f"promoter on a different chromosome than its enhancer "
                      f"({df['enhancer_chrom'].iloc[row]})")
        if "label" in df.columns:
            self._missing(df, "label", "missing label")
            labels = _numeric(df["label"])
            bad = ~labels.isin([0, 1])
            if bad.any():
                self.fail(df, bad.to_numpy(), "label", "label must be 0 or 1")
            df["label"] = labels.astype(np.int64)
        for side in SIDES:
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
        out = canonical_order(df.drop(columns="_line"))
        # file line of each row, for later checks to name (kept out of the table's columns)
        out.attrs["source_lines"] = SourceLines(df["_line"].to_numpy(dtype=np.int64))
        return out

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
            given = df["distance"]
            values = _numeric(given)
            # only text can fail to parse: a numeric column's NaN was an empty field
            bad = values.isna() & given.notna() if values is not given else None
            if bad is not None and bad.any():
                self.fail(df, bad.to_numpy(), "distance", "not a number")
            complete = bool(values.notna().all())
            if complete and _all_integral(values.to_numpy()):
                values = values.astype(np.int64)
            if complete:
                df["distance"] = values
                return
        enhancer_mid = (df["enhancer_start"] + df["enhancer_end"]) // 2
        promoter_mid = (df["promoter_start"] + df["promoter_end"]) // 2
        if "tss" in df.columns:
            promoter_mid = df["tss"].fillna(promoter_mid).astype(np.int64)
        computed = (enhancer_mid - promoter_mid).abs().astype(np.int64)
        if "distance" in df.columns:
            df["distance"] = _numeric(df["distance"]).fillna(computed)
        else:
            df["distance"] = computed

    def _pair_ids(self, df):
        lines = df["_line"].to_numpy()
        if self.generated_ids is None:
            self.generated_ids = "pair_id" not in df.columns
        if self.generated_ids:
            base, pair_code = _coordinate_ids(df)
            # repeats within the chunk are counted on exact coordinate codes, not hashes;
            # the first chunk has nothing before it, so its ids are hashed only if another follows
            repeat = occurrence_index(pair_code) + 1
            if not self.seen.empty:
                repeat += self.seen.count(SeenIds.hash(base))
            ids = base
            again = np.flatnonzero(repeat > 1)
            if again.size:
                ids = base.copy()
                ids[again] = [f"{b}#{r}" for b, r in zip(base[again], repeat[again].tolist())]
            df["pair_id"] = pd.Series(ids, index=df.index, dtype=object, copy=False)
            self.seen.add(lines, ids=base)
            return
        if "pair_id" not in df.columns:
            raise InputError("missing required column 'pair_id' in part of the input", path=self.path,
                             field="pair_id")
        ids = self._text(df, "pair_id", "missing pair_id")
        df["pair_id"] = pd.Series(ids, index=df.index, dtype=object, copy=False)
        keys = SeenIds.hash(ids)
        dup_within = _duplicated(ids, keys)
        seen = np.zeros(len(ids), dtype=bool) if self.seen.empty else self.seen.contains(keys)
        dup = dup_within | seen
        if dup.any():
            row = int(np.flatnonzero(dup)[0])
            if seen[row]:
                first = self.seen.first_line(keys[row])
            else:
                first = int(lines[int(np.flatnonzero(ids == ids[row])[0])])
            self.fail(df, dup, "pair_id", f"duplicate pair_id, first seen on line {first}")
        self.seen.add(lines, keys=keys)


def _duplicated(ids: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Rows whose id appeared on an earlier row, shape (n,) bool; hashes pick the candidates,
    exact comparison decides (a hash collision is never reported as a duplicate)."""
    out = np.zeros(len(ids), dtype=bool)
    # pandas' int64 hash table: about half the time of sorting the keys
    candidates = pd.Series(keys, copy=False).duplicated(keep=False).to_numpy()
    if not candidates.any():
        return out
    rows = np.flatnonzero(candidates)
    out[rows] = pd.Series(ids[rows], dtype=object).duplicated(keep="first").to_numpy()
    return out


def _numeric(column: pd.Series) -> pd.Series:
    """``pd.to_numeric(column, errors="coerce")``; a column the parser already made numeric is
    returned as it is (``to_numeric`` would copy it)."""
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iuf":
        return column
    return pd.to_numeric(column, errors="coerce")


def _run_starts(values: np.ndarray) -> np.ndarray | None:
    """First row of each run of equal values, shape (r,) int64; None when the runs average
    fewer than 8 rows (comparing runs would then cost more than it saves)."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.empty(n, dtype=bool)
    change[0] = True
    # equal-object comparisons return at once (the parser gives one object per distinct name)
    np.not_equal(values[1:], values[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    return starts if len(starts) * 8 <= n else None


def _at_rows(hit: np.ndarray, starts: np.ndarray | None, n: int) -> np.ndarray:
    """A row mask, shape (n,) bool, from one flag per run start (or per row when ``starts`` is None)."""
    if starts is None:
        return np.asarray(hit, dtype=bool)
    mask = np.zeros(n, dtype=bool)
    mask[starts[np.asarray(hit, dtype=bool)]] = True
    return mask


def _all_integral(values: np.ndarray) -> bool:
    """Whether every value is a finite whole number (NaN free ``values``, shape (n,))."""
    if values.dtype.kind in "iub":
        return True
    if values.dtype.kind != "f":
        return bool(((values % 1) == 0).all())
    # a fractional value among the first rows (a midpoint distance) settles it without a full pass
    for part in (values[:1024], values):
        if not (np.isfinite(part).all() and np.array_equal(part, np.trunc(part))):
            return False
    return True


def _factor(*columns) -> np.ndarray:
    """One int64 code per row for the distinct value tuples of ``columns`` (exact, no hashing)."""
    code = None
    for column in columns:
        part, uniques = pd.factorize(column)
        part = part.astype(np.int64)
        # codes stay below n each, so the product stays below n**2 (int64 up to 3e9 rows)
        code = part if code is None else pd.factorize(code * max(len(uniques), 1) + part)[0].astype(np.int64)
    return code


def _coordinate_ids(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Generated ``pair_id`` bases, shape (n,) object, and an exact code of each row's coordinates.

    The text is formatted once per distinct enhancer and promoter (candidate tables repeat
    each element across many genes), then the two halves are joined per row in C.
    """
    n = len(df)
    halves, codes = [], []
    for side, end in (("enhancer", "|"), ("promoter", "")):
        columns = [df[f"{side}_{k}"].to_numpy() for k in ("chrom", "start", "end")]
        code = _factor(*columns)
        _, first = np.unique(code, return_index=True)
        chrom, start, stop = (c[first].tolist() for c in columns)
        text = np.array([f"{c}:{s}-{e}{end}" for c, s, e in zip(chrom, start, stop)] + [""], dtype=object)
        halves.append(text[code])
        codes.append((code, len(first)))
    base = np.fromiter(map(operator.add, *halves), dtype=object, count=n)
    (enh, _), (pro, n_pro) = codes
    return base, enh * max(n_pro, 1) + pro


class SourceLines:
    """File lines of a chunk's rows, kept in ``DataFrame.attrs``.

    pandas compares ``attrs`` when it combines frames; an array there would make that
    comparison ambiguous, so equality is identity.
    """

    __slots__ = ("lines",)

    def __init__(self, lines: np.ndarray):
        self.lines = lines

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, i):
        return self.lines[i]

    def __eq__(self, other) -> bool:
        return self is other

    def __deepcopy__(self, memo):
        # pandas deep-copies attrs into every derived frame and column; the lines are never
        # written, so sharing them saves a copy of the whole array per operation
        return self

    __hash__ = object.__hash__


def occurrence_index(keys: np.ndarray) -> np.ndarray:
    """For each key, how many equal keys come before it, shape (n,) int64 (0 for a first)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    n = len(keys)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = ordered[1:] != ordered[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0)) if n else np.zeros(0, np.int64)
    out = np.empty(n, dtype=np.int64)
    out[order] = np.arange(n) - group_start
    return out


def _isna(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
