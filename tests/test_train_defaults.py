"""epi-train's schedule: --epochs/--batch-size/--patience fall back to each model's paper values."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from epitools.cli.train import main
from epitools.errors import UsageError
from epitools.models.registry import available_models, get_model_class
from epitools.training.config import FALLBACK_SCHEDULE, TrainConfig, resolve_schedule


def _config(**kwargs):
    return TrainConfig(data="x.h5", model="m", out="run", **kwargs)


def test_epinformer_paper_schedule_when_not_given():
    hp = get_model_class("epinformer").default_hparams
    # The paper stops on patience 6 alone; the epoch cap is far above the 20-epoch fallback.
    schedule = resolve_schedule(_config(), hp)
    assert schedule == {"epochs": 500, "batch_size": 64, "patience": 6}
    assert schedule["epochs"] > FALLBACK_SCHEDULE["epochs"]


@pytest.mark.parametrize("name", sorted(set(available_models()) & {"epipam", "epiann", "epipdlf", "simcnn",
                                                                      "epinformer"}))
def test_every_model_takes_its_own_values_else_the_fallback(name):
    hp = dict(get_model_class(name).default_hparams)
    got = resolve_schedule(_config(), hp)
    for key, fallback in FALLBACK_SCHEDULE.items():
        assert got[key] == int(hp.get(key, fallback)), key


def test_given_values_and_hparam_overrides_win():
    hp = {**get_model_class("epinformer").default_hparams, "patience": 9}  # e.g. from --config
    assert resolve_schedule(_config(), hp)["patience"] == 9
    assert resolve_schedule(_config(patience=2, batch_size=8, epochs=3), hp) == \
        {"epochs": 3, "batch_size": 8, "patience": 2}
    with pytest.raises(UsageError):
        resolve_schedule(_config(patience=0), hp)


def test_cli_help_states_the_defaults_and_passes_none_through():
    res = CliRunner().invoke(main, ["--help"], terminal_width=200)
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    assert "EPInformer 6" in text and "else 5" in text and "else 20" in text
    ctx = main.make_context("epi-train", ["--data", __file__, "--model", "epinformer", "--out", "run"])
    assert ctx.params["patience"] is None and ctx.params["batch_size"] is None and ctx.params["epochs"] is None


def test_split_options_of_another_scheme_are_refused(tmp_path):
    """--folds means nothing to chrom12 (12 fixed folds) and --train-cells nothing to chrom:
    giving them is an error, not silently ignored."""
    from click.testing import CliRunner

    from _planted import make_store
    from epitools.cli.train import main

    store = make_store(tmp_path / "s.h5", n=40)
    for args in (["--split", "chrom12", "--folds", "5"], ["--split", "chrom", "--train-cells", "A"]):
        res = CliRunner().invoke(main, ["--data", store, "--model", "simcnn", "--fold", "1", *args,
                                        "-o", str(tmp_path / "run")])
        assert res.exit_code == 2 and "is not used by --split" in res.output, res.output
        assert not (tmp_path / "run").exists()
