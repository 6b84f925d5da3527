"""Pair store: encoding from a genome or inline sequences, augmentation, reading, Dataset."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from epitools.data.augment import augmentation_plan
from epitools.data.encoding import decode_codes, encode_sequence, kmer_ids, reverse_complement
from epitools.io.genome import Genome
from epitools.data.pair_store import build_pair_store
from epitools.io.store import open_store
from epitools.training.sources import load_batch
from test_genome import random_chroms, write_fasta

LE, LP = 300, 200


@pytest.fixture
def genome_path(tmp_path):
    path = tmp_path / "g.fa"
    write_fasta(path, random_chroms({"chr1": 5000, "chr2": 3000}, seed=1))
    return path


def make_pairs(n: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    e = rng.integers(500, 2500, n)
    p = rng.integers(500, 2500, n)
    e[0], p[1] = 10, 2950  # windows reaching past both chromosome ends
    chrom = np.where(np.arange(n) % 2, "chr2", "chr1")
    return pd.DataFrame({"enhancer_chrom": chrom, "enhancer_start": e, "enhancer_end": e + 50,
                         "promoter_chrom": chrom,
                         "promoter_start": p, "promoter_end": p + 40,
                         "label": (np.arange(n) % 3 == 0).astype(int),
                         "pair_id": [f"p{i}" for i in range(n)]})


def expected_window(genome, chrom, start, end, length, shift=0):
    mid = (start + end) // 2 - length // 2 + shift
    return decode_codes(genome.fetch_codes(chrom, mid, mid + length))


def test_store_round_trip_with_reverse_complement(tmp_path, genome_path):
    pairs = make_pairs()
    out = tmp_path / "s.h5"
    summary = build_pair_store(pairs, out, genome_path, enhancer_length=LE, promoter_length=LP,
                               reverse_complement=True, chunk_size=5)
    assert summary["pairs"] == 12 and summary["rows"] == 24
    assert summary["padded_windows"] == 4  # pairs 0 and 1, forward and reverse
    g = Genome(genome_path)
    with open_store(out) as store:
        assert len(store) == 24
        rows = store.read()
        assert rows["enhancer"].shape == (24, LE) and rows["enhancer"].dtype == np.uint8
        assert rows["promoter"].shape == (24, LP)
        for r in range(24):
            src = pairs.iloc[rows["source_row"][r]]
            enh = expected_window(g, src.enhancer_chrom, src.enhancer_start, src.enhancer_end, LE)
            pro = expected_window(g, src.promoter_chrom, src.promoter_start, src.promoter_end, LP)
            if rows["reverse_complement"][r]:
                enh = decode_codes(reverse_complement(encode_sequence(enh)))
                pro = decode_codes(reverse_complement(encode_sequence(pro)))
            assert decode_codes(rows["enhancer"][r]) == enh
            assert decode_codes(rows["promoter"][r]) == pro
            assert rows["pair_id"][r] == src.pair_id and rows["label"][r] == src.label
        assert rows["reverse_complement"].tolist() == [False, True] * 12
        # the 50 bp enhancer sits in the middle of its window; mirrored in the RC row
        assert rows["enhancer_element"][2].tolist() == [125, 175]
        assert rows["enhancer_element"][3].tolist() == [125, 175]
        table = store.pairs_table()
        assert list(table["enhancer_start"][::2]) == list(pairs["enhancer_start"])
        assert set(table["cell_type"]) == {""}


def test_store_attrs_and_provenance(tmp_path, genome_path):
    pairs_tsv = tmp_path / "pairs.tsv"
    make_pairs().to_csv(pairs_tsv, sep="\t", index=False)
    out = tmp_path / "s.h5"
    build_pair_store(pairs_tsv, out, genome_path, enhancer_length=LE, promoter_length=LP)
    with open_store(out) as store:
        a = store.attrs
    assert a["kind"] == "pairs" and a["encoding"] == "onehot"
    assert a["enhancer_length"] == LE and a["promoter_length"] == LP
    assert a["genome"] == str(genome_path.resolve()) and a["genome_checksum"].startswith("sha256:")
    assert a["source"] == str(pairs_tsv.resolve()) and a["source_checksum"].startswith("sha256:")
    assert a["tool_version"] and a["n_pairs"] == 12 and a["padded_windows"] == 2
    with h5py.File(out) as h5:
        # blosc is a registered HDF5 filter (hdf5plugin), not one of h5py's named ones
        assert "32001" in h5["enhancer"]._filters and h5["enhancer"].chunks[1] == LE
    assert not list(tmp_path.glob(".s.h5.tmp-*"))


def test_augmentation_reproducible_and_in_range(tmp_path, genome_path):
    pairs = make_pairs()
    a, b, c = (tmp_path / f"{x}.h5" for x in "abc")
    kw = dict(enhancer_length=LE, promoter_length=LP, augment_copies=10, max_shift=100)
    build_pair_store(pairs, a, genome_path, seed=3, chunk_size=4, **kw)
    build_pair_store(pairs, b, genome_path, seed=3, chunk_size=7, **kw)
    build_pair_store(pairs, c, genome_path, seed=4, chunk_size=4, **kw)
    ra, rb, rc = (open_store(p).read() for p in (a, b, c))
    n_pos = int(pairs["label"].sum())
    assert len(ra["label"]) == 12 + 10 * n_pos
    for key in ("enhancer", "promoter", "enhancer_shift", "promoter_shift"):
        np.testing.assert_array_equal(ra[key], rb[key])  # same seed: same rows, any chunk size
    assert not np.array_equal(ra["enhancer_shift"], rc["enhancer_shift"])
    shifted = ra["enhancer_shift"] != 0
    assert np.all(np.abs(ra["enhancer_shift"]) <= 100) and np.all(np.abs(ra["promoter_shift"]) <= 100)
    assert np.all(ra["label"][shifted] == 1)
    assert np.bincount(ra["source_row"]).tolist() == [11 if lab else 1 for lab in pairs["label"]]
    g = Genome(genome_path)
    r = int(np.flatnonzero(shifted)[0])
    src = pairs.iloc[ra["source_row"][r]]
    assert decode_codes(ra["enhancer"][r]) == expected_window(
        g, src.enhancer_chrom, src.enhancer_start, src.enhancer_end, LE, int(ra["enhancer_shift"][r]))


def test_augmentation_plan_layout():
    plan = augmentation_plan([1, 0], copies=2, max_shift=5, reverse_complement=True,
                             rng=np.random.default_rng(0))
    assert plan["source"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1]
    assert plan["reverse_complement"].tolist() == [False, True] * 4
    assert plan["enhancer_shift"][0] == 0 and plan["enhancer_shift"][6] == 0
    assert plan["enhancer_shift"][2] == plan["enhancer_shift"][3]  # an RC row keeps its shift


def test_kmer_store(tmp_path, genome_path):
    pairs = make_pairs(4)
    onehot, kmer = tmp_path / "o.h5", tmp_path / "k.h5"
    build_pair_store(pairs, onehot, genome_path, enhancer_length=LE, promoter_length=LP)
    build_pair_store(pairs, kmer, genome_path, enhancer_length=LE, promoter_length=LP,
                     encoding="kmer", k=6)
    codes, ids = open_store(onehot).read(), open_store(kmer).read()
    assert ids["enhancer"].shape == (4, LE - 5) and ids["enhancer"].dtype == np.int16
    np.testing.assert_array_equal(ids["promoter"], kmer_ids(codes["promoter"], 6))
    batch = load_batch(kmer, [0])
    assert batch["enhancer"].shape == (1, LE - 5) and batch["enhancer"].dtype == torch.int64


def test_inline_sequences_need_no_genome(tmp_path):
    pairs = pd.DataFrame({"enhancer_seq": ["ACGTACGTAA", "GGG"], "promoter_seq": ["TTTTCCCCAAAA", "C"],
                          "label": [1, 0], "pair_id": ["a", "b"]})
    out = tmp_path / "inline.h5"
    summary = build_pair_store(pairs, out, enhancer_length=6, promoter_length=8)
    rows = open_store(out).read()
    assert [decode_codes(r) for r in rows["enhancer"]] == ["GTACGT", "NNGGGN"]  # crop, N-pad
    assert [decode_codes(r) for r in rows["promoter"]] == ["TTCCCCAA", "NNNNCNNN"]
    assert rows["enhancer_element"].tolist() == [[0, 6], [2, 5]]
    assert summary["padded_windows"] == 2


def test_read_by_index_any_order(tmp_path, genome_path):
    out = tmp_path / "s.h5"
    build_pair_store(make_pairs(40, seed=2), out, genome_path, enhancer_length=LE, promoter_length=LP)
    store = open_store(out)
    full = store.read()
    idx = np.array([39, 0, 5, 5, 17, 2])
    part = store.read(idx, fields=["enhancer", "pair_id", "label"])
    np.testing.assert_array_equal(part["enhancer"], full["enhancer"][idx])
    assert list(part["pair_id"]) == [f"p{i}" for i in idx]
    with pytest.raises(IndexError):
        store.read([40])


def test_open_store_rejects_other_files(tmp_path):
    other = tmp_path / "x.h5"
    with h5py.File(other, "w") as h5:
        h5.attrs["kind"] = "genes"
    from epitools.errors import InputError

    with pytest.raises(InputError, match="not a pair store"):
        open_store(other)


def test_blosc_and_lzf_stores_hold_the_same_rows(tmp_path, genome_path):
    pairs = make_pairs(5)
    lzf, blosc = tmp_path / "l.h5", tmp_path / "b.h5"
    build_pair_store(pairs, lzf, genome_path, enhancer_length=LE, promoter_length=LP, compression="lzf")
    build_pair_store(pairs, blosc, genome_path, enhancer_length=LE, promoter_length=LP)
    a, b = open_store(lzf).read(), open_store(blosc).read()
    for key in ("enhancer", "promoter", "pair_id", "label"):
        np.testing.assert_array_equal(a[key], b[key])
    assert open_store(blosc).attrs["compression"] == "blosc"
