"""Augmentation plans and what training evaluates on an augmented store: every shifted copy
differs from its original, and validation / test score each source pair exactly once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from epitools.data.augment import augmentation_plan
from epitools.data.pair_store import build_pair_store
from epitools.errors import UsageError
from epitools.training.config import TrainConfig
from epitools.training.sources import PairSource
from test_genome import random_chroms, write_fasta


def test_shifted_copies_are_never_the_original():
    # With max_shift 1 there are 9 shift pairs; uniform draws would give (0, 0) to ~1/9 of the copies.
    plan = augmentation_plan(np.ones(500), copies=4, max_shift=1, rng=np.random.default_rng(0))
    copy = np.arange(plan["source"].size) % 5 != 0  # rows 0, 5, ... are the originals
    shifts = np.c_[plan["enhancer_shift"], plan["promoter_shift"]][copy]
    assert len(shifts) == 2000
    assert not np.any((shifts == 0).all(axis=1))
    counts = pd.Series(map(tuple, shifts)).value_counts()
    assert len(counts) == 8 and counts.min() > 2000 / 8 * 0.7  # the other 8 pairs, about evenly
    assert np.all(np.abs(shifts) <= 1)


def test_plan_does_not_depend_on_the_chunk_size():
    labels = (np.arange(40) % 3 == 0).astype(int)
    whole = augmentation_plan(labels, copies=3, max_shift=7, rng=np.random.default_rng(5))
    rng = np.random.default_rng(5)
    parts = [augmentation_plan(labels[lo:lo + 9], copies=3, max_shift=7, rng=rng) for lo in range(0, 40, 9)]
    for key in ("enhancer_shift", "promoter_shift"):
        np.testing.assert_array_equal(whole[key], np.concatenate([p[key] for p in parts]))


def test_copies_without_a_shift_are_refused():
    with pytest.raises(UsageError, match="--max-shift 0"):
        augmentation_plan([1, 0], copies=2, max_shift=0, rng=np.random.default_rng(0))
    plain = augmentation_plan([1, 0], copies=0, max_shift=0)
    assert plain["source"].tolist() == [0, 1]


@pytest.fixture(scope="module")
def augmented_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("aug")
    genome = tmp / "g.fa"
    write_fasta(genome, random_chroms({f"chr{i}": 40_000 for i in range(1, 5)}, seed=3))
    n = 160
    rng = np.random.default_rng(1)
    chrom = np.array([f"chr{i % 4 + 1}" for i in range(n)])
    start = (np.arange(n) // 4) * 900 + 500
    prom = start + 300
    pairs = pd.DataFrame({"enhancer_chrom": chrom, "enhancer_start": start, "enhancer_end": start + 50,
                          "promoter_chrom": chrom, "promoter_start": prom, "promoter_end": prom + 40,
                          "label": (rng.random(n) < 0.4).astype(int), "pair_id": [f"p{i}" for i in range(n)]})
    out = tmp / "aug.h5"
    # Small shifts make (0, 0) copies likely if the plan allowed them.
    build_pair_store(pairs, out, genome, enhancer_length=100, promoter_length=80, augment_copies=5,
                     max_shift=1, seed=0)
    return str(out), pairs


@pytest.mark.parametrize("scheme", ["chrom", "chrom_inner", "stratified", "random"])
def test_evaluated_rows_are_one_per_source_pair(augmented_store, tmp_path, scheme):
    """The rows training scores (source.originals of the validation and test parts) hold each
    source pair of that part once: augmented copies never add test or validation rows."""
    path, pairs = augmented_store
    source = PairSource(path)
    try:
        assert len(source.source_row) > len(pairs)  # the store holds copies
        folds = 10 if scheme == "stratified" else 4
        split = source.split(TrainConfig(data=path, model="simcnn", out=str(tmp_path), split=scheme,
                                         folds=folds, fold=2))
        for part in (split.val, split.test):
            rows = source.originals(part)
            assert len(rows) == len(set(source.source_row[part]))
            assert np.array_equal(np.sort(source.source_row[rows]), np.unique(source.source_row[part]))
        train_src = set(source.source_row[split.train])
        assert not train_src & set(source.source_row[np.r_[split.val, split.test]])
    finally:
        source.close()
