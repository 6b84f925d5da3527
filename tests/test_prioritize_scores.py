"""Attention, ABC, attention-ABC and knockout scores of an EPInformer over a gene store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from epitools.data.gene_store import build_gene_store
from epitools.errors import UsageError
from epitools.models.epinformer import EPInformer
from epitools.prioritize.held_out import FoldModel, route_genes, score_genes_held_out
from epitools.prioritize.scores import (attention_abc_scores, attention_scores, knockout_deltas, plot_locus,
                                        score_genes, write_scores)

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
    # the fixture model is the Hi-C variant: attention_abc falls back to its own attention
    np.testing.assert_allclose(df["attention_abc"], df["model_attention_abc"])
    product = df["attention"] * df["abc"]
    np.testing.assert_allclose(df["attention_abc"], product / product.groupby(df["gene"]).transform("sum"))
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


def test_attention_abc_definition():
    """Lin et al. 2024: attention x activity x contact, renormalised within each gene."""
    attention = np.array([0.5, 0.5, 0.2, 0.8, 1.0])
    activity = np.array([1.0, 3.0, 2.0, 2.0, 0.0])
    contact = np.array([0.2, 0.1, 1.0, 0.5, 1.0])
    got = attention_abc_scores(attention, activity, contact, ["g", "g", "h", "h", "k"])
    np.testing.assert_allclose(got, [0.1 / 0.25, 0.15 / 0.25, 0.4 / 1.2, 0.8 / 1.2, 0.0])


def test_attention_abc_takes_the_pe_activity_models_attention(store, model):
    torch.manual_seed(1)
    activity_model = EPInformer(L, L, max_enhancers=4, n_gene_features=0, variant="PE-Activity").eval()
    df = score_genes(model, store, attention_model=activity_model)
    own = score_genes(activity_model, store)
    # the Hi-C model's attention stays as `attention` and `model_attention_abc`
    np.testing.assert_allclose(df["attention"], score_genes(model, store)["attention"], atol=1e-6)
    np.testing.assert_allclose(df["attention_activity"], own["attention"], atol=1e-6)
    assert not np.allclose(df["attention"], df["attention_activity"])
    np.testing.assert_allclose(df["attention_abc"], own["attention_abc"], atol=1e-6)
    np.testing.assert_allclose(df["attention_abc"],
                               attention_abc_scores(own["attention"], df["activity"], df["contact"], df["gene"]),
                               atol=1e-6)
    np.testing.assert_allclose(df["model_attention_abc"],
                               attention_abc_scores(df["attention"], df["activity"], df["contact"], df["gene"]),
                               atol=1e-6)
    np.testing.assert_allclose(df.groupby("gene")["attention_abc"].sum(), 1.0, rtol=1e-6)
    with pytest.raises(UsageError):
        score_genes(model, store, attention_model=EPInformer(128, 128, n_gene_features=0))


@pytest.fixture(scope="module")
def three_chromosomes(tmp_path_factory):
    """One gene with two candidates on each of chr1, chr2, chr3."""
    tmp = tmp_path_factory.mktemp("folds")
    rng = np.random.default_rng(2)
    chroms = ["chr1", "chr2", "chr3"]
    (tmp / "g.fa").write_text("".join(f">{c}\n{''.join(rng.choice(list('ACGT'), 20_000))}\n" for c in chroms))
    pd.DataFrame({"gene": ["G1", "G2", "G3"], "chrom": chroms, "tss": 10_000,
                  "expression": [1.0, 2.0, 3.0]}).to_csv(tmp / "genes.tsv", sep="\t", index=False)
    centres = np.array([7_000, 13_000] * 3)
    pd.DataFrame({"chrom": np.repeat(chroms, 2), "start": centres - 100, "end": centres + 100,
                  "name": [f"e{i}" for i in range(6)], "dnase": 1.0 + np.arange(6),
                  "h3k27ac": 2.0}).to_csv(tmp / "el.bed", sep="\t", index=False)
    path = tmp / "genes.h5"
    build_gene_store(tmp / "genes.tsv", tmp / "el.bed", tmp / "g.fa", path, promoter_length=L,
                     enhancer_length=L, max_enhancers=4, max_distance=8_000)
    return path


def _fold_models():
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(EPInformer(L, L, max_enhancers=4, n_gene_features=0).eval())
    return models


def test_held_out_routing_scores_each_gene_with_its_fold_model(three_chromosomes):
    first, second = _fold_models()
    folds = [FoldModel("fold_1", first, ["chr1"]), FoldModel("fold_2", second, ["2"])]  # chr aliases match
    np.testing.assert_array_equal(route_genes(["chr1", "chr2", "chr3", "1"], folds), [0, 1, -1, 0])
    df = score_genes_held_out(folds, three_chromosomes)
    assert list(df["gene"]) == ["G1", "G1", "G2", "G2"]  # G3's chromosome is no fold's test set
    assert list(df["fold_model"]) == ["fold_1", "fold_1", "fold_2", "fold_2"]
    for gene, fold_model in (("G1", first), ("G2", second)):
        direct = score_genes(fold_model, three_chromosomes, genes=[gene])
        np.testing.assert_allclose(df.loc[df["gene"] == gene, "knockout"], direct["knockout"], atol=1e-6)
        np.testing.assert_allclose(df.loc[df["gene"] == gene, "prediction"], direct["prediction"], atol=1e-6)
    # the other fold's model predicts differently: routing matters
    other = score_genes(second, three_chromosomes, genes=["G1"])
    assert not np.allclose(df.loc[df["gene"] == "G1", "prediction"], other["prediction"])
    with pytest.raises(UsageError, match="G3"):
        score_genes_held_out(folds, three_chromosomes, genes=["G3"])
    with pytest.raises(UsageError, match="both"):
        route_genes(["chr1"], [FoldModel("a", first, ["chr1"]), FoldModel("b", second, ["1", "chr3"])])


def test_prioritize_epinformer_over_fold_runs(three_chromosomes, tmp_path):
    import json

    from click.testing import CliRunner

    from epitools.cli.prioritize import main
    from epitools.io.checkpoint import make_checkpoint, save_checkpoint

    runs = tmp_path / "runs"
    for i, (model, chrom) in enumerate(zip(_fold_models(), ["chr1", "chr3"]), start=1):
        run = runs / f"fold_{i}"
        run.mkdir(parents=True)
        save_checkpoint(make_checkpoint(model, "epinformer", "onehot"), run / "model.pt")
        (run / "metrics.json").write_text(json.dumps({"split_info": {"scheme": "chrom12", "test_chroms": [chrom]}}))
    out = tmp_path / "prio"
    result = CliRunner().invoke(main, ["epinformer", "--runs", str(runs), "--data", str(three_chromosomes),
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "scores.tsv", sep="\t")
    assert dict(zip(table["gene"], table["fold_model"])) == {"G1": "fold_1", "G3": "fold_2"}
    direct = score_genes(_fold_models()[1], three_chromosomes, genes=["G3"])
    np.testing.assert_allclose(table.loc[table["gene"] == "G3", "knockout"], direct["knockout"], atol=1e-5)

    (runs / "fold_2" / "metrics.json").write_text(json.dumps({"split_info": {"scheme": "random"}}))
    bad = CliRunner().invoke(main, ["epinformer", "--model", str(runs / "fold_1" / "model.pt"), "--model",
                                    str(runs / "fold_2" / "model.pt"), "--data", str(three_chromosomes),
                                    "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "test chromosomes" in bad.output
