"""Pre-train / fine-tune strategy (EPIPDLF) and chromosome folds fixed by name across stores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from _planted import make_store  # registers planted_cnn
from epitools.cli.train import main as train_cli
from epitools.data.splits import CHROMOSOME_ORDER, chromosome_folds, make_split
from epitools.errors import UsageError
from epitools.training.config import TrainConfig
from epitools.training.strategy import stage_configs, train_pretrain_finetune


def _table(chroms):
    n = len(chroms)
    return pd.DataFrame({"enhancer_chrom": chroms, "enhancer_start": np.arange(n) * 10_000,
                         "enhancer_end": np.arange(n) * 10_000 + 500, "promoter_chrom": chroms,
                         "promoter_start": np.arange(n) * 10_000 + 5_000,
                         "promoter_end": np.arange(n) * 10_000 + 5_500, "label": np.arange(n) % 2})


def test_chromosome_folds_do_not_depend_on_the_chromosomes_present():
    pooled = [f"chr{c}" for c in [*range(1, 23), "X"]]
    cell = ["chr1", "chr3", "chr4", "chr8", "chr9", "chr12", "chr17", "chrX", "chrUn_gl000220"]
    for k in (4, 5, 8):
        a, b = chromosome_folds(pooled, k), chromosome_folds(cell, k)
        assert all(a[c] == b[c] for c in set(a) & set(b)), k
    # the documented fixed order: position % K + 1
    assert CHROMOSOME_ORDER[:3] == ("1", "2", "3") and CHROMOSOME_ORDER[22] == "X"
    assert chromosome_folds(cell, 8)["chrX"] == 7 and chromosome_folds(["chr9", "chr1"], 2) == {"chr1": 1, "chr9": 1}
    # an unlisted name gets the same fold in every store
    assert chromosome_folds(["chrUn_gl000220", "chr1"], 2)["chrUn_gl000220"] == \
        chromosome_folds(cell, 2)["chrUn_gl000220"]


@pytest.mark.parametrize("fold", [1, 2, 3])
def test_two_stores_never_test_on_a_chromosome_the_other_trained_on(fold):
    pooled = _table([f"chr{i}" for i in range(1, 9) for _ in range(4)])
    cell = _table([c for c in ("chr2", "chr3", "chr5", "chr6", "chr7", "chr8") for _ in range(4)])
    a = make_split(pooled, "chrom", 4, fold)
    b = make_split(cell, "chrom", 4, fold)
    chroms = lambda t, rows: set(t["enhancer_chrom"].to_numpy()[rows])  # noqa: E731
    assert not chroms(pooled, a.train) & chroms(cell, b.test)
    assert not chroms(cell, b.train) & chroms(pooled, a.test)
    assert set(b.info["test_chroms"]) <= set(a.info["test_chroms"])


def test_stage_configs_read_the_stage_hparams():
    config = TrainConfig(data="pooled.h5", model="epipdlf", out="run", hparams={"finetune_epochs": 4})
    pre, fine = stage_configs(config, "cell.h5")
    assert (pre.epochs, fine.epochs, fine.lr) == (15, 4, 1e-3)      # paper 15, our 4, paper lr
    assert pre.data == "pooled.h5" and fine.data == "cell.h5"
    assert fine.init_from.endswith("pretrain/model.pt") and pre.out.endswith("pretrain")
    assert fine.hparams == {"finetune_epochs": 4}                   # epipdlf declares it
    with pytest.raises(UsageError, match="chromosome split"):
        stage_configs(TrainConfig(data="p.h5", model="epipdlf", out="r", split="random"), "c.h5")
    with pytest.raises(UsageError, match="pretrain_epochs"):
        stage_configs(TrainConfig(data="p.h5", model="epipdlf", out="r", epochs=3), "c.h5")


def test_pretrain_finetune_runs_both_stages(tmp_path):
    pooled = make_store(tmp_path / "pooled.h5", n=240, n_chroms=6, seed=1, cells=("A", "B"))
    cell = make_store(tmp_path / "cell.h5", n=160, n_chroms=4, seed=2)
    out = tmp_path / "run"
    config = TrainConfig(data=pooled, model="planted_cnn", out=str(out), split="chrom", folds=4, fold=2,
                         seed=0, hparams={"pretrain_epochs": 2, "finetune_epochs": 3, "finetune_lr": 5e-3})
    result = train_pretrain_finetune(config, cell)
    assert result["pretrain"]["max_epochs"] == 2 and result["max_epochs"] == 3
    pre_ckpt = torch.load(out / "pretrain" / "model.pt", weights_only=True)
    fine_ckpt = torch.load(out / "model.pt", weights_only=True)
    assert fine_ckpt["provenance"]["init_from"] == str(out / "pretrain" / "model.pt")
    assert not all(torch.equal(pre_ckpt["state_dict"][k], fine_ckpt["state_dict"][k])
                   for k in pre_ckpt["state_dict"])
    assert json.loads((out / "metrics.json").read_text())["n"] == result["n"]
    pre_test = set(pd.read_csv(out / "pretrain" / "predictions.tsv", sep="\t")["enhancer_chrom"])
    fine_test = set(pd.read_csv(out / "predictions.tsv", sep="\t")["enhancer_chrom"])
    assert fine_test == {"chr2"} and pre_test == {"chr2", "chr6"}


def test_cli_strategy_needs_finetune_data(tmp_path):
    store = make_store(tmp_path / "s.h5", n=80)
    res = CliRunner().invoke(train_cli, ["--data", store, "--model", "planted_cnn", "--out", str(tmp_path / "r"),
                                         "--strategy", "pretrain-finetune"])
    assert res.exit_code == 2 and "--finetune-data" in res.output


def test_epianns_stratified_90_10_split_by_name():
    t = _table([f"chr{i % 5 + 1}" for i in range(400)])
    t["label"] = (np.arange(400) % 4 == 0).astype(int)
    t["source_row"] = np.arange(400) // 2                       # augmented copies travel together
    split = make_split(t, "stratified", n_folds=8, fold=1, seed=0, val_fraction=0.1)
    assert split.info["n_folds"] == 10
    assert len(split.test) == 40 and t["label"].to_numpy()[split.test].mean() == pytest.approx(0.25, abs=0.05)
    assert not set(t["source_row"].to_numpy()[split.test]) & set(t["source_row"].to_numpy()[split.train])
    assert len(split.val) > 0 and not set(split.val) & set(split.test)
    with pytest.raises(UsageError, match="1..10"):
        make_split(t, "stratified", fold=11)
