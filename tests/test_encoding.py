"""Base codes, one-hot, k-mer ids and reverse complement."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from epitools.data.encoding import (decode_codes, encode_sequence, kmer_ids, one_hot,
                                    reverse_complement)
from epitools.errors import UsageError


def test_encode_decode_round_trip_and_unknown_letters():
    codes = encode_sequence("ACGTacgtNnRY")
    assert codes.dtype == np.uint8
    assert codes.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4, 4, 4, 4]
    assert decode_codes(codes) == "ACGTACGTNNNN"
    assert decode_codes(encode_sequence(b"GATTACA")) == "GATTACA"


def test_one_hot_numpy_and_torch_agree_and_n_is_zero():
    codes = encode_sequence("ACGTN")
    expected = np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0]],
                        dtype=np.float32)
    oh = one_hot(codes)
    assert oh.shape == (4, 5) and oh.dtype == np.float32
    np.testing.assert_array_equal(oh, expected)
    batch = torch.from_numpy(np.stack([codes, codes[::-1].copy()]))
    oh_t = one_hot(batch)
    assert oh_t.shape == (2, 4, 5) and oh_t.dtype == torch.float32
    np.testing.assert_array_equal(oh_t[0].numpy(), expected)
    assert oh_t[1, :, 0].sum() == 0  # N first after reversal


def test_kmer_ids_hand_computed():
    assert kmer_ids(encode_sequence("AAAAAAC")).tolist() == [1, 2]
    assert kmer_ids(encode_sequence("TTTTTT")).tolist() == [4096]
    # k=2: AC -> 1 + 1, CG -> 1 + 6, GT -> 1 + 11
    assert kmer_ids(encode_sequence("ACGT"), k=2).tolist() == [2, 7, 12]
    # any k-mer touching the N is 0
    ids = kmer_ids(encode_sequence("ACGNTTA"), k=2)
    assert ids.tolist() == [2, 7, 0, 0, 16, 13]
    assert kmer_ids(encode_sequence("ACGT" * 3), k=6).dtype == np.int16


def test_kmer_ids_batched_matches_rows():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, size=(3, 50)).astype(np.uint8)
    batched = kmer_ids(codes, k=4)
    assert batched.shape == (3, 47)
    for row in range(3):
        np.testing.assert_array_equal(batched[row], kmer_ids(codes[row], k=4))


def test_kmer_ids_follow_dna2vec_row_convention(shared_data):
    vectors = np.load(shared_data / "embeddings" / "dna2vec_6mer_100d.npy")
    assert vectors.shape[0] == 4097
    # every 6-mer in lexicographic order over ACGT maps to rows 1..4096, N-containing to row 0
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=6)]
    ids = kmer_ids(encode_sequence("".join(kmers)).reshape(len(kmers), 6))[:, 0]
    np.testing.assert_array_equal(ids, np.arange(1, 4097))
    assert np.all(vectors[0] == 0)  # the null token row
    assert np.all(np.abs(vectors[ids]).sum(axis=1) > 0)
    assert kmer_ids(encode_sequence("ACGTNA"))[0] == 0


def test_reverse_complement_numpy_and_torch():
    codes = encode_sequence("AACGTN")
    assert decode_codes(reverse_complement(codes)) == "NACGTT"
    t = torch.from_numpy(np.stack([codes, codes]))
    rc = reverse_complement(t)
    assert decode_codes(rc[1]) == "NACGTT"
    np.testing.assert_array_equal(reverse_complement(reverse_complement(codes)), codes)


def test_kmer_rejects_short_sequence():
    with pytest.raises(UsageError, match="shorter than k"):
        kmer_ids(encode_sequence("ACG"), k=6)
