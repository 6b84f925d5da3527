"""Training sources: batches of a pair store, one-hot expansion on the fly, the epoch resampler.

Moved here from test_store.py (the removed ``PairDataset``/``data.dataset.load_batch``): the
same behaviour is asserted through ``training.sources``, which is what training uses.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epitools.data.encoding import decode_codes
from epitools.data.pair_store import build_pair_store
from epitools.io.store import open_store
from epitools.training.sampling import positives_and_negatives, sampled_negative_count
from epitools.training.sources import PairSource, load_batch
from test_genome import random_chroms, write_fasta
from test_store import make_pairs


@pytest.fixture
def store_path(tmp_path):
    genome = tmp_path / "g.fa"
    write_fasta(genome, random_chroms({"chr1": 5000, "chr2": 3000}, seed=1))
    out = tmp_path / "s.h5"
    build_pair_store(make_pairs(10), out, genome)  # default 3000 / 2000 windows
    return out


def _decode_one_hot(x: torch.Tensor) -> str:
    """Base string of a (4, L) one-hot tensor; all-zero columns are N."""
    return decode_codes(x.argmax(0).numpy().astype(np.uint8) + 4 * (x.sum(0) == 0).numpy().astype(np.uint8))


def test_batches_expand_base_codes_to_one_hot(store_path):
    codes = open_store(store_path).read([3])
    source = PairSource(store_path)
    batch = source.batch([1, 3, 5], "cpu")
    assert batch["enhancer"].shape == (3, 4, 3000) and batch["promoter"].shape == (3, 4, 2000)
    assert batch["enhancer"].dtype == torch.float32 and batch["index"].tolist() == [1, 3, 5]
    assert batch["label"].dtype == torch.float32 and batch["label"].shape == (3,)
    assert _decode_one_hot(batch["enhancer"][1]) == decode_codes(codes["enhancer"][0])
    # The in-memory source and a read of only the asked rows give the same batch.
    direct = load_batch(store_path, [5, 1], device="cpu")
    assert direct["enhancer"].shape == (2, 4, 3000) and direct["index"].tolist() == [5, 1]
    np.testing.assert_array_equal(direct["enhancer"][1].numpy(), batch["enhancer"][0].numpy())
    np.testing.assert_array_equal(direct["promoter"][0].numpy(), batch["promoter"][2].numpy())
    source.close()


def test_epoch_loader_batches_cover_the_rows_once(store_path):
    source = PairSource(store_path)
    loader = source.loader([1, 3, 5], batch_size=2, generator=torch.Generator().manual_seed(0), device="cpu")
    batches = [source.to_device(b, "cpu") for b in loader.epoch()]
    assert len(loader) == len(batches) == 2
    assert batches[0]["enhancer"].shape == (2, 4, 3000) and batches[0]["label"].shape == (2,)
    assert batches[1]["promoter"].shape == (1, 4, 2000)
    assert sorted(np.concatenate([b["index"].numpy() for b in batches])) == [1, 3, 5]
    source.close()


def test_resampler_keeps_every_positive_and_n_negatives_per_positive():
    labels = np.r_[np.zeros(5), np.ones(3), np.zeros(20), -np.ones(4)]
    for generator in (torch.Generator().manual_seed(1), np.random.default_rng(1)):
        rows = positives_and_negatives(labels, 2, generator)
        assert rows.size == 3 + 6 == 3 + sampled_negative_count(labels, 2)
        assert rows[:3].tolist() == [5, 6, 7] and np.unique(rows).size == rows.size
        assert (labels[rows[3:]] == 0).all()  # unknown labels are never drawn
    # Too few negatives: all of them, and the same draw for the same seed.
    rows = positives_and_negatives(labels, 100, np.random.default_rng(0))
    assert sorted(rows[3:]) == np.flatnonzero(labels == 0).tolist()
    a = positives_and_negatives(labels, 2, torch.Generator().manual_seed(3))
    b = positives_and_negatives(labels, 2, torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(a, b)
