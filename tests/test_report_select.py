"""epi-report select: the best run by one metric on the validation rows or the test fold;
epi-train --list-models: the registry's store encoding and task of every model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from epitools.cli.report import main as report_cli
from epitools.errors import InputError
from epitools.report.select import rank_runs, select_run


def _run(root, name, model, fold, *, test=None, val=None, checkpoint=b"weights"):
    run = root / name
    run.mkdir(parents=True)
    metrics = {"model": model, "task": "pairs", "split": "chrom", "fold": fold, **(test or {}), "val": val or {}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    if checkpoint is not None:
        (run / "model.pt").write_bytes(checkpoint)
    return run


def test_select_by_validation_not_test(tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "a", "epipam", 1, test={"auroc": 0.95}, val={"auroc": 0.70}, checkpoint=b"A")
    _run(runs, "b", "epiann", 2, test={"auroc": 0.80}, val={"auroc": 0.90}, checkpoint=b"B")
    out = tmp_path / "selected"
    chosen = select_run([runs], metric="auroc", on="val", out=out)
    assert (chosen["model"], chosen["fold"], chosen["value"]) == ("epiann", 2, 0.90)
    assert (out / "model.pt").read_bytes() == b"B"
    record = json.loads((out / "selection.json").read_text())
    assert record["run_name"] == "b" and [c["model"] for c in record["candidates"]] == ["epiann", "epipam"]
    header, row = (out / "selection.tsv").read_text().splitlines()
    assert dict(zip(header.split("\t"), row.split("\t"))) == {
        "run": "b", "model": "epiann", "fold": "2", "metric": "auroc", "on": "val", "value": "0.9"}
    assert select_run([runs], metric="auroc", on="test")["model"] == "epipam"


def test_lower_mse_wins_nulls_rank_last_and_ties_are_deterministic(tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "z", "epinformer", 3, val={"mse": 0.5, "pearson_r": None})
    _run(runs, "y", "epinformer", 10, val={"mse": 0.2, "pearson_r": 0.4})
    _run(runs, "x", "epinformer", 2, val={"mse": 0.2, "pearson_r": 0.4})
    assert [r["fold"] for r in rank_runs([runs], "mse", "val")] == [2, 10, 3]
    # Equal values: the lower fold of the same model, whatever the path order.
    assert [r["fold"] for r in rank_runs([runs], "pearson_r", "val")] == [2, 10, 3]
    assert select_run([runs / "z", runs / "y"], "pearson_r", "val")["fold"] == 10


def test_errors_are_typed(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no metrics.json"):
        select_run([tmp_path / "empty"])
    runs = tmp_path / "runs"
    _run(runs, "a", "simcnn", 1, val={"auprc": 0.5})
    with pytest.raises(InputError, match="field 'val.auroc'"):
        select_run([runs], "auroc", "val")
    _run(tmp_path / "nulls", "a", "simcnn", 1, val={"auroc": None})
    with pytest.raises(InputError, match="no run has a value"):
        select_run([tmp_path / "nulls"], "auroc", "val")
    _run(tmp_path / "nockpt", "a", "simcnn", 1, val={"auroc": 0.6}, checkpoint=None)
    with pytest.raises(InputError, match="no model.pt"):
        select_run([tmp_path / "nockpt"], "auroc", "val", out=tmp_path / "sel")
    assert not (tmp_path / "sel").exists()


def test_cli_select_writes_the_folder_and_exits_2_on_bad_input(tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "a", "simcnn", 1, test={"auprc": 0.3}, val={"auprc": 0.6})
    _run(runs, "b", "simcnn", 2, test={"auprc": 0.4}, val={"auprc": 0.5})
    out = tmp_path / "sel"
    res = CliRunner().invoke(report_cli, ["select", str(runs), "--metric", "auprc", "--on", "val", "-q",
                                          "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "selection.json").read_text())["fold"] == 1
    res = CliRunner().invoke(report_cli, ["select", str(runs), "--metric", "pearson_r", "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "pearson_r" in res.output and "metrics.json" in res.output


def test_list_models_dumps_the_registry():
    from epitools.cli.train import main as train_cli
    from epitools.models.registry import available_models, get_model_class, model_encoding, model_task

    res = CliRunner().invoke(train_cli, ["--list-models", "--format", "tsv"])
    assert res.exit_code == 0, res.output
    header, *lines = res.stdout.splitlines()
    # name, encoding, task first (the pipeline's routing); each model's paper data after them
    assert header.split("\t") == ["name", "encoding", "task", "augment_copies", "max_shift", "paper_split",
                                  "paper_folds"]
    table = {name: (encoding, task) for name, encoding, task, *_ in (line.split("\t") for line in lines)}
    assert set(table) == set(available_models())
    assert table["epipam_kmer"] == ("kmer", "pairs") and table["epipam"] == ("onehot", "pairs")
    assert table["epinformer"][1] == "genes"
    for name, (encoding, task) in table.items():
        assert encoding == model_encoding(name) == get_model_class(name).encoding and task == model_task(name)
    # The order of the two eager options does not matter; json carries the same rows.
    res = CliRunner().invoke(train_cli, ["--format", "json", "--list-models"])
    assert res.exit_code == 0 and {r["name"]: (r["encoding"], r["task"]) for r in json.loads(res.stdout)} == table
