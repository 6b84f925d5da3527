"""Attention, ABC, attention-ABC and knockout scores of an EPInformer over a gene store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from epitools.data.gene_store import build_gene_store
from epitools.errors import UsageError
from epitools.models.epinformer import EPInformer
from epitools.prioritize.scores import (attention_scores, knockout_deltas, plot_locus, score_genes,
                                        write_scores)

L = 64


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scores")
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 60_000))
    (tmp / "g.fa").write_text(f">chr1\n{seq}\n")
    pd.DataFrame({"gene": ["A", "B", "C"], "chrom": "chr1", "tss": [10_000, 30_000, 59_000],
                  "expression": [5.0, 50.0, 1.0]}).to_csv(tmp / "genes.tsv", sep="\t", index=False)
    centres = np.array([6_000, 8_000, 12_000, 15_000, 27_000, 36_000])
    pd.DataFrame({"chrom": "chr1", "start": centres - 100, "end": centres + 100,
                  "name": [f"e{i}" for i in range(6)], "dnase": [1.0, 4, 9, 1, 2, 3],
                  "h3k27ac": [1.0, 1, 1, 4, 2, 3]}).to_csv(tmp / "el.bed", sep="\t", index=False)
    path = tmp / "genes.h5"
    build_gene_store(tmp / "genes.tsv", tmp / "el.bed", tmp / "g.fa", path, promoter_length=L,
                     enhancer_length=L, max_enhancers=4, max_distance=8_000)
    return path


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return EPInformer(L, L, max_enhancers=4, n_gene_features=0).eval()


def test_attention_scores_sum_to_one_per_gene():
    rng = np.random.default_rng(0)
    attn = rng.random((3, 2, 4, 5))
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], bool)
    scores = attention_scores(attn, mask)
    np.testing.assert_allclose(scores.sum(1), [1, 1, 0])
    assert (scores[~mask] == 0).all()
    expected = attn[0].mean((0, 1))[:2]
    np.testing.assert_allclose(scores[0, :2], expected / expected.sum())


def test_knockout_is_the_masked_prediction_change_and_zero_on_padding(model):
    g = torch.Generator().manual_seed(1)
    mask = torch.tensor([[True, True, False, False], [True, False, False, False]])
    enhancers = torch.randint(0, 4, (2, 4, L), generator=g).to(torch.uint8)
    promoter = torch.randint(0, 4, (2, L), generator=g).to(torch.uint8)
    features = torch.rand(2, 4, 4, generator=g)
    e, p = model.embed_enhancer(enhancers, mask), model.embed_promoter(promoter)
    deltas, prediction = knockout_deltas(model, e, p, mask, features, max_batch=2)
    assert (deltas[~mask.numpy()] == 0).all()
    masked = mask.clone()
    masked[0, 1] = False
    with torch.no_grad():
        by_hand = model(promoter, enhancers, masked, features)["prediction"][0] - prediction[0]
    assert deltas[0, 1] == pytest.approx(float(by_hand), abs=1e-5)
    assert deltas[0, 1] != 0


def test_score_genes_table(store, model, tmp_path):
    df = score_genes(model, store, batch_size=2)
    # A: e0..e3 within 8 kb (4 slots); B: e4, e5; C: none.
    assert list(df["gene"]) == ["A"] * 4 + ["B"] * 2
    assert list(df.loc[df["gene"] == "A", "enhancer_name"]) == ["e1", "e2", "e0", "e3"]  # ties: leftmost first
    np.testing.assert_allclose(df.groupby("gene")["attention"].sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(df.groupby("gene")["abc"].sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(df["attention_abc"], df["attention"] * df["abc"])
    a = df[df["gene"] == "A"]
    activity = np.sqrt(a["dnase"] * a["h3k27ac"]) * a["contact"]
    np.testing.assert_allclose(a["abc"], activity / activity.sum())
    assert list(a["rank_distance"]) == [1, 1, 3, 4]
    assert a.loc[a["abc"].idxmax(), "rank_abc"] == 1
    assert a.loc[a["knockout"].idxmin(), "rank_knockout"] == 1
    assert df["prediction"].notna().all() and (df["knockout"] != 0).all()
    np.testing.assert_allclose(df.loc[df["gene"] == "B", "expression"], np.log1p(50.0), rtol=1e-6)

    only_b = score_genes(model, store, genes=["B"])
    np.testing.assert_allclose(only_b["knockout"], df.loc[df["gene"] == "B", "knockout"], atol=1e-6)
    with pytest.raises(UsageError):
        score_genes(model, store, genes=["nope"])

    out = tmp_path / "scores.tsv"
    write_scores(df, out)
    back = pd.read_csv(out, sep="\t")
    assert list(back.columns) == list(df.columns) and len(back) == 6

    png = tmp_path / "A.png"
    plot_locus(df, "A", png, truth={"e2"})
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(UsageError):
        plot_locus(df, "C", tmp_path / "C.png")
    assert not (tmp_path / "C.png").exists()


def test_window_mismatch_is_an_error(store):
    with pytest.raises(UsageError):
        score_genes(EPInformer(128, 128, n_gene_features=0), store)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    from epitools.data.simulate import SimulationConfig, simulate

    tmp = tmp_path_factory.mktemp("sim")
    simulate(tmp / "sim", seed=0, config=SimulationConfig.tiny())
    path = tmp / "genes.h5"
    build_gene_store(tmp / "sim" / "genes.tsv", tmp / "sim" / "elements.bed", tmp / "sim" / "genome.fa",
                     path, hic=tmp / "sim" / "hic.cool", promoter_length=L, enhancer_length=L)
    return tmp / "sim", path


def test_simulated_drivers_are_candidates_and_abc_beats_distance(simulated):
    """The store maps back to the simulator's planted drivers, and ABC (activity x Hi-C)
    recovers them better than distance, as the bench expects of attention-ABC too."""
    import json

    from epitools.prioritize.scores import driver_recovery, planted_drivers

    sim, path = simulated
    torch.manual_seed(0)
    model = EPInformer(L, L, max_enhancers=60).eval()
    df = score_genes(model, path)
    drivers = planted_drivers(json.loads((sim / "truth.json").read_text()))
    result = driver_recovery(df, drivers)
    assert result["n_drivers"] == len(drivers) > 0
    assert result["auprc"]["abc"] > result["auprc"]["distance"]
    assert set(df["gene"]) <= set(pd.read_csv(sim / "genes.tsv", sep="\t")["gene"])


@pytest.mark.slow
def test_acceptance_driver_recovery_on_simulated_data(repo_root, tmp_path):
    """Issue 7 acceptance, as run by bench/prioritize_drivers.py (several minutes on a CPU)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("prioritize_drivers",
                                                  repo_root / "bench" / "prioritize_drivers.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main(["--workdir", str(tmp_path)])
    auprc = result["auprc"]
    assert result["pearson_r"] >= 0.8
    assert auprc["attention_abc"] >= auprc["abc"] > auprc["distance"]
    assert result["knockout_effect_r"] >= 0.8


def test_prioritize_epinformer_command(store, model, tmp_path):
    from click.testing import CliRunner

    from epitools.cli.prioritize import main
    from epitools.io.checkpoint import make_checkpoint, save_checkpoint

    ckpt = tmp_path / "model.pt"
    save_checkpoint(make_checkpoint(model, "epinformer", "onehot"), ckpt)
    out = tmp_path / "prio"
    result = CliRunner().invoke(main, ["epinformer", "--model", str(ckpt), "--data", str(store),
                                       "--plot", "A", "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "scores.tsv", sep="\t")
    assert set(table["gene"]) == {"A", "B"}  # C has no candidate within 8 kb
    sums = table.groupby("gene")["attention"].sum()
    np.testing.assert_allclose(sums[sums > 0], 1.0, atol=1e-5)
    assert (out / "locus_A.png").stat().st_size > 0

    unknown = CliRunner().invoke(main, ["epinformer", "--model", str(ckpt), "--data", str(store),
                                        "--gene", "NOPE", "-o", str(tmp_path / "x")])
    assert unknown.exit_code == 2
    assert "NOPE" in unknown.output
