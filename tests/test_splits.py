"""Splits: chromosome folds, EPInformer 12 folds, overlap-aware groups, cross-cell-line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from epitools.data.splits import (CHROM12_FOLDS, chromosome_folds, interval_clusters, make_split,
                                  overlap_groups)
from epitools.errors import UsageError


def _table(n=400, n_chroms=8, seed=0, spacing=2_000, width=1_500):
    rng = np.random.default_rng(seed)
    chrom = np.array([f"chr{i % n_chroms + 1}" for i in range(n)], dtype=object)
    # Dense placement: many windows overlap their neighbours on the same chromosome.
    start = (np.arange(n) // n_chroms) * spacing + rng.integers(0, 500, n)
    prom = start + rng.integers(-20_000, 20_000, n).clip(-start)
    return pd.DataFrame({
        "enhancer_chrom": chrom, "enhancer_start": start, "enhancer_end": start + width,
        "promoter_chrom": chrom, "promoter_start": prom, "promoter_end": prom + width,
        "label": (rng.random(n) < 0.3).astype(int), "cell_type": np.where(np.arange(n) % 3, "K562", "GM12878"),
    })


def _brute_groups(t):
    """Reference: union-find over every pair of overlapping windows (O(n²), tests only)."""
    n = len(t)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    wins = [[(r.enhancer_chrom, r.enhancer_start, r.enhancer_end),
             (r.promoter_chrom, r.promoter_start, r.promoter_end)] for r in t.itertuples()]
    for i in range(n):
        for j in range(i + 1, n):
            if any(a[0] == b[0] and a[1] < b[2] and b[1] < a[2] for a in wins[i] for b in wins[j]):
                parent[find(i)] = find(j)
    return np.array([find(i) for i in range(n)])


def _same_partition(a, b):
    return (pd.crosstab(a, b) > 0).sum(axis=1).max() == 1 and (pd.crosstab(b, a) > 0).sum(axis=1).max() == 1


def test_interval_clusters_are_transitive_and_per_chromosome():
    ids = interval_clusters(["a", "a", "a", "b", "a", "a"], [0, 5, 20, 0, 8, 30], [10, 8, 30, 5, 21, 31])
    assert ids[0] == ids[1] == ids[2] == ids[4]  # 0-10 ~ 8-21 ~ 20-30 chain
    assert ids[3] != ids[0]  # other chromosome
    assert ids[5] != ids[0]  # half-open: 30-31 does not touch 20-30


def test_overlap_groups_match_brute_force():
    t = _table(n=160)
    fast = overlap_groups(t.enhancer_chrom, t.enhancer_start, t.enhancer_end,
                          t.promoter_chrom, t.promoter_start, t.promoter_end)
    slow = _brute_groups(t)
    assert 1 < np.unique(fast).size < len(t)
    assert _same_partition(fast, slow)


def test_random_split_never_straddles_overlap_groups():
    t = _table()
    groups = overlap_groups(t.enhancer_chrom, t.enhancer_start, t.enhancer_end,
                            t.promoter_chrom, t.promoter_start, t.promoter_end)
    s = make_split(t, "random", n_folds=5, fold=2, seed=3)
    assert not set(groups[s.test]) & set(groups[np.r_[s.train, s.val]])
    assert not set(groups[s.val]) & set(groups[s.train])
    assert sorted(np.r_[s.train, s.val, s.test]) == list(range(len(t)))
    # The naive split does leak on this dense table.
    naive = make_split(t, "naive", n_folds=5, fold=2, seed=3)
    assert set(groups[naive.test]) & set(groups[naive.train])


def test_random_folds_partition_rows_and_are_stratified():
    t = _table(n=600, spacing=50_000)
    tests = [make_split(t, "random", n_folds=4, fold=f, seed=1).test for f in range(1, 5)]
    assert sorted(np.concatenate(tests)) == list(range(len(t)))
    rate = t["label"].mean()
    for rows in tests:
        assert abs(t["label"].to_numpy()[rows].mean() - rate) < 0.08
    again = make_split(t, "random", n_folds=4, fold=1, seed=1)
    assert np.array_equal(again.test, tests[0])


def test_augmented_copies_stay_with_their_original():
    t = _table(n=200, spacing=50_000)
    t = t.loc[np.repeat(t.index, 3)].reset_index(drop=True)
    t["source_row"] = np.repeat(np.arange(200), 3)
    for scheme in ("random", "naive", "chrom"):
        s = make_split(t, scheme, n_folds=4, fold=1, seed=0)
        for part in (s.train, s.val, s.test):
            src = set(t["source_row"].to_numpy()[part])
            others = np.setdiff1d(np.arange(len(t)), part)
            assert not src & set(t["source_row"].to_numpy()[others]), scheme


def test_chromosome_folds_are_deterministic_for_any_genome():
    human = [f"chr{c}" for c in [*range(1, 23), "X"]]
    folds = chromosome_folds(reversed(human), 8)
    assert [c for c, f in folds.items() if f == 1] == ["chr1", "chr9", "chr17"]
    assert folds["chrX"] == 7 and folds["chr16"] == 8
    sim = chromosome_folds([f"chr{i}" for i in range(1, 9)], 4)
    assert sim == {"chr1": 1, "chr2": 2, "chr3": 3, "chr4": 4, "chr5": 1, "chr6": 2, "chr7": 3, "chr8": 4}
    with pytest.raises(UsageError, match="only 8 chromosomes"):
        chromosome_folds([f"chr{i}" for i in range(1, 9)], 10)


def test_chrom_split_holds_out_whole_chromosomes():
    t = _table()
    s = make_split(t, "chrom", n_folds=4, fold=2)
    chroms = t["enhancer_chrom"].to_numpy()
    assert set(chroms[s.test]) == {"chr2", "chr6"}
    assert set(chroms[s.val]) == {"chr3", "chr7"}
    assert set(chroms[s.train]) == {"chr1", "chr4", "chr5", "chr8"}


def test_chrom12_scheme_matches_epinformer():
    assert CHROM12_FOLDS[1] == (("1", "11"), ("2", "12"))
    assert CHROM12_FOLDS[10] == (("10", "20"), ("11", "21"))
    assert CHROM12_FOLDS[11] == (("3", "21"), ("22", "X"))
    assert CHROM12_FOLDS[12] == (("2", "22"), ("1", "Y"))
    chroms = [str(c) for c in [*range(1, 23), "X", "Y"]]
    t = pd.DataFrame({"enhancer_chrom": chroms, "enhancer_start": 0, "enhancer_end": 1,
                      "promoter_chrom": chroms, "promoter_start": 0, "promoter_end": 1, "label": 0})
    s = make_split(t, "chrom12", fold=11)
    assert set(t.enhancer_chrom[s.test]) == {"22", "X"} and set(t.enhancer_chrom[s.val]) == {"3", "21"}
    tests = set()
    for fold in range(1, 13):
        tests |= set(t.enhancer_chrom[make_split(t, "chrom12", fold=fold).test])
    assert tests == set(chroms)  # every chromosome is tested once over the 12 folds
    with pytest.raises(UsageError):
        make_split(t, "chrom12", fold=13)


def test_cell_split():
    t = _table()
    s = make_split(t, "cell", train_cells=["K562"], test_cells=["GM12878"], val_fraction=0.2)
    cells = t["cell_type"].to_numpy()
    assert set(cells[s.test]) == {"GM12878"} and set(cells[np.r_[s.train, s.val]]) == {"K562"}
    assert 0.1 < len(s.val) / (len(s.val) + len(s.train)) < 0.35
    with pytest.raises(UsageError, match="HeLa"):
        make_split(t, "cell", train_cells=["K562"], test_cells=["HeLa"])
    with pytest.raises(UsageError):
        make_split(t, "bogus")


def test_chrom_inner_tests_chrom_fold_and_validates_within_the_training_folds():
    """EPIPAM's 8-fold: the test fold is chrom's, training covers the other K - 1 folds' chromosomes,
    and validation is drawn from them by overlap group (augmented copies included)."""
    t = _table(n=480)
    t = t.loc[np.repeat(t.index, 2)].reset_index(drop=True)  # one shifted copy per pair
    t["source_row"] = np.repeat(np.arange(480), 2)
    t.loc[1::2, ["enhancer_start", "enhancer_end"]] += 37
    chroms = t["enhancer_chrom"].to_numpy()
    groups = overlap_groups(t.enhancer_chrom, t.enhancer_start, t.enhancer_end,
                            t.promoter_chrom, t.promoter_start, t.promoter_end, same=t["source_row"])
    for fold in range(1, 5):
        inner = make_split(t, "chrom_inner", n_folds=4, fold=fold, seed=2, val_fraction=0.2)
        plain = make_split(t, "chrom", n_folds=4, fold=fold, seed=2)
        assert np.array_equal(inner.test, plain.test)
        test_chroms = set(chroms[inner.test])
        assert test_chroms == set(inner.info["test_chroms"]) and len(test_chroms) == 2
        assert not test_chroms & set(chroms[np.r_[inner.train, inner.val]])
        assert sorted(np.r_[inner.train, inner.val, inner.test]) == list(range(len(t)))
        # Validation comes from several training chromosomes, not one held-out fold.
        assert len(set(chroms[inner.val])) >= 3 and set(chroms[inner.val]) <= set(inner.info["train_chroms"])
        assert 0.1 < len(inner.val) / (len(inner.val) + len(inner.train)) < 0.3
        assert not set(groups[inner.val]) & set(groups[inner.train])
        src = t["source_row"].to_numpy()
        assert not set(src[inner.val]) & set(src[inner.train])
        labels = t["label"].to_numpy()
        assert 0 < labels[inner.val].mean() < 1
    with pytest.raises(UsageError, match="--fold"):
        make_split(t, "chrom_inner", n_folds=4, fold=5)


def test_chrom_inner_uses_window_groups_when_given():
    """Windows wider than the elements link pairs the element coordinates do not."""
    t = _table(n=200, spacing=3_000, width=100)
    wide = t.copy()
    for part in ("enhancer", "promoter"):
        wide[f"{part}_start"] -= 1_500
        wide[f"{part}_end"] += 1_500
    groups = overlap_groups(wide.enhancer_chrom, wide.enhancer_start, wide.enhancer_end,
                            wide.promoter_chrom, wide.promoter_start, wide.promoter_end)
    s = make_split(t, "chrom_inner", n_folds=4, fold=1, seed=0, val_fraction=0.2, windows=wide)
    assert len(s.val) and not set(groups[s.val]) & set(groups[s.train])


def test_epi_train_offers_chrom_inner_and_accepts_the_fixed_fold_count(tmp_path):
    """--split chrom_inner reads --folds; stratified has 10 fixed folds, so --folds 10 (as the
    pipeline passes for --split paper) is no contradiction while --folds 8 is refused."""
    import json

    from click.testing import CliRunner

    from _planted import make_store
    from epitools.cli.train import main

    store = make_store(tmp_path / "s.h5", n=200, copies=2)
    base = ["--data", store, "--model", "planted_cnn", "--epochs", "1", "--fold", "1"]
    res = CliRunner().invoke(main, [*base, "--split", "stratified", "--folds", "8", "-o", str(tmp_path / "r8")])
    assert res.exit_code == 2 and "is not used by --split stratified" in res.output, res.output
    for split, folds in (("stratified", "10"), ("chrom_inner", "4")):
        out = tmp_path / split
        res = CliRunner().invoke(main, [*base, "--split", split, "--folds", folds, "-o", str(out)])
        assert res.exit_code == 0, res.output
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["split"] == split and metrics["n"] > 0
    # chrom_inner fold 1 tests chr1: its 50 source pairs once each, not their augmented copies.
    assert metrics["n"] == 50
