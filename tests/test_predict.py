"""epi-predict: element cache equals the full network, on-the-fly encoding equals epi-encode,
encoding mismatches are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from _planted import PlantedCNN, make_store
from epitools.cli.encode import main as encode_cli
from epitools.cli.predict import main as predict_cli
from epitools.io.checkpoint import make_checkpoint, save_checkpoint
from epitools.training.predict import score_pairs, unique_rows


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = PlantedCNN(enhancer_length=120, promoter_length=80).eval()
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_checkpoint(make_checkpoint(model, "planted_cnn", "onehot", {"fold": 3, "enhancer_length": 120,
                                                                      "promoter_length": 80}), path)
    return path


def test_unique_rows():
    a = np.array([[1, 2], [3, 4], [1, 2], [0, 0], [3, 4]], dtype=np.uint8)
    first, inverse = unique_rows(a)
    assert len(first) == 3
    assert np.array_equal(a[first][inverse], a)


def test_element_cache_gives_identical_scores():
    torch.manual_seed(1)
    model = PlantedCNN(enhancer_length=120, promoter_length=80).eval()
    rng = np.random.default_rng(0)
    enh = rng.integers(0, 5, size=(12, 120), dtype=np.uint8)
    pro = rng.integers(0, 5, size=(5, 80), dtype=np.uint8)
    ei, pi = np.meshgrid(np.arange(12), np.arange(5), indexing="ij")
    cached = score_pairs(model, enh[ei.ravel()], pro[pi.ravel()], "onehot", batch_size=16)
    plain = score_pairs(model, enh[ei.ravel()], pro[pi.ravel()], "onehot", batch_size=7, element_cache=False)
    assert cached.shape == (60,)
    assert np.abs(cached - plain).max() < 1e-6
    assert np.unique(cached).size > 10


def _genome(path, rng):
    seqs = {c: "".join(rng.choice(list("ACGT"), size=6000)) for c in ("chr1", "chr2")}
    path.write_text("".join(f">{c}\n{s}\n" for c, s in seqs.items()))
    return path


def _pairs(path, rng, n=40):
    enh_start = rng.choice(np.arange(100, 5800, 60), size=8, replace=False)
    rows = []
    for i in range(n):
        chrom = "chr1" if i % 2 else "chr2"
        e = int(enh_start[i % 8])
        p = int(enh_start[(i * 3) % 8]) + 7
        rows.append((chrom, e, e + 50, chrom, p, p + 30, f"pair{i}", i % 2))
    table = pd.DataFrame(rows, columns=["enhancer_chrom", "enhancer_start", "enhancer_end", "promoter_chrom",
                                        "promoter_start", "promoter_end", "pair_id", "label"])
    table.loc[0, "enhancer_start"] = 5  # a window past the chromosome start (N padded)
    table.to_csv(path, sep="\t", index=False)
    return path


def test_predict_from_pairs_and_genome_matches_the_encoded_store(tmp_path, checkpoint):
    rng = np.random.default_rng(3)
    genome = _genome(tmp_path / "g.fa", rng)
    pairs = _pairs(tmp_path / "pairs.tsv", rng)
    runner = CliRunner()
    res = runner.invoke(encode_cli, ["pairs", "--pairs", str(pairs), "--genome", str(genome), "--enhancer-length", "120",
                                     "--promoter-length", "80", "-q", "-o", str(tmp_path / "s.h5")])
    assert res.exit_code == 0, res.output
    for args, name in (([], "a"), (["--no-element-cache"], "b"), (["--chunk-size", "7"], "c")):
        res = runner.invoke(predict_cli, ["--model", str(checkpoint), "--data", str(tmp_path / "s.h5"),
                                          "-q", "-o", str(tmp_path / f"{name}.tsv"), *args])
        assert res.exit_code == 0, res.output
    res = runner.invoke(predict_cli, ["--model", str(checkpoint), "--pairs", str(pairs), "--genome",
                                      str(genome), "--chunk-size", "16", "-q", "-o", str(tmp_path / "d.tsv")])
    assert res.exit_code == 0, res.output
    a, b, c, d = (pd.read_csv(tmp_path / f"{x}.tsv", sep="\t") for x in "abcd")
    assert len(a) == len(d) == 40
    assert list(d["pair_id"]) == [f"pair{i}" for i in range(40)]
    assert {"score", "model", "fold"} <= set(d.columns) and set(d["fold"]) == {3}
    assert set(d["model"]) == {"planted_cnn"}
    for other in (b, c, d):
        merged = a.merge(other, on="pair_id")
        assert np.abs(merged["score_x"] - merged["score_y"]).max() < 1e-5


def test_encoding_mismatch_and_bad_usage_exit_2(tmp_path, checkpoint):
    kmer = make_store(tmp_path / "kmer.h5", n=20, encoding="kmer", k=4)
    runner = CliRunner()
    res = runner.invoke(predict_cli, ["--model", str(checkpoint), "--data", kmer, "-o", str(tmp_path / "o.tsv")])
    assert res.exit_code == 2 and "onehot" in res.output and "kmer" in res.output
    assert not (tmp_path / "o.tsv").exists()
    res = runner.invoke(predict_cli, ["--model", str(checkpoint), "-o", str(tmp_path / "o.tsv")])
    assert res.exit_code == 2
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    res = runner.invoke(predict_cli, ["--model", str(bad), "--data", kmer, "-o", str(tmp_path / "o.tsv")])
    assert res.exit_code == 2 and "bad.pt" in res.output


def test_store_predictions_skip_augmented_rows(tmp_path, checkpoint):
    store = make_store(tmp_path / "aug.h5", n=30, copies=3)
    runner = CliRunner()
    res = runner.invoke(predict_cli, ["--model", str(checkpoint), "--data", store, "-q", "-o", str(tmp_path / "p.tsv")])
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert len(pred) == 30 and pred["pair_id"].is_unique
    res = runner.invoke(predict_cli, ["--model", str(checkpoint), "--data", store, "--all-rows", "-q",
                                      "-o", str(tmp_path / "all.tsv")])
    assert len(pd.read_csv(tmp_path / "all.tsv", sep="\t")) > 30


def test_table_wide_cache_embeds_each_window_once_with_identical_scores(tmp_path, checkpoint):
    """--pairs: every distinct window of the whole table is embedded once, over all chunks,
    in memory or spilled to disk, and the scores equal the per-chunk path's."""
    from epitools.training.predict import Predictor, predict_pairs

    rng = np.random.default_rng(4)
    genome = _genome(tmp_path / "g.fa", rng)
    pairs = _pairs(tmp_path / "pairs.tsv", rng, n=90)
    table = pd.read_csv(pairs, sep="\t")
    predictor = Predictor(checkpoint, device="cpu", batch_size=8)
    calls = {"enhancer": 0, "promoter": 0}
    for side in calls:
        embed = getattr(predictor.model, f"embed_{side}")

        def counted(x, _embed=embed, _side=side):
            calls[_side] += len(x)
            return _embed(x)

        setattr(predictor.model, f"embed_{side}", counted)
    out = tmp_path / "cached.tsv"
    predict_pairs(predictor, pairs, genome, out, chunk_size=16)
    distinct = {side: len(table.assign(mid=(table[f"{side}_start"] + table[f"{side}_end"]) // 2)
                          .drop_duplicates([f"{side}_chrom", "mid"])) for side in calls}
    assert calls == distinct and calls["enhancer"] < len(table)
    spilled = tmp_path / "spilled.tsv"
    predict_pairs(Predictor(checkpoint, device="cpu", batch_size=8), pairs, genome, spilled, chunk_size=16,
                  cache_mb=1e-4, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # the spill file is removed afterwards
    from epitools.data.windows import pair_windows
    from epitools.io.genome import Genome
    from epitools.io.pairs import iter_pairs

    plain = Predictor(checkpoint, device="cpu", batch_size=8)
    with Genome(genome) as g:
        expected = np.concatenate([plain.score(w["enhancer"], w["promoter"]) for w in
                                   (pair_windows(c, plain.geometry, g) for c in iter_pairs(pairs, chunksize=16))])
    for path in (out, spilled):
        got = pd.read_csv(path, sep="\t")
        assert list(got["pair_id"]) == list(table["pair_id"])
        assert np.abs(got["score"].to_numpy() - expected).max() == 0
