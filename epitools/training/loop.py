"""The training loop behind ``epi-train``.

One run = one model on one split of one store:

1. split the rows (:mod:`epitools.data.splits`; augmented copies follow their ``source_row``),
2. train with the model's own loss and optimizer, checkpointing every epoch to ``last.pt``
   (weights, optimizer, history and every random state, so ``resume=True`` continues exactly
   where a killed run stopped), keeping the best epoch by validation AUPRC (pairs) or
   validation MSE (genes) in ``model.pt`` and stopping after ``patience`` epochs without gain,
3. score the un-augmented test rows with the best weights and write ``metrics.json``
   (at the stored ratio and re-sampled to 1:1 and 1:10), ``predictions.tsv``,
   ``history.tsv``, ``roc.png`` and ``pr.png``.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from epitools import __version__
from epitools.errors import ModelError, UsageError
from epitools.io.atomic import atomic_open, write_text
from epitools.io.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from epitools.progress import progress
from epitools.training import metrics as M
from epitools.training.sources import open_source, resolve_device

log = logging.getLogger(__name__)

RATIOS = (1, 10)
# Schedule used when neither the caller nor the model's default_hparams (paper values) set it.
FALLBACK_SCHEDULE = {"epochs": 20, "batch_size": 64, "patience": 5}


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved in ``last.pt`` and ``model.pt``).

    ``epochs``, ``batch_size`` and ``patience`` left as None take the model's hyperparameters
    (its paper ``default_hparams``, overridden by ``hparams``), else :data:`FALLBACK_SCHEDULE`
    (see :func:`resolve_schedule`); ``lr`` and ``weight_decay`` left as None take the model's.
    """

    data: str
    model: str
    out: str
    split: str = "chrom"
    folds: int = 8
    fold: int = 1
    seed: int = 0
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    weight_decay: float | None = None
    hparams: dict = field(default_factory=dict)
    patience: int | None = None
    val_fraction: float = 0.1
    train_cells: list | None = None
    test_cells: list | None = None
    class_weight: bool = False
    negatives_per_positive: int | None = None
    init_from: str | None = None
    freeze: list = field(default_factory=list)
    adversarial: str | None = None
    adversarial_hparams: dict = field(default_factory=dict)
    resume: bool = False
    device: str = "auto"
    workers: int = 0
    amp: bool = True
    max_batches: int | None = None


# -- random state ----------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state(loader_gen: torch.Generator) -> dict:
    """Every random state a resumed run needs, as ``weights_only``-loadable values."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]),
        "python": random.getstate(),
        "loader": loader_gen.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, loader_gen: torch.Generator) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    random.setstate(state["python"])
    loader_gen.set_state(state["loader"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -- model set-up ----------------------------------------------------------------------------
def resolve_schedule(config: TrainConfig, model_hparams: dict) -> dict:
    """``epochs``, ``batch_size`` and ``patience`` of a run: the config's value when set, else the
    model's hyperparameter of that name, else :data:`FALLBACK_SCHEDULE`.

    Returns
    -------
    dict
        name -> int (each at least 1).
    """
    schedule = {}
    for name, fallback in FALLBACK_SCHEDULE.items():
        value = getattr(config, name)
        value = model_hparams.get(name, fallback) if value is None else value
        if value is None or int(value) < 1:
            raise UsageError(f"{name.replace('_', '-')} must be at least 1, got {value}")
        schedule[name] = int(value)
    return schedule


def apply_freeze(model: torch.nn.Module, prefixes) -> list[str]:
    """Stop gradients of parameters whose name starts with any of ``prefixes``.

    Returns the frozen parameter names; a prefix matching nothing is a ``UsageError``.
    """
    frozen = []
    names = [name for name, _ in model.named_parameters()]
    for prefix in prefixes:
        hits = [n for n in names if n == prefix or n.startswith(prefix + ".") or n.startswith(prefix)]
        if not hits:
            tops = sorted({n.split(".")[0] for n in names})
            raise UsageError(f"--freeze {prefix}: no parameter of the model starts with it; "
                             f"top-level parts: {', '.join(tops)}")
        frozen.extend(hits)
    for name, param in model.named_parameters():
        if name in frozen:
            param.requires_grad_(False)
    return sorted(set(frozen))


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


def _autocast(device: torch.device, enabled: bool):
    if device.type == "cuda" and enabled:
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return torch.autocast("cpu", enabled=False)


# -- evaluation ------------------------------------------------------------------------------
@torch.no_grad()
def predict_rows(model, source, rows: np.ndarray, batch_size: int, device, amp: bool = True,
                 desc: str | None = None) -> np.ndarray:
    """Model outputs for ``rows`` of a data source, in row order.

    Returns sigmoid probabilities (pairs) or predicted values (genes), shape (len(rows),).
    """
    model.eval()
    out = np.empty(len(rows), dtype=np.float64)
    starts = range(0, len(rows), batch_size)
    for lo in progress(starts, total=len(starts), desc=desc, unit="batch"):
        batch = source.batch(rows[lo:lo + batch_size], device)
        with _autocast(device, amp):
            result = source.forward(model, batch)
        value = (result["logit"] if "logit" in result else result["prediction"]).float()
        if source.task == "pairs":
            value = torch.sigmoid(value)
        out[lo:lo + len(value)] = value.cpu().numpy().ravel()
    return out


def evaluate(task: str, y_true, y_pred, seed: int = 0) -> dict:
    """Test metrics: classification at the stored ratio and re-sampled to 1:1 and 1:10, or
    regression metrics for genes."""
    if task != "pairs":
        return {"stored": M.regression_metrics(y_true, y_pred)}
    result = {"stored": M.classification_metrics(y_true, y_pred)}
    for ratio in RATIOS:
        idx = M.resample_to_ratio(y_true, ratio, seed=seed)
        result[f"1:{ratio}"] = M.classification_metrics(np.asarray(y_true)[idx], np.asarray(y_pred)[idx])
    return result


def _val_score(task: str, y_true, y_pred) -> tuple[float, dict]:
    """(score to maximise, metrics) of a validation pass."""
    if task == "pairs":
        m = M.classification_metrics(y_true, y_pred)
        score = m["auprc"]
        return (-math.inf if math.isnan(score) else score), m
    m = M.regression_metrics(y_true, y_pred)
    return -m["mse"], m


# -- the run ---------------------------------------------------------------------------------
def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if math.isnan(float(obj)) else float(obj)
    return obj


def _write_history(path: Path, history: list[dict]) -> None:
    with atomic_open(path, "w") as fh:
        pd.DataFrame(history).to_csv(fh, sep="\t", index=False, float_format="%.6g")


def _same_run(saved: dict, config: TrainConfig) -> None:
    keys = ("data", "model", "split", "folds", "fold", "seed", "train_cells", "test_cells", "hparams",
            "negatives_per_positive")
    diff = [k for k in keys if saved.get(k) != _json_safe(getattr(config, k))]
    if diff:
        raise UsageError(f"--resume: the run in {config.out} was started with different "
                         f"{', '.join(diff)}; use another --out or drop --resume")


def train(config: TrainConfig) -> dict:
    """Run one training; returns the ``metrics.json`` dict (also written to ``config.out``)."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    seed_everything(config.seed)

    source = open_source(config.data, workers=config.workers)
    from epitools.models.registry import get_model_class

    cls = get_model_class(config.model)
    model_task = getattr(cls, "task", "pairs")
    if model_task != source.task:
        raise UsageError(f"model '{config.model}' is a '{model_task}' model but {config.data} is a "
                         f"'{source.task}' store")
    if getattr(cls, "encoding", "onehot") != source.encoding:
        raise ModelError(f"model '{config.model}' takes '{cls.encoding}' input but {config.data} is "
                         f"encoded as '{source.encoding}'; re-encode with --encoding {cls.encoding}")

    split = source.split(config)
    log.info("split %s fold %d: %d train, %d validation, %d test rows", config.split, config.fold,
             len(split.train), len(split.val), len(split.test))
    if len(split.train) == 0 or len(split.test) == 0:
        raise UsageError(f"split {config.split} fold {config.fold} leaves "
                         f"{len(split.train)} training and {len(split.test)} test rows")
    val_rows = source.originals(split.val)
    test_rows = source.originals(split.test)
    if len(val_rows) == 0:
        raise UsageError(f"split {config.split} fold {config.fold} leaves no validation rows "
                         f"({split.info.get('val_chroms', 'none')} absent from the data); pick another fold")

    hparams = {**source.geometry, **config.hparams}
    model = cls(**hparams).to(device)
    hp = model.hparams
    schedule = resolve_schedule(config, hp)
    epochs, batch_size, patience = schedule["epochs"], schedule["batch_size"], schedule["patience"]
    log.info("%s: up to %d epochs, batch size %d, early stopping after %d epochs without gain",
             config.model, epochs, batch_size, patience)
    if config.init_from:
        init = load_checkpoint(config.init_from, encoding=source.encoding)
        if init["model"] != config.model:
            raise ModelError(f"--init-from {config.init_from} holds a '{init['model']}' model, "
                             f"not '{config.model}'")
        try:
            model.load_state_dict(init["state_dict"])
        except RuntimeError as exc:
            raise ModelError(f"--init-from {config.init_from}: weights do not fit: {exc}") from exc
        log.info("initialised from %s", config.init_from)
    frozen = apply_freeze(model, config.freeze) if config.freeze else []
    optimizer = model.configure_optimizer(lr=config.lr, weight_decay=config.weight_decay)
    if frozen:
        # Frozen parameters leave the optimizer so weight decay does not move them.
        for group in optimizer.param_groups:
            group["params"] = [p for p in group["params"] if p.requires_grad]
    adversary = None
    if config.adversarial:
        from epitools.training.adversarial import pgd_adversarial_loss

        if not getattr(model, "supports_adversarial", False):
            raise UsageError(f"--adversarial {config.adversarial}: model '{config.model}' has no token "
                             "embeddings to perturb (use a k-mer model such as epipdlf)")
        adversary = pgd_adversarial_loss

    pos_weight = None
    resample = config.negatives_per_positive
    if resample and source.task != "pairs":
        raise UsageError(f"--negatives-per-positive applies to pair stores; {config.data} is a gene store")
    if source.task == "pairs" and (config.class_weight or resample):
        y = source.labels(split.train)
        n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
        if resample:
            n_neg = min(n_neg, resample * n_pos)
            log.info("each epoch: all %d training positives and %d of the negatives, drawn afresh", n_pos, n_neg)
        if config.class_weight:
            pos_weight = n_neg / max(n_pos, 1)
            log.info("class weighting: positive weight %.3g", pos_weight)

    loader_gen = torch.Generator().manual_seed(config.seed)
    history: list[dict] = []
    start_epoch, best_score, best_epoch, bad_epochs, elapsed = 0, -math.inf, 0, 0, 0.0
    config_record = _json_safe(asdict(config))
    last_path, best_path = out / "last.pt", out / "model.pt"
    if config.resume and last_path.exists():
        last = load_checkpoint(last_path, encoding=source.encoding)
        _same_run(last["resume"]["config"], config)
        model.load_state_dict(last["state_dict"])
        optimizer.load_state_dict(last["resume"]["optimizer"])
        r = last["resume"]
        start_epoch, best_score, best_epoch = r["epoch"], r["best_score"], r["best_epoch"]
        bad_epochs, elapsed, history = r["bad_epochs"], r["elapsed"], list(r["history"])
        set_rng_state(r["rng"], loader_gen)
        log.info("resuming after epoch %d (best epoch %d)", start_epoch, best_epoch)
    elif config.resume:
        log.info("--resume: no %s yet, starting from scratch", last_path)

    provenance = {"store": str(config.data), "store_attrs": _json_safe(source.provenance),
                  "split": config.split, "fold": config.fold, "folds": split.info.get("n_folds"),
                  "seed": config.seed, "tool_version": __version__,
                  "enhancer_length": hp.get("enhancer_length"), "promoter_length": hp.get("promoter_length"),
                  "k": source.provenance.get("k"), "init_from": config.init_from}
    provenance = {k: v for k, v in provenance.items() if v is not None}
    train_source = (source.loader(split.train, batch_size, loader_gen, device, negatives_per_positive=resample)
                    if resample else source.loader(split.train, batch_size, loader_gen, device))

    # float16 autocast needs loss scaling; bfloat16 (and CPU) does not, the scaler is then a no-op.
    fp16 = device.type == "cuda" and config.amp and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler("cuda", enabled=fp16)
    stopped = bad_epochs >= patience
    for epoch in range(start_epoch + 1, epochs + 1):
        if stopped:
            break
        t0 = time.perf_counter()
        model.train()
        total, n_batches = 0.0, 0
        for i, batch in enumerate(progress(train_source.epoch(), total=len(train_source),
                                           desc=f"epoch {epoch}", unit="batch")):
            if config.max_batches is not None and i >= config.max_batches:
                break
            batch = source.to_device(batch, device)
            optimizer.zero_grad(set_to_none=True)
            with _autocast(device, config.amp):
                loss = _batch_loss(model, source.forward(model, batch), batch, pos_weight)
                if adversary is not None:
                    # Clean loss + loss on PGD-perturbed token embeddings (EPIPDLF).
                    loss = loss + adversary(model, batch, **config.adversarial_hparams)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += float(loss.detach())
            n_batches += 1
        val_pred = predict_rows(model, source, val_rows, batch_size, device, config.amp)
        score, val_metrics = _val_score(source.task, source.targets(val_rows), val_pred)
        elapsed += time.perf_counter() - t0
        row = {"epoch": epoch, "train_loss": total / max(n_batches, 1),
               **{f"val_{k}": v for k, v in val_metrics.items() if k not in ("n", "positives")},
               "time_s": elapsed}
        history.append(row)
        # The first epoch always counts, so a validation set without positives still yields a model.
        improved = score > best_score or best_epoch == 0
        if improved:
            best_score, best_epoch, bad_epochs = score, epoch, 0
            save_checkpoint(make_checkpoint(model, config.model, source.encoding, provenance,
                                            {"val": _json_safe(val_metrics), "epoch": epoch}), best_path)
        else:
            bad_epochs += 1
        stopped = bad_epochs >= patience
        resume_state = {"config": config_record, "epoch": epoch, "optimizer": optimizer.state_dict(),
                        "best_score": best_score, "best_epoch": best_epoch, "bad_epochs": bad_epochs,
                        "elapsed": elapsed, "history": history, "rng": rng_state(loader_gen)}
        save_checkpoint(make_checkpoint(model, config.model, source.encoding, provenance,
                                        {"val": _json_safe(val_metrics), "epoch": epoch},
                                        resume=resume_state), last_path)
        _write_history(out / "history.tsv", history)
        log.info("epoch %d: train loss %.4f, val %s %.4f%s", epoch, row["train_loss"],
                 "AUPRC" if source.task == "pairs" else "MSE",
                 val_metrics["auprc"] if source.task == "pairs" else val_metrics["mse"],
                 " (best)" if improved else "")

    if not best_path.exists():
        raise UsageError("no epoch was trained (check --epochs)")
    best = load_checkpoint(best_path)
    model.load_state_dict(best["state_dict"])
    test_pred = predict_rows(model, source, test_rows, batch_size, device, config.amp, desc="test")
    y_test = source.targets(test_rows)
    test_metrics = evaluate(source.task, y_test, test_pred, seed=config.seed)
    result = {
        "model": config.model, "task": source.task, "split": config.split, "fold": config.fold,
        "folds": split.info.get("n_folds"), "seed": config.seed,
        "cell_types": source.cell_types(split.test),
        "train_cells": config.train_cells, "test_cells": config.test_cells,
        **test_metrics["stored"], "test": test_metrics,
        "val": best["metrics"].get("val", {}),
        "epochs": len(history), "best_epoch": best_epoch, "time_s": elapsed,
        "n_train": int(len(split.train)), "n_val": int(len(val_rows)), "n_test": int(len(test_rows)),
        "batch_size": batch_size, "max_epochs": epochs, "patience": patience,
        "store": str(config.data), "split_info": split.info,
        "frozen": frozen, "class_weight": pos_weight, "negatives_per_positive": resample,
        "adversarial": config.adversarial,
        "tool_version": __version__,
    }
    result = _json_safe(result)
    best["metrics"] = {**best["metrics"], "test": result["test"]}
    save_checkpoint(best, best_path)
    table = source.prediction_table(test_rows)
    table["score"] = test_pred
    table["model"] = config.model
    table["fold"] = config.fold
    with atomic_open(out / "predictions.tsv", "w") as fh:
        table.to_csv(fh, sep="\t", index=False)
    write_text(out / "metrics.json", json.dumps(result, indent=2) + "\n")
    if source.task == "pairs":
        from epitools.report.plots import save_pr, save_roc

        label = f"{config.model} fold {config.fold}"
        save_roc(out / "roc.png", {label: (y_test, test_pred)})
        save_pr(out / "pr.png", {label: (y_test, test_pred)})
    source.close()
    return result
