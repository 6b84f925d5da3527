"""``epi-report score``: metrics of an external pair-level prediction table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from epitools.cli.report import main as report
from epitools.errors import InputError, UsageError
from epitools.report.score import labels_and_scores, read_prediction_table, score_predictions
from epitools.training.evaluation import evaluate
from epitools.training.metrics import classification_metrics

BENGI = "epi_pairs/BENGI_hg19"


def _invoke(args):
    return CliRunner().invoke(report, args)


def _with_score(table: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """A noisy informative score: closer pairs and positives score higher."""
    rng = np.random.default_rng(seed)
    out = table.copy()
    out["prediction"] = (out["label"] * 1.5 - np.log10(out["distance"].clip(lower=1))
                         + rng.normal(0, 1, len(out)))
    return out


@pytest.mark.shared_data
def test_score_reproduces_classification_metrics_on_bengi(shared_data, tmp_path):
    from epitools.io.pairs import read_pairs, write_pairs

    table = _with_score(read_pairs(shared_data / BENGI / "HeLa.RNAPII-ChIAPET-Benchmark.v3.tsv.gz"))
    src = tmp_path / "predictions.tsv"
    write_pairs(table, src)
    res = _invoke(["score", "--predictions", str(src), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "out" / "score_metrics.json").read_text())
    expect = classification_metrics(table["label"], table["prediction"])
    got = summary["groups"]["all"]["stored"]
    for key in ("auroc", "auprc", "f1"):
        assert got[key] == pytest.approx(expect[key], rel=1e-12)
    assert (got["n"], got["positives"]) == (expect["n"], expect["positives"]) == (len(table),
                                                                                   int(table["label"].sum()))
    assert 0.5 < got["auroc"] < 1.0
    one = summary["groups"]["all"]["1:1"]
    ten = summary["groups"]["all"]["1:10"]
    assert one["n"] == 2 * one["positives"] == 2 * expect["positives"]
    assert ten["n"] == min(len(table), 11 * expect["positives"])
    direct = evaluate("pairs", table["label"], table["prediction"], seed=0)
    for ratio in ("1:1", "1:10"):
        assert summary["groups"]["all"][ratio] == pytest.approx(direct[ratio], rel=1e-12)
    tsv = pd.read_csv(tmp_path / "out" / "score_metrics.tsv", sep="\t")
    assert list(tsv["ratio"]) == ["stored", "1:1", "1:10"]
    assert (tmp_path / "out" / "roc.png").stat().st_size > 1000
    assert (tmp_path / "out" / "pr.png").stat().st_size > 1000
    assert summary["binary_score"] is False


@pytest.mark.shared_data
def test_score_by_cell_type_on_two_bengi_files(shared_data, tmp_path):
    from epitools.io.pairs import read_pairs, write_pairs

    parts = [_with_score(read_pairs(shared_data / BENGI / name), seed=k) for k, name in
             enumerate(["HeLa.RNAPII-ChIAPET-Benchmark.v3.tsv.gz", "NHEK.HiC-Benchmark.v3.tsv.gz"])]
    table = pd.concat(parts, ignore_index=True)
    src = tmp_path / "both.tsv"
    write_pairs(table, src)
    res = _invoke(["score", "--predictions", str(src), "--by", "cell_type", "--seed", "3",
                   "-o", str(tmp_path / "out"), "--no-figures", "-q"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "out" / "score_metrics.json").read_text())
    assert set(summary["groups"]) == {"all", "HeLa", "NHEK"}
    for cell, part in zip(("HeLa", "NHEK"), parts):
        expect = classification_metrics(part["label"], part["prediction"])
        assert summary["groups"][cell]["stored"]["auroc"] == pytest.approx(expect["auroc"], rel=1e-12)
    assert not (tmp_path / "out" / "roc.png").exists()
    assert "NHEK" in res.output


def test_plain_csv_without_coordinates_and_binary_warning(tmp_path, caplog):
    """A TargetFinder-style prediction file (label, prediction) is read as a plain table."""
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, 300)
    src = tmp_path / "targetfinder_predictions.csv"
    pd.DataFrame({"enhancer_name": [f"K562|chr1:{i}-{i + 10}" for i in range(300)],
                  "label": label, "prediction": label ^ (rng.random(300) < 0.2)}).to_csv(src, index=False)
    table = read_prediction_table(src, "prediction", "label")
    result = score_predictions(table, path=src)
    assert result.summary["binary_score"] is True
    assert "hard call" in caplog.text
    expect = classification_metrics(label, table["prediction"])
    assert result.summary["groups"]["all"]["stored"]["auroc"] == pytest.approx(expect["auroc"])
    res = _invoke(["score", "--predictions", str(src), "-o", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "hard call" in res.output


def test_bad_columns_and_values_exit_2(tmp_path):
    src = tmp_path / "p.tsv"
    pd.DataFrame({"label": [0, 1, 2], "score": [0.1, 0.5, 0.9]}).to_csv(src, sep="\t", index=False)
    res = _invoke(["score", "--predictions", str(src), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--score-column 'prediction'" in res.output
    res = _invoke(["score", "--predictions", str(src), "--score-column", "score", "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "data row 3" in res.output and "'label'" in res.output
    res = _invoke(["score", "--predictions", str(src), "--score-column", "score", "--by", "cell_type",
                   "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    table = pd.DataFrame({"label": [0, 1, None, 1], "score": ["0.1", "x", "0.3", "0.4"]})
    with pytest.raises(InputError, match="'score'.*data row 2"):
        labels_and_scores(table, "score", "label")
    with pytest.raises(UsageError, match="--label-column"):
        labels_and_scores(table, "score", "y")


def test_missing_rows_are_dropped_with_a_count(caplog):
    table = pd.DataFrame({"label": [0, 1, None, 1, 0, "true"], "prediction": [0.1, 0.9, 0.3, None, 0.2, 0.8]})
    result = score_predictions(table)
    assert result.summary["dropped"] == 2
    assert result.summary["groups"]["all"]["stored"]["n"] == 4
    assert result.summary["groups"]["all"]["stored"]["auroc"] == 1.0
    assert "2 of 6 rows" in caplog.text
