"""Validation of canonical pair chunks: types, coordinates, labels, sequences, cell types,
distances and unique ``pair_id`` across the chunks of one input.

Every problem raises :class:`~epitools.errors.InputError` naming the file, the 1-based line in
that file (header included) and the field.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from epitools.errors import InputError
from epitools.io.pairs.columns import COORD_COLUMNS, SIDES, canonical_order

_INT64_LIMIT = 2 ** 63


class SeenIds:
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
        df = df.copy()
        for field in COORD_COLUMNS:
            if field not in df.columns:
                raise InputError(f"missing required column '{field}'", path=self._where(field, 1)[0],
                                 field=field)
            self._missing(df, field)
        for side in SIDES:
            chrom = f"{side}_chrom"
            names = np.array([str(v).strip() for v in df[chrom].to_numpy(dtype=object)], dtype=object)
            df[chrom] = pd.Series(names, index=df.index, dtype=object)
            empty = names == ""
            if empty.any():
                self.fail(df, empty, chrom, "missing value")
            start = self._integers(df, f"{side}_start")
            end = self._integers(df, f"{side}_end")
            bad = (start >= end).to_numpy()
            if bad.any():
                self.fail(df, bad, f"{side}_start", f"start >= end ({side}_end "
                          f"{int(end.iloc[int(np.flatnonzero(bad)[0])])})")
            df[f"{side}_start"], df[f"{side}_end"] = start, end
        apart = df["enhancer_chrom"].to_numpy(dtype=object) != df["promoter_chrom"].to_numpy(dtype=object)
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
            # one f-string per row over plain Python values: several times faster than pandas
            # string arithmetic, and the ids stay a plain object column
            columns = [df[c].to_numpy(dtype=object) if c.endswith("chrom") else df[c].to_numpy().tolist()
                       for c in COORD_COLUMNS]
            base = np.array([f"{ec}:{es}-{ee}|{pc}:{ps}-{pe}" for ec, es, ee, pc, ps, pe in zip(*columns)],
                            dtype=object)
            keys = pd.util.hash_array(base)
            before, _ = self.seen.lookup(keys)
            repeat = before + occurrence_index(keys) + 1
            ids = base.copy()
            again = np.flatnonzero(repeat > 1)
            if again.size:
                ids[again] = [f"{b}#{r}" for b, r in zip(base[again], repeat[again].tolist())]
            df["pair_id"] = pd.Series(ids, index=df.index, dtype=object)
            self.seen.add(keys, lines)
            return
        if "pair_id" not in df.columns:
            raise InputError("missing required column 'pair_id' in part of the input", path=self.path,
                             field="pair_id")
        self._missing(df, "pair_id", "missing pair_id")
        ids = df["pair_id"].astype(str).str.strip()
        df["pair_id"] = ids.astype(object)
        dup_within = ids.duplicated(keep="first").to_numpy()
        keys = SeenIds.hash(ids)
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
