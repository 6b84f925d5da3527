"""epi-report: the encoder pre-training runs (task ``activity``) in the models section, and the
variants section with the model warnings epi-variants writes."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from epitools.cli.report import main as report_cli
from epitools.report.discover import discover
from epitools.report.html import collect_runs


def _section(page: str, section_id: str) -> str:
    match = re.search(rf"<section id='{section_id}'>(.*?)</section>", page, re.S)
    return match.group(1) if match else ""


def _activity_run(root, fold: int, r: float, seed: int):
    """A run folder as ``epi-train --model epinformer_encoder`` writes it."""
    run = root / f"encoder_{fold}"
    run.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    activity = rng.random(40)
    pd.DataFrame({"chrom": "chr1", "start": np.arange(40) * 500, "end": np.arange(40) * 500 + 40,
                  "name": [f"el{i}" for i in range(40)], "activity": activity,
                  "score": activity * r + rng.normal(0, 0.3, 40), "model": "epinformer_encoder",
                  "fold": fold}).to_csv(run / "predictions.tsv", sep="\t", index=False)
    pd.DataFrame({"epoch": [1, 2], "train_loss": [0.4, 0.3], "val_pearson_r": [0.2, r],
                  "val_mse": [0.3, 0.2]}).to_csv(run / "history.tsv", sep="\t", index=False)
    metrics = {"model": "epinformer_encoder", "task": "activity", "split": "chrom12", "fold": fold, "folds": 12,
               "cell_types": [], "pearson_r": r, "spearman_r": r - 0.05, "mse": 0.2, "n": 40, "epochs": 2,
               "best_epoch": 2, "test": {"stored": {"pearson_r": r, "n": 40}}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def test_activity_runs_are_shown_as_encoder_pretraining(tmp_path):
    for fold, r in ((1, 0.61), (2, 0.05)):
        _activity_run(tmp_path / "runs", fold, r, fold)
    runs = collect_runs([tmp_path / "runs"])
    assert list(runs["task"]) == ["activity", "activity"]
    out = tmp_path / "report.html"
    res = CliRunner().invoke(report_cli, [str(tmp_path / "runs"), "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    models = _section(page, "gene-models")
    assert "id='encoder-pretraining'" in models
    assert "Pre-training of EPInformer&#x27;s sequence encoder" in models
    assert "Pearson R is that of predicted vs measured activity" in models
    # Each run's Pearson R of activity, their mean ± s.d. and the near-chance fold 2 warned
    assert "0.610" in models and "0.050" in models
    assert f"{np.mean([0.61, 0.05]):.3f} ± {np.std([0.61, 0.05], ddof=1):.3f}" in models
    assert "near chance" in models and "class='warn'" in models
    figures = re.findall(r'data-figure="([^"]+)"', models)
    assert figures == ["r-per-fold", "activity-scatter", "history"]
    assert "href='#gene-models'" in page


def test_activity_runs_sit_beside_expression_runs(tmp_path):
    _activity_run(tmp_path / "runs", 1, 0.7, 1)
    gene = tmp_path / "runs" / "epinformer_1"
    gene.mkdir()
    (gene / "metrics.json").write_text(json.dumps({"model": "epinformer", "task": "genes", "split": "chrom",
                                                   "fold": 1, "pearson_r": 0.55, "n": 20}))
    out = tmp_path / "report.html"
    res = CliRunner().invoke(report_cli, [str(tmp_path / "runs"), "--no-figures", "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    models = _section(out.read_text(), "gene-models")
    expression, encoder = models.split("id='encoder-pretraining'")
    assert "epinformer" in expression and "0.550" in expression and "0.700" not in expression
    assert "epinformer_encoder" in encoder and "0.700" in encoder
    assert "id='pair-models'" not in out.read_text()


# --------------------------------------------------------------------------- variants
@pytest.fixture(scope="module")
def variant_run(simulated, tmp_path_factory):
    """epi-variants over the simulation with two pair checkpoints: one without held-out metrics
    (warned), one with a held-out AUROC of 0.9 (not warned)."""
    from epitools.cli.variants import main as variants_cli
    from epitools.io.checkpoint import make_checkpoint, save_checkpoint
    from epitools.models.simcnn import SIMCNN

    root = tmp_path_factory.mktemp("report_variants")
    torch.manual_seed(0)
    model = SIMCNN(128, 128, filters=4, kernel=9, pool=16, dense=8).eval()
    save_checkpoint(make_checkpoint(model, "simcnn", "onehot"), root / "bare" / "model.pt")
    save_checkpoint(make_checkpoint(model, "simcnn", "onehot", metrics={"test": {"stored": {"auroc": 0.9, "n": 50}}}),
                    root / "good" / "model.pt")
    out = root / "variants"
    result = CliRunner().invoke(variants_cli, [
        "--vcf", str(simulated / "variants.vcf.gz"), "--genome", str(simulated / "genome.fa"),
        "--model", str(root / "bare" / "model.pt"), "--model", str(root / "good" / "model.pt"),
        "--pairs", str(simulated / "pairs.tsv"), "--null", "10", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


def test_variants_section_shows_the_model_warning(variant_run, tmp_path):
    from epitools.report.variants import model_warnings

    found = discover([variant_run])
    assert found.variants == [variant_run / "summary.tsv"] and not found.runs
    warnings = model_warnings(variant_run)
    assert list(warnings) == ["simcnn:bare"] and "no held-out metrics" in warnings["simcnn:bare"]
    out = tmp_path / "report.html"
    res = CliRunner().invoke(report_cli, [str(variant_run), "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    section = _section(page, "variants")
    assert "href='#variants'" in page
    shown = re.findall(r"<p class='warn'>(.*?)</p>", section, re.S)
    assert len(shown) == 1 and "simcnn:bare" in shown[0] and "no held-out metrics" in shown[0]
    assert "simcnn:good" in section  # listed, not warned about
    summary = pd.read_csv(variant_run / "summary.tsv", sep="\t")
    top = summary[summary["status"] == "scored"].assign(a=lambda t: t["effect"].abs()).nlargest(1, "a")
    assert str(top["variant_id"].iloc[0]) in section
    assert re.findall(r'data-figure="([^"]+)"', section) == ["manhattan"]


def test_variants_warning_falls_back_to_run_json(variant_run, tmp_path):
    from epitools.report.variants import variants_section

    copy = tmp_path / "old"
    copy.mkdir()
    pd.read_csv(variant_run / "summary.tsv", sep="\t").drop(columns="model_warning").to_csv(
        copy / "summary.tsv", sep="\t", index=False)
    (copy / "run.json").write_text((variant_run / "run.json").read_text())
    html = variants_section([copy / "summary.tsv"], figures=False)
    shown = re.findall(r"<p class='warn'>(.*?)</p>", html, re.S)
    assert len(shown) == 1 and "simcnn:bare" in shown[0] and "no held-out metrics" in shown[0]
    assert variants_section([]) == ""
