"""Guard rails: a warning from a checkpoint's held-out metrics when a model is near chance or
was never evaluated, and none when it learnt."""

from __future__ import annotations

import math

import pytest
import torch

from epitools.io.checkpoint import make_checkpoint, save_checkpoint
from epitools.training.quality import (MIN_AUROC, MIN_PEARSON_R, checkpoint_warning,
                                       held_out_metrics, model_warning)


def _ckpt(model="epipam", **metrics):
    return make_checkpoint(torch.nn.Linear(2, 1), model, "onehot", metrics=metrics)


@pytest.mark.parametrize("auroc, warns", [(0.546, True), (MIN_AUROC - 1e-3, True), (MIN_AUROC, False), (0.97, False)])
def test_pair_model_auroc_threshold(auroc, warns):
    ckpt = _ckpt(test={"stored": {"auroc": auroc, "auprc": 0.1, "n": 500}, "1:1": {"auroc": 0.99}})
    warning = model_warning(ckpt, name="run/model.pt")
    assert (warning is not None) == warns
    if warns:
        assert "near chance" in warning and f"{auroc:.3f}" in warning and "run/model.pt (epipam)" in warning
        assert "test rows, n = 500" in warning


@pytest.mark.parametrize("r, warns", [(-0.19, True), (MIN_PEARSON_R - 1e-3, True), (0.91, False)])
def test_expression_model_pearson_threshold(r, warns):
    ckpt = _ckpt("epinformer", test={"stored": {"pearson_r": r, "mse": 1.0, "n": 24}})
    warning = model_warning(ckpt)
    assert (warning is not None) == warns
    if warns:
        assert "Pearson R" in warning and f"{r:.3f}" in warning


def test_validation_metrics_when_the_test_fold_was_not_scored():
    # last.pt of an unfinished training holds the validation metrics of its epoch only.
    ckpt = _ckpt(val={"auroc": 0.52, "auprc": 0.05}, epoch=3)
    assert held_out_metrics(ckpt) == ({"auroc": 0.52, "auprc": 0.05}, "validation")
    assert "validation rows" in model_warning(ckpt)
    assert model_warning(_ckpt(val={"auroc": 0.52}, test={"stored": {"auroc": 0.9}})) is None


@pytest.mark.parametrize("metrics", [{}, {"test": {"stored": {"auroc": math.nan}}}, {"val": {"mse": 1.0}}])
def test_no_held_out_metrics_warns(metrics):
    ckpt = _ckpt(**metrics)
    assert held_out_metrics(ckpt) == ({}, "")
    assert "no held-out metrics" in model_warning(ckpt)


def test_checkpoint_file(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(_ckpt(test={"stored": {"auroc": 0.5}}), path)
    assert str(path) in checkpoint_warning(path)
    save_checkpoint(_ckpt(test={"stored": {"auroc": 0.95}}), path)
    assert checkpoint_warning(path) is None


def test_warning_travels_in_attributions_and_tables(tmp_path, caplog):
    import logging

    import numpy as np
    import pandas as pd

    from epitools.training.quality import WARNING_KEY, attribution_warning, write_warning_column

    log = logging.getLogger("test_quality")
    path = tmp_path / "attributions.npz"
    np.savez(path, ohe=np.zeros((1, 4, 3)), **{WARNING_KEY: "m.pt (epipam) is near chance"})
    with caplog.at_level(logging.WARNING):
        assert attribution_warning(path, log) == "m.pt (epipam) is near chance"
    assert "WARNING: m.pt (epipam) is near chance" in caplog.text
    np.savez(path, ohe=np.zeros((1, 4, 3)), **{WARNING_KEY: ""})
    assert attribution_warning(path, log) is None
    np.savez(path, ohe=np.zeros((1, 4, 3)))  # written before warnings existed
    assert attribution_warning(path, log) is None

    table = pd.DataFrame({"pattern": ["pos_0", "neg_0"], "q": [1e-6, 0.2]})
    write_warning_column(table, "near chance", tmp_path / "motifs.tsv")
    written = pd.read_csv(tmp_path / "motifs.tsv", sep="\t")
    assert list(written.columns) == [WARNING_KEY, "pattern", "q"]
    assert (written[WARNING_KEY] == "near chance").all() and list(table.columns) == ["pattern", "q"]


def test_frozen_batch_norms_keep_their_statistics():
    # The demo's EPInformer schedule freezes the sequence branch (bench/prioritize_drivers.py);
    # its batch norms must then compute in training what they compute in evaluation.
    from epitools.models.epinformer import EPInformer
    from epitools.training.loop import hold_frozen_statistics
    from epitools.training.prepare import apply_freeze

    model = EPInformer(16, 16)
    frozen = apply_freeze(model, ["sequence_encoder", "dilated"])
    model.train()
    hold_frozen_statistics(model, frozen)
    norms = {name: m.training for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm1d)}
    assert norms and not any(norms.values())
    model.train()
    hold_frozen_statistics(model, apply_freeze(EPInformer(16, 16), ["dilated"]))
    assert any(m.training for name, m in model.named_modules()
               if isinstance(m, torch.nn.BatchNorm1d) and name.startswith("sequence_encoder"))
