"""epi-report summary: held-out metrics of each run next to ABC and distance on the same rows,
planted-driver AUPRC of each prioritisation score, and the near-chance warnings; on a small
results folder written here (a pair run, an EPInformer run, abc.tsv, scores.tsv, truth.json)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from sklearn.metrics import average_precision_score, roc_auc_score

from epitools.cli.report import main as report_cli
from epitools.errors import InputError
from epitools.io.checkpoint import make_checkpoint, save_checkpoint
from epitools.report.summary import format_summary, summarize, write_summary

N_PAIRS, N_GENES, CANDIDATES = 60, 12, 5


def _checkpoint(path, model, test):
    save_checkpoint(make_checkpoint(torch.nn.Linear(1, 1), model, "onehot",
                                    metrics={"test": {"stored": test}}), path)


@pytest.fixture
def results(tmp_path):
    """A results folder with known answers: the pair model ranks perfectly, ABC half-way,
    and the EPInformer run is near chance (R ~ 0), so it carries a warning."""
    rng = np.random.default_rng(0)
    root = tmp_path / "results"
    label = (np.arange(N_PAIRS) % 3 == 0).astype(int)
    pairs = pd.DataFrame({"pair_id": [f"p{i}" for i in range(N_PAIRS)], "label": label,
                          "distance": rng.integers(1000, 100_000, N_PAIRS)})
    abc = pairs.assign(abc_score=label * rng.random(N_PAIRS) + rng.random(N_PAIRS))
    (root / "abc").mkdir(parents=True)
    abc.to_csv(root / "abc" / "abc.tsv", sep="\t", index=False)
    run = root / "runs" / "simcnn_chrom_fold1"
    run.mkdir(parents=True)
    # Only the first 40 pairs were held out: the baselines must be scored on those alone.
    test = pairs.iloc[:40].assign(score=label[:40] + 0.1 * rng.random(40))
    test.drop(columns="distance").to_csv(run / "predictions.tsv", sep="\t", index=False)
    (run / "metrics.json").write_text(json.dumps({"model": "simcnn", "task": "pairs", "auroc": 1.0}))
    _checkpoint(run / "model.pt", "simcnn", {"auroc": 1.0, "auprc": 1.0, "n": 40})

    genes = [f"gene_{i}" for i in range(N_GENES)]
    scores = pd.DataFrame({"gene": np.repeat(genes, CANDIDATES),
                           "enhancer_name": [f"enh_{i}" for i in range(N_GENES * CANDIDATES)],
                           "distance": np.tile(np.arange(1, CANDIDATES + 1) * 5000, N_GENES),
                           "activity": rng.random(N_GENES * CANDIDATES) + 0.1,
                           "contact": rng.random(N_GENES * CANDIDATES) + 0.1})
    for name in ("abc", "attention", "attention_abc"):
        scores[name] = rng.random(len(scores))
    scores["knockout"] = -rng.random(len(scores))
    driver = scores.index % CANDIDATES == 4  # the farthest candidate of every gene
    scores.loc[driver, "attention_abc"] += 2.0  # attention-ABC finds every driver
    (root / "prioritize").mkdir()
    scores.to_csv(root / "prioritize" / "scores.tsv", sep="\t", index=False)
    truth = {"genes": {g: {"drivers": [{"enhancer_id": e, "effect": 0.5}]}
                       for g, e in zip(scores["gene"][driver], scores["enhancer_name"][driver])}}
    (root / "simulated").mkdir()
    (root / "simulated" / "truth.json").write_text(json.dumps(truth))
    gene_run = root / "runs" / "epinformer_chrom12_fold1"
    gene_run.mkdir()
    held_out = pd.DataFrame({"gene": genes[:8], "expression": rng.random(8), "score": rng.random(8)})
    held_out.to_csv(gene_run / "predictions.tsv", sep="\t", index=False)
    (gene_run / "metrics.json").write_text(json.dumps({"model": "epinformer", "task": "genes"}))
    _checkpoint(gene_run / "model.pt", "epinformer", {"pearson_r": 0.05, "n": 8})
    return root, test, abc, scores, truth, held_out


def _row(table, section, score):
    hit = table[(table["section"] == section) & (table["score"] == score)]
    assert len(hit) == 1, (section, score, table)
    return hit.iloc[0]


def test_pair_baselines_on_the_held_out_pairs(results):
    root, test, abc, *_ = results
    table = summarize(root)
    model = _row(table, "pairs", "simcnn")
    assert model["auroc"] == 1.0 and (model["n"], model["positives"]) == (40, int(test["label"].sum()))
    held_abc = abc.set_index("pair_id").loc[test["pair_id"]]
    assert _row(table, "pairs", "abc")["auroc"] == pytest.approx(roc_auc_score(test["label"], held_abc["abc_score"]))
    assert _row(table, "pairs", "distance")["auprc"] == pytest.approx(
        average_precision_score(test["label"], -held_abc["distance"]))
    assert pd.isna(model["warning"])


def test_gene_baselines_and_driver_auprc_on_held_out_genes(results):
    root, _, _, scores, truth, held_out = results
    table = summarize(root)
    model = _row(table, "genes", "epinformer")
    assert model["pearson_r"] == pytest.approx(np.corrcoef(held_out["expression"], held_out["score"])[0, 1])
    per_gene = scores.assign(x=scores["activity"] * scores["contact"]).groupby("gene")["x"].sum()
    expected = np.corrcoef(held_out["expression"], np.log(per_gene.loc[held_out["gene"]]))[0, 1]
    assert _row(table, "genes", "abc")["pearson_r"] == pytest.approx(expected)
    assert "near chance" in model["warning"] and "0.050" in model["warning"]

    drivers = table[table["section"] == "drivers"]
    assert set(drivers["score"]) == {"attention", "attention_abc", "abc", "knockout", "distance"}
    assert "held-out genes: 8 genes, 40 candidates, 8 planted drivers" in drivers["run"].iloc[0]
    assert _row(table, "drivers", "attention_abc")["auprc"] == 1.0
    # Distance ranks the nearest first and every driver is the farthest: the worst ranking.
    assert _row(table, "drivers", "distance")["auprc"] == pytest.approx(
        average_precision_score(np.arange(40) % 5 == 4, -scores["distance"][:40]))
    assert _row(table, "drivers", "distance")["auroc"] == 0.0


def test_cli_prints_the_summary_and_writes_tsv_and_json(results):
    root = results[0]
    result = CliRunner().invoke(report_cli, ["summary", str(root)])
    assert result.exit_code == 0, result.output
    assert "Pair models" in result.output and "Planted drivers" in result.output
    assert "WARNING: " in result.output and "epinformer" in result.output
    written = pd.read_csv(root / "summary.tsv", sep="\t")
    assert list(written["section"].unique()) == ["pairs", "genes", "drivers"]
    record = json.loads((root / "summary.json").read_text())
    assert record["text"] == format_summary(summarize(root)) and len(record["rows"]) == len(written)


def test_missing_or_unusable_checkpoints_warn(results):
    root = results[0]
    (root / "runs" / "simcnn_chrom_fold1" / "model.pt").unlink()
    save_checkpoint(make_checkpoint(torch.nn.Linear(1, 1), "epinformer", "onehot"),
                    root / "runs" / "epinformer_chrom12_fold1" / "model.pt")
    table, text = write_summary(root, root / "out")
    warnings = table["warning"].dropna().tolist()
    assert any("no model.pt" in w for w in warnings)
    assert any("no held-out metrics" in w for w in warnings)
    assert (root / "out" / "summary.tsv").is_file()


def test_empty_or_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        summarize(tmp_path / "absent")
    with pytest.raises(InputError):
        write_summary(tmp_path)
    result = CliRunner().invoke(report_cli, ["summary", str(tmp_path)])
    assert result.exit_code == 2


def test_encoder_pretraining_runs_get_their_own_section(results):
    # An epi-train --model epinformer_encoder run (task "activity") is summarised by the R of
    # its held-out windows' activity, between the expression models and the drivers.
    root = results[0]
    rng = np.random.default_rng(1)
    run = root / "runs" / "epinformer_encoder_chrom12_fold1"
    run.mkdir()
    activity = rng.normal(size=50)
    pd.DataFrame({"chrom": "chr1", "start": np.arange(50) * 1000, "end": np.arange(50) * 1000 + 256,
                  "name": [f"w{i}" for i in range(50)], "activity": activity,
                  "score": activity + rng.normal(0, 0.5, 50)}).to_csv(run / "predictions.tsv", sep="\t", index=False)
    (run / "metrics.json").write_text(json.dumps({"model": "epinformer_encoder", "task": "activity"}))
    _checkpoint(run / "model.pt", "epinformer_encoder", {"pearson_r": 0.9, "n": 50})
    table = summarize(root)
    row = _row(table, "activity", "epinformer_encoder")
    expected = np.corrcoef(activity, pd.read_csv(run / "predictions.tsv", sep="\t")["score"])[0, 1]
    assert row["pearson_r"] == pytest.approx(expected) and row["n"] == 50
    assert list(table["section"].unique()) == ["pairs", "genes", "activity", "drivers"]
    # the encoder's windows are not genes: the drivers stay scored on the EPInformer run's genes
    assert "held-out genes: 8 genes" in _row(table, "drivers", "attention_abc")["run"]
    assert "Encoder pre-training: held-out windows" in format_summary(table)
