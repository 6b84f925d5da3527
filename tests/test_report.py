"""epi-report: one self-contained HTML page over runs (models × cells × folds)."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
from click.testing import CliRunner

from epitools.cli.report import main as report_cli
from epitools.report.html import collect_runs, summarise


def _run(root, model, cell, fold, auroc, seed):
    run = root / f"{model}_{cell}_{fold}"
    run.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(20), np.zeros(80)]
    score = y * 0.3 + rng.random(100)
    pd.DataFrame({"pair_id": np.arange(100), "label": y.astype(int), "score": score}).to_csv(
        run / "predictions.tsv", sep="\t", index=False)
    metrics = {"model": model, "task": "pairs", "split": "chrom", "fold": fold, "cell_types": [cell],
               "auroc": auroc, "auprc": auroc - 0.2, "f1": 0.5, "n": 100, "positives": 20, "epochs": 3,
               "test": {"1:1": {"auroc": auroc, "auprc": 0.8}, "1:10": {"auroc": auroc, "auprc": 0.4}}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def test_summary_is_mean_and_sd_per_model_cell_split(tmp_path):
    for fold, auc in ((1, 0.8), (2, 0.9)):
        _run(tmp_path / "runs", "epipam", "K562", fold, auc, fold)
        _run(tmp_path / "runs", "simcnn", "K562", fold, auc - 0.1, fold)
    _run(tmp_path / "runs", "epipam", "GM12878", 1, 0.7, 9)
    runs = collect_runs([tmp_path / "runs"])
    assert len(runs) == 5
    summary = summarise(runs).set_index(["model", "cell", "split"])
    row = summary.loc[("epipam", "K562", "chrom")]
    assert row["runs"] == 2
    assert abs(row["auroc_mean"] - 0.85) < 1e-9 and abs(row["auroc_sd"] - np.std([0.8, 0.9], ddof=1)) < 1e-9
    assert abs(summary.loc[("simcnn", "K562", "chrom"), "auroc_mean"] - 0.75) < 1e-9
    assert summary.loc[("epipam", "GM12878", "chrom"), "runs"] == 1


def test_cli_writes_one_self_contained_page(tmp_path):
    for fold, auc in ((1, 0.8), (2, 0.9)):
        _run(tmp_path / "runs", "epipam", "K562", fold, auc, fold)
    out = tmp_path / "report.html"
    res = CliRunner().invoke(report_cli, [str(tmp_path / "runs"), "--summary", str(tmp_path / "s.tsv"),
                                          "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert "0.850 ± 0.071" in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 2  # ROC and PR of (K562, chrom)
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "src=\"http" not in page and "<link" not in page  # nothing to fetch
    summary = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert list(summary["model"]) == ["epipam"]


def test_bad_inputs_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(report_cli, [str(tmp_path / "empty"), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "no metrics.json" in res.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metrics.json").write_text(json.dumps({"auroc": 0.5}))
    res = CliRunner().invoke(report_cli, [str(bad), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "metrics.json" in res.output and "model" in res.output
    assert not (tmp_path / "r.html").exists()


def test_run_directories_staged_as_symlinks_are_found(tmp_path):
    # Nextflow stages each run directory into the task as a symlink.
    from epitools.report.html import find_metrics

    real = tmp_path / "work" / "ab" / "run1"
    real.mkdir(parents=True)
    (real / "metrics.json").write_text("{}")
    staged = tmp_path / "task" / "runs"
    staged.mkdir(parents=True)
    (staged / "run1").symlink_to(real)
    assert find_metrics([staged]) == [staged / "run1" / "metrics.json"]
