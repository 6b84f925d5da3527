"""Size-balanced group-to-fold assignment of the overlap-aware random split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from epitools.data.splits import balanced_group_folds, group_folds, make_split, overlap_groups


def _heavy_tailed_groups(n_groups=300, seed=0):
    """Group ids of rows whose group sizes follow a heavy tail (a few groups hold most rows)."""
    rng = np.random.default_rng(seed)
    sizes = np.minimum((rng.pareto(1.2, n_groups) + 1) * 5, 900).astype(int)
    groups = np.repeat(np.arange(n_groups), sizes)
    labels = (rng.random(groups.size) < 0.1).astype(int)
    return groups, labels


def _shares(fold, weights, k):
    return np.bincount(fold, weights=weights, minlength=k + 1)[1:] / weights.sum()


def test_balanced_folds_are_close_to_one_kth():
    groups, labels = _heavy_tailed_groups()
    k = 5
    assert np.bincount(groups).max() < groups.size / k  # no single group is bigger than a fold
    fold = balanced_group_folds(labels, groups, k, seed=0)
    rows = _shares(fold, np.ones(groups.size), k)
    pos = _shares(fold, labels.astype(float), k)
    assert np.abs(rows - 1 / k).max() < 0.02, rows
    assert np.abs(pos - 1 / k).max() < 0.03, pos
    # the size-blind dealing is much less even on the same groups
    dealt = _shares(group_folds(labels, groups, k, seed=0), np.ones(groups.size), k)
    assert np.abs(dealt - 1 / k).max() > 2 * np.abs(rows - 1 / k).max()


def test_balanced_folds_keep_groups_whole_and_follow_the_seed():
    groups, labels = _heavy_tailed_groups(seed=1)
    fold = balanced_group_folds(labels, groups, 4, seed=3)
    per_group = pd.Series(fold).groupby(groups).nunique()
    assert (per_group == 1).all()
    assert set(fold) == {1, 2, 3, 4}
    assert np.array_equal(fold, balanced_group_folds(labels, groups, 4, seed=3))
    assert not np.array_equal(fold, balanced_group_folds(labels, groups, 4, seed=4))


def test_random_split_uses_balanced_folds_and_naive_split_is_unchanged():
    rng = np.random.default_rng(0)
    n = 3000
    # a few hubs: promoters reused by many enhancers make large overlap groups
    hub = rng.random(n) < 0.3
    prom = np.where(hub, rng.integers(0, 5, n) * 1_000_000, rng.integers(10, 10_000, n) * 100_000 + 50_000)
    enh = rng.permutation(20_000)[:n] * 50_000 + 20_000  # distinct, never overlaps a promoter
    t = pd.DataFrame({"enhancer_chrom": "chr1", "enhancer_start": enh, "enhancer_end": enh + 500,
                      "promoter_chrom": "chr1", "promoter_start": prom, "promoter_end": prom + 2000,
                      "label": (rng.random(n) < 0.2).astype(int)})
    groups = overlap_groups(t.enhancer_chrom, t.enhancer_start, t.enhancer_end,
                            t.promoter_chrom, t.promoter_start, t.promoter_end)
    expect = balanced_group_folds(t["label"].to_numpy(), groups, 5, seed=2)
    sizes = []
    for fold in range(1, 6):
        s = make_split(t, "random", n_folds=5, fold=fold, seed=2)
        assert np.array_equal(s.test, np.flatnonzero(expect == fold))
        sizes.append(s.test.size / n)
        naive = make_split(t, "naive", n_folds=5, fold=fold, seed=2)
        dealt = group_folds(t["label"].to_numpy(), np.arange(n), 5, seed=2)
        assert np.array_equal(naive.test, np.flatnonzero(dealt == fold))
    assert max(sizes) - min(sizes) < 0.03, sizes


@pytest.mark.shared_data
def test_bengi_folds_are_balanced(shared_data):
    from epitools.io.pairs import read_pairs

    t = read_pairs(shared_data / "epi_pairs" / "BENGI_hg19" / "K562.HiC-Benchmark.v3.tsv.gz")
    sizes = [make_split(t, "random", n_folds=5, fold=f, seed=0).test.size / len(t) for f in range(1, 6)]
    assert sum(sizes) == pytest.approx(1.0)
    assert 0.18 < min(sizes) and max(sizes) < 0.22, sizes
