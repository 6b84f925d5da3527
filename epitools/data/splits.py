"""Train / validation / test splits of a pair table.

Schemes (``scheme`` argument of :func:`make_split`; folds are numbered from 1):

``chrom``
    Chromosome k-fold, **fixed by chromosome name**: each name has a position in
    :data:`CHROMOSOME_ORDER` (1..22, X, Y, M; a ``chr`` prefix is ignored; numbers above 22
    continue after M, other names a checksum of the name) and goes to fold ``position % K + 1``
    whichever chromosomes a store holds, so two stores (pooled cell lines and one line, for
    pre-training and fine-tuning) agree on every shared chromosome's fold. With K=8 on
    chr1–22, X: fold 1 = {1, 9, 17}, ..., fold 7 = {7, 15, X}, fold 8 = {8, 16}; simulated
    chr1..chr8 with K=4: {1, 5}, {2, 6}, ... . A pair belongs to the chromosome of its enhancer.
    The test set is fold ``i``; the validation set is fold ``i % K + 1``, so a model trains on
    K - 2 folds.
``chrom_inner``
    EPIPAM's K-fold: the test set is fold ``i`` of ``chrom`` (the same rows), and the model
    trains on the other K - 1 folds, from whose rows the validation set is drawn:
    ``val_fraction`` of their overlap groups (pairs sharing an overlapping window, and augmented
    copies of a pair, stay on one side), stratified by label. Validation is then on the training
    chromosomes, not held out by chromosome; only the test fold is.
``chrom12``
    The 12-fold cross-chromosome scheme of EPInformer: fold i <= 10 validates on
    chromosomes i and i+10 and tests on i+1 and i+11; fold 11 validates on 3, 21 and tests
    on 22, X; fold 12 validates on 2, 22 and tests on 1, Y.
``random``
    Stratified group k-fold over *overlap groups*: pairs whose enhancer or promoter windows
    overlap, transitively, form one group and never straddle train and test. Groups are
    assigned to folds by size (:func:`balanced_group_folds`), so folds hold close to 1/K of
    the pairs and of the positives even when a few groups are large (real BENGI sets: 10–43 %
    of the pairs in one fold of 5 when groups are dealt without regard to size).
``naive``
    Stratified k-fold over single pairs (augmented copies of a pair still stay together);
    it leaks overlapping windows between train and test and exists for comparison.
``stratified``
    EPIANN's split: a stratified random 90/10 train/test split of the pairs (augmented copies
    of a pair stay together): ``naive`` with 10 folds whatever ``n_folds`` says, the test set
    being fold ``fold`` (1 by default).
``cell``
    Cross-cell-line: train on ``train_cells``, test on ``test_cells``.

For ``random``, ``naive``, ``stratified``, ``chrom_inner`` and ``cell`` the validation set is
``val_fraction`` of the training groups, drawn with the same grouping and stratification.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from epitools.errors import UsageError

SCHEMES = ("chrom", "chrom_inner", "chrom12", "random", "naive", "stratified", "cell")

#: Schemes whose overlap groups should be built from the windows the model sees
#: (``make_split(windows=...)``), not from the element coordinates.
WINDOW_SCHEMES = ("random", "chrom_inner", "cell")

#: Schemes with a fixed number of folds, whatever ``n_folds`` says.
FIXED_FOLDS = {"chrom12": 12, "stratified": 10}


def _chrom12_table() -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    table = {i: ((str(i), str(i + 10)), (str(i + 1), str(i + 11))) for i in range(1, 11)}
    table[11] = (("3", "21"), ("22", "X"))
    table[12] = (("2", "22"), ("1", "Y"))
    return table


#: fold -> (validation chromosomes, test chromosomes) of the EPInformer scheme.
CHROM12_FOLDS = _chrom12_table()


@dataclass
class Split:
    """Row indices (sorted int64 arrays) of each part and a description of the split."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    info: dict = field(default_factory=dict)


def strip_chr(chrom: str) -> str:
    """``chr1`` -> ``1``, ``chrM``/``MT`` -> ``M``; other names unchanged."""
    name = re.sub(r"^chr", "", str(chrom), flags=re.IGNORECASE)
    return "M" if name.upper() in ("M", "MT") else name


def natural_key(chrom: str) -> tuple:
    """Sort key: numbered chromosomes by number, then X, Y, M, then the rest by name."""
    name = strip_chr(chrom)
    if name.isdigit():
        return (0, int(name), "")
    special = {"X": 1, "Y": 2, "M": 3}
    return (1, special.get(name.upper(), 4), name)


#: The fixed order of :func:`chromosome_folds` (names without ``chr``).
CHROMOSOME_ORDER = tuple(str(i) for i in range(1, 23)) + ("X", "Y", "M")


def chromosome_position(chrom: str) -> int:
    """Position of ``chrom`` in :data:`CHROMOSOME_ORDER`; numbers above 22 continue after it,
    any other name takes a CRC-32 of the name (the same in every store)."""
    name = strip_chr(chrom)
    if name.upper() in CHROMOSOME_ORDER:
        return CHROMOSOME_ORDER.index(name.upper())
    if name.isdigit():
        return len(CHROMOSOME_ORDER) + int(name) - 23
    return len(CHROMOSOME_ORDER) + zlib.crc32(name.encode())


def chromosome_folds(chroms, n_folds: int = 8) -> dict[str, int]:
    """The fold (1..``n_folds``) of each distinct chromosome of ``chroms``, fixed by its name:
    ``chromosome_position(name) % n_folds + 1`` (see the module docstring).

    Parameters
    ----------
    chroms : iterable of str
        Chromosome names (repeats allowed).
    n_folds : int
        Number of folds; must not exceed the number of distinct chromosomes.

    Returns
    -------
    dict
        chromosome name (as given) -> fold number; independent of which other names occur.
    """
    names = sorted(set(map(str, chroms)), key=natural_key)
    if n_folds < 2:
        raise UsageError(f"chromosome folds need --folds >= 2, got {n_folds}")
    if len(names) < n_folds:
        raise UsageError(f"{n_folds} chromosome folds asked for but the data has only "
                         f"{len(names)} chromosomes ({', '.join(names)})")
    return {name: chromosome_position(name) % n_folds + 1 for name in names}


def interval_clusters(chroms, starts, ends) -> np.ndarray:
    """Cluster id of each interval; intervals that overlap, transitively, share an id.

    Sorting by (chromosome, start) and comparing each start with the running maximum
    end of the intervals before it finds the clusters in O(n log n).

    Parameters
    ----------
    chroms, starts, ends : array-like, shape (n,)
        Half-open intervals [start, end).

    Returns
    -------
    np.ndarray, shape (n,), int64
        Cluster ids in 0..n_clusters-1.
    """
    chrom_codes = pd.factorize(np.asarray(chroms, dtype=object))[0]
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    n = starts.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((starts, chrom_codes))
    c, s, e = chrom_codes[order], starts[order], ends[order]
    # Running max end within each chromosome: offset chromosomes so maxima never carry over.
    span = int(max(e.max(), s.max()) - min(s.min(), 0) + 1)
    running = np.maximum.accumulate(e + c * span) - c * span
    new_cluster = np.ones(n, dtype=bool)
    new_cluster[1:] = (c[1:] != c[:-1]) | (s[1:] >= running[:-1])
    sorted_ids = np.cumsum(new_cluster) - 1
    ids = np.empty(n, dtype=np.int64)
    ids[order] = sorted_ids
    return ids


def overlap_groups(enhancer_chrom, enhancer_start, enhancer_end,
                   promoter_chrom, promoter_start, promoter_end, same=None) -> np.ndarray:
    """Group id of each pair: pairs linked by overlapping windows share a group.

    Two pairs are linked when any window of one (enhancer or promoter) overlaps any
    window of the other; groups are the connected components of that relation.

    Parameters
    ----------
    enhancer_chrom, ..., promoter_end : array-like, shape (n,)
        Window coordinates of each pair (the sequence the model sees, not just the element).
    same : array-like, shape (n,), optional
        Rows with equal ``same`` values are also forced into one group (e.g. ``source_row``
        so that augmented copies stay with their original).

    Returns
    -------
    np.ndarray, shape (n,), int64
    """
    n = len(enhancer_start)
    chroms = np.concatenate([np.asarray(enhancer_chrom, dtype=object),
                             np.asarray(promoter_chrom, dtype=object)])
    starts = np.concatenate([np.asarray(enhancer_start), np.asarray(promoter_start)])
    ends = np.concatenate([np.asarray(enhancer_end), np.asarray(promoter_end)])
    clusters = interval_clusters(chroms, starts, ends)
    # Bipartite graph pair -> window cluster (-> extra key); its components are the groups.
    rows = [np.tile(np.arange(n), 2)]
    cols = [n + clusters]
    n_nodes = n + int(clusters.max(initial=-1)) + 1
    if same is not None:
        keys = pd.factorize(np.asarray(same))[0]
        rows.append(np.arange(n))
        cols.append(n_nodes + keys)
        n_nodes += int(keys.max(initial=-1)) + 1
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(r.size, dtype=np.int8), (r, c)), shape=(n_nodes, n_nodes))
    _, labels = connected_components(graph, directed=False)
    return pd.factorize(labels[:n])[0].astype(np.int64)


def group_folds(labels, groups, n_folds: int, seed: int = 0) -> np.ndarray:
    """Assign whole groups to folds 1..``n_folds``, stratified by whether a group has a positive.

    Groups are shuffled with ``seed`` and dealt round-robin within each stratum.

    Returns
    -------
    np.ndarray, shape (n,), int64
        The fold of each row.
    """
    groups = np.asarray(groups)
    labels = np.asarray(labels, dtype=np.float64)
    uniq, inverse = np.unique(groups, return_inverse=True)
    positive = np.zeros(uniq.size, dtype=np.int8)
    np.maximum.at(positive, inverse, (labels > 0).astype(np.int8))
    rng = np.random.default_rng(seed)
    order = rng.permutation(uniq.size)
    order = order[np.argsort(-positive[order], kind="stable")]
    group_fold = np.empty(uniq.size, dtype=np.int64)
    rank = np.empty(uniq.size, dtype=np.int64)
    for stratum in (1, 0):
        members = order[positive[order] == stratum]
        rank[members] = np.arange(members.size)
    # Offset the negative stratum so small strata do not all start in fold 1.
    n_pos = int(positive.sum())
    group_fold[:] = (rank + np.where(positive == 1, 0, n_pos)) % n_folds + 1
    return group_fold[inverse]


def _fill_by_capacity(weights: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Fold index (0-based) of consecutive items of ``weights`` poured into folds of ``capacity``.

    Capacities are rescaled to the total weight; an item goes to the fold its weight's midpoint
    falls in, so each fold overshoots by at most half an item.
    """
    total = float(weights.sum())
    if weights.size == 0 or total == 0:
        return np.arange(weights.size) % capacity.size
    capacity = np.clip(capacity, 0, None)
    capacity = capacity if capacity.sum() > 0 else np.ones(capacity.size)
    edges = np.cumsum(capacity / capacity.sum() * total)
    mid = np.cumsum(weights) - weights / 2.0
    return np.minimum(np.searchsorted(edges, mid, side="right"), capacity.size - 1)


def balanced_group_folds(labels, groups, n_folds: int, seed: int = 0,
                         large_share: float = 0.01) -> np.ndarray:
    """Assign whole groups to folds 1..``n_folds`` with about 1/K of the rows and positives each.

    Large groups (over ``large_share`` of a fold's rows or positives; at most
    ``2 K / large_share`` of them) go first, largest first, each to the fold whose rows and
    positives, as shares of their targets, stay lowest with it (the larger of the two).
    The small rest, in seeded random order, fill the remaining room: groups holding a
    positive by positives, then the others by rows. Fold numbers are finally permuted with
    ``seed``, so the largest group may land in any fold.

    Returns
    -------
    np.ndarray, shape (n,), int64
        The fold of each row.
    """
    groups = np.asarray(groups)
    labels = np.asarray(labels, dtype=np.float64)
    uniq, inverse = np.unique(groups, return_inverse=True)
    size = np.bincount(inverse, minlength=uniq.size).astype(np.float64)
    positives = np.bincount(inverse, weights=(labels > 0).astype(np.float64), minlength=uniq.size)
    target_rows = max(size.sum(), 1.0) / n_folds
    target_pos = max(positives.sum(), 1.0) / n_folds
    rng = np.random.default_rng(seed)
    order = rng.permutation(uniq.size)
    weight = size / target_rows + positives / target_pos
    order = order[np.argsort(-weight[order], kind="stable")]
    is_large = (size[order] > large_share * target_rows) | (positives[order] > large_share * target_pos)
    group_fold = np.empty(uniq.size, dtype=np.int64)
    rows_in, pos_in = np.zeros(n_folds), np.zeros(n_folds)
    for g in order[is_large]:
        load = np.maximum((rows_in + size[g]) / target_rows, (pos_in + positives[g]) / target_pos)
        f = int(np.argmin(load))
        group_fold[g] = f
        rows_in[f] += size[g]
        pos_in[f] += positives[g]
    rest = rng.permutation(order[~is_large])
    with_pos, without = rest[positives[rest] > 0], rest[positives[rest] == 0]
    group_fold[with_pos] = _fill_by_capacity(positives[with_pos], target_pos - pos_in)
    rows_in += np.bincount(group_fold[with_pos], weights=size[with_pos], minlength=n_folds)
    group_fold[without] = _fill_by_capacity(size[without], target_rows - rows_in)
    return rng.permutation(n_folds)[group_fold][inverse] + 1


def _holdout(rows: np.ndarray, labels, groups, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` into (kept, held out) with about ``fraction`` of the groups held out."""
    if rows.size == 0 or fraction <= 0:
        return rows, rows[:0]
    n_parts = max(2, int(round(1.0 / fraction)))
    folds = group_folds(np.asarray(labels)[rows], np.asarray(groups)[rows], n_parts, seed)
    return rows[folds != 1], rows[folds == 1]


def _pair_chrom(table: pd.DataFrame) -> np.ndarray:
    return table["enhancer_chrom"].astype(str).to_numpy()


def make_split(table: pd.DataFrame, scheme: str = "chrom", n_folds: int = 8, fold: int = 1,
               seed: int = 0, val_fraction: float = 0.1, windows: pd.DataFrame | None = None,
               train_cells=None, test_cells=None) -> Split:
    """Split the rows of a pair table.

    Parameters
    ----------
    table : DataFrame
        Canonical pair columns, ``label``, and optionally ``source_row`` (augmented copies of a
        pair share it and always land in the same part) and ``cell_type``.
    scheme : {"chrom", "chrom_inner", "chrom12", "random", "naive", "stratified", "cell"}
        See the module docstring.
    n_folds, fold : int
        Number of folds and the test fold (1-based). ``chrom12`` always has 12 folds.
    seed : int
        Seed of the random schemes and of the validation draw.
    val_fraction : float
        Share of training groups held out for validation (random, naive, stratified,
        chrom_inner and cell schemes).
    windows : DataFrame, optional
        Window coordinates (same six columns as the pair table) used for overlap groups;
        the element coordinates of ``table`` are used when absent.
    train_cells, test_cells : list of str, optional
        Cell types of the ``cell`` scheme.

    Returns
    -------
    Split
    """
    if scheme not in SCHEMES:
        raise UsageError(f"unknown split '{scheme}'; choose one of {', '.join(SCHEMES)}")
    n = len(table)
    labels = table["label"].to_numpy(dtype=np.float64) if "label" in table else np.zeros(n)
    labels = np.where(np.isnan(labels), 0, labels)
    source = table["source_row"].to_numpy() if "source_row" in table else np.arange(n)
    all_rows = np.arange(n, dtype=np.int64)
    info = {"scheme": scheme, "fold": int(fold), "seed": int(seed)}

    def groups_for(overlap_aware: bool) -> np.ndarray:
        if not overlap_aware:
            return pd.factorize(source)[0]
        w = windows if windows is not None else table
        return overlap_groups(w["enhancer_chrom"], w["enhancer_start"], w["enhancer_end"],
                              w["promoter_chrom"], w["promoter_start"], w["promoter_end"], same=source)

    if scheme in ("chrom", "chrom_inner", "chrom12"):
        chroms = _pair_chrom(table)
        if scheme in ("chrom", "chrom_inner"):
            if not 1 <= fold <= n_folds:
                raise UsageError(f"--fold must be in 1..{n_folds}, got {fold}")
            fold_of = chromosome_folds(chroms, n_folds)
            val_fold = fold % n_folds + 1
            test_set = {c for c, f in fold_of.items() if f == fold}
            val_set = {c for c, f in fold_of.items() if f == val_fold}
            info["n_folds"] = int(n_folds)
        else:
            if not 1 <= fold <= 12:
                raise UsageError(f"--split chrom12 has folds 1..12, got {fold}")
            val_names, test_names = CHROM12_FOLDS[fold]
            names = set(chroms)
            test_set = {c for c in names if strip_chr(c) in test_names}
            val_set = {c for c in names if strip_chr(c) in val_names}
            info["n_folds"] = 12
        is_test = np.isin(chroms, sorted(test_set))
        is_val = np.isin(chroms, sorted(val_set))
        # Augmented copies follow the chromosome of their first row.
        first = pd.Series(np.arange(n)).groupby(source).transform("min").to_numpy()
        is_test, is_val = is_test[first], is_val[first]
        info["test_chroms"] = sorted(test_set, key=natural_key)
        if scheme == "chrom_inner":
            # Validation from within the K - 1 training folds, by overlap group (source_row included).
            train, val = _holdout(all_rows[~is_test], labels, groups_for(True), val_fraction, seed + 1)
            info["train_chroms"] = sorted(set(fold_of) - test_set, key=natural_key)
            return Split(np.sort(train), np.sort(val), all_rows[is_test], info)
        info["val_chroms"] = sorted(val_set, key=natural_key)
        return Split(all_rows[~is_test & ~is_val], all_rows[is_val], all_rows[is_test], info)

    if scheme == "cell":
        if not train_cells or not test_cells:
            raise UsageError("--split cell needs --train-cells and --test-cells")
        if "cell_type" not in table:
            raise UsageError("--split cell needs a cell_type column in the data")
        cells = table["cell_type"].astype(str).to_numpy()
        missing = sorted((set(train_cells) | set(test_cells)) - set(cells))
        if missing:
            raise UsageError(f"cell types not in the data: {', '.join(missing)}; "
                             f"present: {', '.join(sorted(set(cells)))}")
        groups = groups_for(True)
        train = all_rows[np.isin(cells, list(train_cells))]
        test = all_rows[np.isin(cells, list(test_cells))]
        train, val = _holdout(train, labels, groups, val_fraction, seed)
        info.update(train_cells=list(train_cells), test_cells=list(test_cells))
        return Split(np.sort(train), np.sort(val), np.sort(test), info)

    if scheme == "stratified":
        n_folds = FIXED_FOLDS["stratified"]  # EPIANN's 90/10
    if not 1 <= fold <= n_folds:
        raise UsageError(f"--fold must be in 1..{n_folds}, got {fold}")
    groups = groups_for(scheme == "random")
    assign = balanced_group_folds if scheme == "random" else group_folds
    row_fold = assign(labels, groups, n_folds, seed)
    test = all_rows[row_fold == fold]
    train, val = _holdout(all_rows[row_fold != fold], labels, groups, val_fraction, seed + 1)
    info.update(n_folds=int(n_folds), n_groups=int(np.unique(groups).size))
    return Split(np.sort(train), np.sort(val), np.sort(test), info)
