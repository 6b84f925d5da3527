"""Training strategies of more than one stage: EPIPDLF's pre-train on pooled cell lines, then
fine-tune on the target line (``epi-train --strategy pretrain-finetune``).

Stage 1 trains on ``config.data`` (the pooled store) for ``pretrain_epochs`` into
``<out>/pretrain``; stage 2 starts from that run's best weights (``model.pt``) and trains on
``finetune_data`` for ``finetune_epochs`` at ``finetune_lr`` into ``<out>`` itself, so the run
directory holds the fine-tuned model, its metrics and predictions as a single-stage run would.
The epochs and learning rate are the model's hparams (EPIPDLF's paper values 15, 10 and 1e-3;
models without them take those values), overridable with ``--hparam``.

Both stages use the same chromosome split and fold. Chromosome folds are fixed by name
(:func:`epitools.data.splits.chromosome_folds`), so neither stage tests on a chromosome the
other trained on, even when the stores hold different chromosomes; the random schemes would
deal folds per store and are refused.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from epitools.errors import UsageError
from epitools.training.config import TrainConfig

log = logging.getLogger(__name__)

STRATEGIES = ("single", "pretrain-finetune")
#: Paper values (EPIPDLF) used when the model declares no such hparam.
STAGE_DEFAULTS = {"pretrain_epochs": 15, "finetune_epochs": 10, "finetune_lr": 1e-3}
# Splits whose folds depend only on chromosome names (or cell types), the same in both stores.
STAGE_SPLITS = ("chrom", "chrom12")


def stage_configs(config: TrainConfig, finetune_data: str) -> tuple[TrainConfig, TrainConfig]:
    """The pre-training and fine-tuning configs of ``config`` (its ``data`` is the pooled store).

    Returns
    -------
    pretrain, finetune : TrainConfig
        ``out`` ``<out>/pretrain`` and ``<out>``; the fine-tuning one ``init_from`` the first's
        ``model.pt``. The stage hparams are removed for models that do not declare them.
    """
    from epitools.models.registry import get_model_class

    if config.split not in STAGE_SPLITS:
        raise UsageError(f"--strategy pretrain-finetune needs a chromosome split ({', '.join(STAGE_SPLITS)}) "
                         f"so both stores share their test chromosomes; got --split {config.split}")
    if config.epochs is not None:
        raise UsageError("--strategy pretrain-finetune takes its epochs from --hparam pretrain_epochs=N "
                         "and --hparam finetune_epochs=N, not --epochs")
    if config.init_from:
        raise UsageError("--strategy pretrain-finetune starts from scratch; --init-from is for a "
                         "single-stage run")
    declared = get_model_class(config.model).default_hparams
    merged = {**STAGE_DEFAULTS, **declared, **config.hparams}
    stage = {name: merged[name] for name in STAGE_DEFAULTS}
    for name in ("pretrain_epochs", "finetune_epochs"):
        if int(stage[name]) < 1:
            raise UsageError(f"--hparam {name} must be at least 1, got {stage[name]}")
    hparams = {k: v for k, v in config.hparams.items() if k in declared or k not in STAGE_DEFAULTS}
    out = Path(config.out)
    pretrain = dataclasses.replace(config, out=str(out / "pretrain"), hparams=hparams,
                                   epochs=int(stage["pretrain_epochs"]))
    finetune = dataclasses.replace(config, data=str(finetune_data), out=str(out), hparams=hparams,
                                   epochs=int(stage["finetune_epochs"]), lr=float(stage["finetune_lr"]),
                                   init_from=str(out / "pretrain" / "model.pt"))
    return pretrain, finetune


def train_pretrain_finetune(config: TrainConfig, finetune_data: str) -> dict:
    """Run both stages (see the module docstring).

    Returns
    -------
    dict
        The fine-tuned run's test metrics, with the pre-training run's under ``"pretrain"``.
    """
    from epitools.training.loop import train

    pretrain, finetune = stage_configs(config, finetune_data)
    log.info("pre-training on %s for %d epochs -> %s", pretrain.data, pretrain.epochs, pretrain.out)
    first = train(pretrain)
    log.info("fine-tuning on %s for %d epochs at lr %g -> %s", finetune.data, finetune.epochs,
             finetune.lr, finetune.out)
    result = train(finetune)
    return {**result, "pretrain": first}
