"""The training loop behind ``epi-train``: :func:`train` runs one model on one split of one store.

A run has four parts, each in its own module:

1. :func:`epitools.training.prepare.prepare` — check the options, seed, open the store, split
   the rows (augmented copies follow their ``source_row``), build the model and optimizer and,
   with ``resume=True``, restore ``last.pt``;
2. :func:`fit_epoch` (here) — one pass over the training batches with the model's own loss;
3. :class:`epitools.training.state.TrainingState` — early stopping and everything ``last.pt``
   holds, saved after every epoch (weights, optimizer, history and every random state, so
   ``resume=True`` continues exactly where a killed run stopped); the best epoch by validation
   AUPRC (pairs) or validation MSE (genes) is kept in ``model.pt`` and the run stops after
   ``patience`` epochs without gain;
4. :func:`epitools.training.finish.finish` — score the un-augmented test rows with the best
   weights and write ``metrics.json`` (at the stored ratio and re-sampled to 1:1 and 1:10)
   and ``predictions.tsv``.

``history.tsv`` is rewritten after every epoch; ``run.lock`` marks the directory as in use
until the run ends. The options are described by
:class:`epitools.training.config.TrainConfig`.
"""

from __future__ import annotations

import logging
import time

import pandas as pd
import torch

from epitools.io.atomic import atomic_open
from epitools.io.checkpoint import make_checkpoint, save_checkpoint
from epitools.progress import progress
from epitools.training.config import TrainConfig
from epitools.training.device import autocast
from epitools.training.evaluation import predict_rows, validation_score
from epitools.training.finish import finish
from epitools.training.prepare import Run, prepare
from epitools.training.state import json_safe

__all__ = ["TrainConfig", "fit_epoch", "train"]

log = logging.getLogger(__name__)


def _rows(values: dict, mask: torch.Tensor) -> dict:
    """The rows ``mask`` selects of every tensor in ``values`` that has one row per pair."""
    n = mask.shape[0]
    return {k: (v[mask] if torch.is_tensor(v) and v.ndim >= 1 and v.shape[0] == n else v)
            for k, v in values.items()}


def _batch_loss(model, out: dict, batch: dict, pos_weight: float | None) -> torch.Tensor:
    """The model's loss of a batch, with positives weighted by ``pos_weight`` when given.

    Class weighting re-weights the rows, not one term: the model's whole loss (main and
    auxiliary heads, coordinate regression, with the model's own coefficients) is taken over
    the positive rows and over the rest, and combined as
    ``(w·n_pos·loss(pos) + n_rest·loss(rest)) / (n_pos + n_rest)``. For a plain BCE this is
    exactly ``binary_cross_entropy_with_logits(..., pos_weight=w)``.
    """
    if pos_weight is None or "label" not in batch:
        return model.loss(out, batch)
    positive = batch["label"].reshape(-1) == 1
    n_pos = int(positive.sum())
    n_rest = positive.shape[0] - n_pos
    if n_pos == 0:
        return model.loss(out, batch)
    pos_loss = model.loss(_rows(out, positive), _rows(batch, positive))
    if n_rest == 0:
        return pos_weight * pos_loss
    rest_loss = model.loss(_rows(out, ~positive), _rows(batch, ~positive))
    return (pos_weight * n_pos * pos_loss + n_rest * rest_loss) / (n_pos + n_rest)


def hold_frozen_statistics(model, frozen) -> None:
    """Put the batch-norm layers whose parameters are frozen (``--freeze``) in eval mode.

    A frozen part must compute what it computed before: in training mode its batch norms
    would normalise by batch statistics and overwrite their running ones, so the layers
    trained on top would see other inputs in training than in evaluation.
    """
    frozen = set(frozen or ())
    for name, module in model.named_modules():
        if getattr(module, "track_running_stats", False) and any(
                f"{name}.{p}" in frozen for p, _ in module.named_parameters(recurse=False)):
            module.eval()


def fit_epoch(run: Run, epoch: int) -> float:
    """One pass over the training batches (at most ``max_batches``); returns the mean batch loss."""
    config, source, model, device = run.config, run.source, run.model, run.device
    model.train()
    hold_frozen_statistics(model, run.frozen)
    total, n_batches = 0.0, 0
    batches = run.train_batches
    for i, batch in enumerate(progress(batches.epoch(), total=len(batches), desc=f"epoch {epoch}",
                                       unit="batch")):
        if config.max_batches is not None and i >= config.max_batches:
            break
        batch = source.to_device(batch, device)
        run.optimizer.zero_grad(set_to_none=True)
        with autocast(device, config.amp):
            loss = _batch_loss(model, source.forward(model, batch), batch, run.pos_weight)
            if run.adversary is not None:
                # Clean loss + loss on PGD-perturbed token embeddings (EPIPDLF).
                loss = loss + run.adversary(model, batch, **config.adversarial_hparams)
        run.scaler.scale(loss).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
        total += float(loss.detach())
        n_batches += 1
    return total / max(n_batches, 1)


def _write_history(path, history: list[dict]) -> None:
    with atomic_open(path, "w") as fh:
        pd.DataFrame(history).to_csv(fh, sep="\t", index=False, float_format="%.6g")


def _save_epoch(run: Run, val_metrics: dict, improved: bool) -> None:
    """Checkpoint a finished epoch: ``model.pt`` when it is the best so far, always ``last.pt``
    (with the resume state) and ``history.tsv``."""
    source, state = run.source, run.state
    metrics = {"val": json_safe(val_metrics), "epoch": state.epoch}
    if improved:
        save_checkpoint(make_checkpoint(run.model, run.config.model, source.encoding, run.provenance,
                                        metrics), run.best_path)
    resume = state.resume_record(run.config_record, run.optimizer, run.loader_gen)
    save_checkpoint(make_checkpoint(run.model, run.config.model, source.encoding, run.provenance,
                                    metrics, resume=resume),
                    run.last_path)
    _write_history(run.out / "history.tsv", state.history)


def train(config: TrainConfig) -> dict:
    """Run one training; returns the ``metrics.json`` dict (also written to ``config.out``).

    The run directory is locked while the run writes it (a second run on it is a
    ``UsageError`` naming the holder) and is only created once every check has passed.
    """
    run = prepare(config)
    try:
        return _train_prepared(run)
    finally:
        run.close()


def _train_prepared(run: Run) -> dict:
    config, source, state = run.config, run.source, run.state
    for epoch in range(state.epoch + 1, run.epochs + 1):
        if state.stopped:
            break
        t0 = time.perf_counter()
        train_loss = fit_epoch(run, epoch)
        val_pred = predict_rows(run.model, source, run.val_rows, run.batch_size, run.device, config.amp)
        score, val_metrics = validation_score(source.task, source.targets(run.val_rows), val_pred)
        state.elapsed += time.perf_counter() - t0
        row = {"epoch": epoch, "train_loss": train_loss,
               **{f"val_{k}": v for k, v in val_metrics.items() if k not in ("n", "positives")},
               "time_s": state.elapsed}
        improved = state.record(epoch, score, row)
        _save_epoch(run, val_metrics, improved)
        log.info("epoch %d: train loss %.4f, val %s %.4f%s", epoch, train_loss,
                 "AUPRC" if source.task == "pairs" else "MSE",
                 val_metrics["auprc"] if source.task == "pairs" else val_metrics["mse"],
                 " (best)" if improved else "")
    return finish(run)
