"""Everything a run needs before its first epoch: :func:`prepare` builds a :class:`Run`.

In order (the order fixes the random draws, so it is part of the results): seed, open the
store, check the model fits it, split the rows, build the model (weights from ``--init-from``,
``--freeze``), the optimizer, the adversary and the class balance, then restore ``last.pt``
when resuming and open the training batches.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from epitools import __version__
from epitools.errors import ModelError, OutputError, UsageError, os_error_cause
from epitools.io.atomic import missing_dirs, remove_empty_dirs
from epitools.io.checkpoint import load_checkpoint
from epitools.io.runlock import run_lock
from epitools.training.config import TrainConfig, check_options, resolve_schedule
from epitools.training.device import resolve_device
from epitools.training.gene_embeddings import EmbeddedGeneSource, frozen_sequence_branch
from epitools.training.sampling import sampled_negative_count
from epitools.training.sources import open_source
from epitools.training.state import TrainingState, check_same_run, json_safe, seed_everything

log = logging.getLogger(__name__)


@dataclass
class Run:
    """A prepared run: data, model, optimizer and the state to continue from."""

    config: TrainConfig
    out: Path
    device: torch.device
    source: object  # PairSource or GeneSource
    split: object  # epitools.data.splits.Split
    val_rows: np.ndarray
    test_rows: np.ndarray
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    epochs: int
    batch_size: int
    frozen: list
    adversary: object  # callable(model, batch, **hparams) -> loss, or None
    pos_weight: float | None
    train_batches: object  # EpochLoader
    loader_gen: torch.Generator
    state: TrainingState
    config_record: dict
    provenance: dict
    hold: RunHold

    @property
    def last_path(self) -> Path:
        return self.out / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "model.pt"

    def close(self) -> None:
        """Release the run directory (see :class:`RunHold`)."""
        self.hold.close()


class RunHold:
    """The run directory ``out``, created if needed and locked (``run.lock``) until :meth:`close`,
    which removes the lock and, when the run wrote nothing, the folders it created."""

    def __init__(self, out: Path):
        self.created = missing_dirs(out)
        self._stack = contextlib.ExitStack()
        try:
            out.mkdir(parents=True, exist_ok=True)
            self._stack.enter_context(run_lock(out))
        except OSError as exc:
            remove_empty_dirs(self.created)
            raise OutputError(out, os_error_cause(exc)) from exc
        except BaseException:
            remove_empty_dirs(self.created)
            raise

    def close(self) -> None:
        self._stack.close()
        remove_empty_dirs(self.created)


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


def _model_class(config: TrainConfig, source):
    from epitools.models.registry import get_model_class

    cls = get_model_class(config.model)
    model_task = getattr(cls, "task", "pairs")
    if model_task != source.task:
        raise UsageError(f"model '{config.model}' is a '{model_task}' model but {config.data} is a "
                         f"'{source.task}' store")
    if getattr(cls, "encoding", "onehot") != source.encoding:
        raise ModelError(f"model '{config.model}' takes '{cls.encoding}' input but {config.data} is "
                         f"encoded as '{source.encoding}'; re-encode with --encoding {cls.encoding}")
    return cls


def _split(config: TrainConfig, source):
    """(split, validation rows, test rows); the evaluated rows are the un-augmented ones."""
    split = source.split(config)
    log.info("split %s fold %d: %d train, %d validation, %d test rows", config.split, config.fold,
             len(split.train), len(split.val), len(split.test))
    if len(split.train) == 0 or len(split.test) == 0:
        raise UsageError(f"--split {config.split} --fold {config.fold} leaves "
                         f"{len(split.train)} training and {len(split.test)} test rows")
    val_rows = source.originals(split.val)
    test_rows = source.originals(split.test)
    if len(val_rows) == 0:
        raise UsageError(f"--split {config.split} --fold {config.fold} leaves no validation rows "
                         f"({split.info.get('val_chroms', 'none')} absent from the data); pick another fold")
    if source.task == "pairs":
        for part, rows in (("test", test_rows), ("validation", val_rows)):
            check_both_classes(config, split, part, source.labels(rows))
    return split, val_rows, test_rows


def check_both_classes(config: TrainConfig, split, part: str, labels: np.ndarray) -> None:
    """``UsageError`` naming the fold and its counts when the ``part`` ("test" or "validation")
    rows lack positives or negatives: AUROC, AUPRC and early stopping need both."""
    n_pos = int((labels == 1).sum())
    n_neg = int((labels == 0).sum())
    if n_pos and n_neg:
        return
    key = {"test": "test", "validation": "val"}[part]
    what = next((f" ({', '.join(map(str, split.info[k]))})" for k in (f"{key}_chroms", f"{key}_cells")
                 if split.info.get(k)), "")
    raise UsageError(f"--split {config.split} --fold {config.fold}: the {part} rows{what} hold "
                     f"{n_pos} positives and {n_neg} negatives; evaluation needs both classes, so "
                     "nothing was trained; pick another --fold, --split or --folds")


def _build_model(config: TrainConfig, cls, source, device) -> torch.nn.Module:
    # the store's windows decide the input geometry; an --hparam that contradicts them is an error
    clash = {k: v for k, v in config.hparams.items() if k in source.geometry and v != source.geometry[k]}
    if clash:
        name, value = next(iter(clash.items()))
        raise UsageError(f"--hparam {name}={value} contradicts the store {config.data}, whose windows "
                         f"have {name}={source.geometry[name]}; re-encode the store to change it")
    hparams = {**config.hparams, **source.geometry, **signal_hparams(cls, source, config.hparams)}
    try:
        model = cls(**hparams).to(device)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--hparam/--config: model '{config.model}' cannot be built with "
                         f"these hyperparameters: {exc}") from exc
    if config.init_from:
        init = load_checkpoint(config.init_from, encoding=source.encoding)
        if init["model"] in getattr(model, "pretrained_parts", {}):
            # A pre-training checkpoint (e.g. epinformer_encoder) fills only its part of the model.
            part = model.pretrained_parts[init["model"]]
            try:
                getattr(model, part).load_state_dict(
                    {k.removeprefix("encoder."): v for k, v in init["state_dict"].items()
                     if k.startswith("encoder.")})
            except RuntimeError as exc:
                raise ModelError(f"--init-from {config.init_from}: the {init['model']} weights do not "
                                 f"fit {config.model}'s {part}: {exc}") from exc
            log.info("%s initialised from the %s checkpoint %s", part, init["model"], config.init_from)
        elif init["model"] != config.model:
            raise ModelError(f"--init-from {config.init_from} holds a '{init['model']}' model, "
                             f"not '{config.model}'")
        else:
            try:
                model.load_state_dict(init["state_dict"])
            except RuntimeError as exc:
                raise ModelError(f"--init-from {config.init_from}: weights do not fit: {exc}") from exc
            log.info("initialised from %s", config.init_from)
    return model


def signal_hparams(cls, source, given: dict) -> dict:
    """``n_signal_tracks`` from a store with ``enhancer_signal``/``promoter_signal`` (epi-encode
    ``--signal``), for models that take the signals (EPIPDLF's genomic branch) and were not told
    otherwise; a model without the hparam ignores the signals."""
    tracks = getattr(source, "provenance", {}).get("signal_tracks")
    if not tracks or "n_signal_tracks" not in getattr(cls, "default_hparams", {}) or "n_signal_tracks" in given:
        return {}
    n = len(json.loads(tracks))
    log.info("the store holds %d signal tracks (%s): the model's genomic branch uses them", n, tracks)
    return {"n_signal_tracks": n}


def _optimizer(config: TrainConfig, model, frozen) -> torch.optim.Optimizer:
    try:
        optimizer = model.configure_optimizer(lr=config.lr, weight_decay=config.weight_decay)
    except ValueError as exc:  # a negative lr or weight_decay from --hparam/--config
        raise UsageError(f"--lr/--weight-decay (or their --hparam/--config values): {exc}") from exc
    if frozen:
        # Frozen parameters leave the optimizer so weight decay does not move them.
        for group in optimizer.param_groups:
            group["params"] = [p for p in group["params"] if p.requires_grad]
    return optimizer


def _adversary(config: TrainConfig, model):
    if not config.adversarial:
        return None
    from epitools.training.adversarial import pgd_adversarial_loss

    if not getattr(model, "supports_adversarial", False):
        raise UsageError(f"--adversarial {config.adversarial}: model '{config.model}' has no token "
                         "embeddings to perturb (use a k-mer model such as epipdlf)")
    return pgd_adversarial_loss


def _positive_weight(config: TrainConfig, source, train_rows) -> float | None:
    """The loss weight of positives under ``--class-weight``: negatives per positive seen per epoch."""
    resample = config.negatives_per_positive
    if resample and source.task != "pairs":
        raise UsageError(f"--negatives-per-positive applies to pair stores; {config.data} is a gene store")
    if source.task != "pairs" or not (config.class_weight or resample):
        return None
    y = source.labels(train_rows)
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if resample:
        n_neg = sampled_negative_count(y, resample)
        log.info("each epoch: all %d training positives and %d of the negatives, drawn afresh", n_pos, n_neg)
    if not config.class_weight:
        return None
    pos_weight = n_neg / max(n_pos, 1)
    log.info("class weighting: positive weight %.3g", pos_weight)
    return pos_weight


def _provenance(config: TrainConfig, source, split) -> dict:
    provenance = {"store": str(config.data), "store_attrs": json_safe(source.provenance),
                  "split": config.split, "fold": config.fold, "folds": split.info.get("n_folds"),
                  "seed": config.seed, "tool_version": __version__, "init_from": config.init_from}
    return {k: v for k, v in provenance.items() if v is not None}


def prepare(config: TrainConfig) -> Run:
    """Check the options, open the data, build the model and optimizer, lock the run directory
    (created only now, when every check has passed), restore ``last.pt`` when
    ``config.resume`` and there is one. The caller releases the run with :meth:`Run.close`."""
    check_options(config)
    out = Path(config.out)
    device = resolve_device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    seed_everything(config.seed)

    source = open_source(config.data, workers=config.workers)
    cls = _model_class(config, source)
    split, val_rows, test_rows = _split(config, source)
    model = _build_model(config, cls, source, device)
    schedule = resolve_schedule(config, model.hparams)
    epochs, patience = schedule["epochs"], schedule["patience"]
    log.info("%s: up to %d epoch%s, batch size %d, early stopping after %d epoch%s without gain",
             config.model, epochs, "" if epochs == 1 else "s", schedule["batch_size"], patience,
             "" if patience == 1 else "s")
    frozen = apply_freeze(model, config.freeze) if config.freeze else []
    optimizer = _optimizer(config, model, frozen)
    adversary = _adversary(config, model)
    pos_weight = _positive_weight(config, source, split.train)

    loader_gen = torch.Generator().manual_seed(config.seed)
    state = TrainingState(patience=schedule["patience"])
    last_path = out / "last.pt"
    hold = RunHold(out)
    try:
        if config.resume and last_path.exists():
            last = load_checkpoint(last_path, encoding=source.encoding)
            check_same_run(last["resume"]["config"], config)
            model.load_state_dict(last["state_dict"])
            state = TrainingState.restore(last["resume"], schedule["patience"], optimizer, loader_gen)
            log.info("resuming after epoch %d (best epoch %d)", state.epoch, state.best_epoch)
        elif config.resume:
            log.info("--resume: no %s yet, starting from scratch", last_path)

        if source.task == "genes" and frozen_sequence_branch(model, frozen):
            # After --init-from and --resume: the cache holds the weights the run trains with.
            source = EmbeddedGeneSource(source, model, device)
        resample = config.negatives_per_positive
        train_batches = (source.loader(split.train, schedule["batch_size"], loader_gen, device,
                                       negatives_per_positive=resample)
                         if resample else source.loader(split.train, schedule["batch_size"], loader_gen, device))
    except BaseException:
        hold.close()
        raise
    # float16 autocast needs loss scaling; bfloat16 (and CPU) does not, the scaler is then a no-op.
    fp16 = device.type == "cuda" and config.amp and not torch.cuda.is_bf16_supported()
    return Run(config=config, out=out, device=device, source=source, split=split, val_rows=val_rows,
               test_rows=test_rows, model=model, optimizer=optimizer,
               scaler=torch.amp.GradScaler("cuda", enabled=fp16), epochs=schedule["epochs"],
               batch_size=schedule["batch_size"], frozen=frozen, adversary=adversary, pos_weight=pos_weight,
               train_batches=train_batches, loader_gen=loader_gen, state=state,
               config_record=json_safe(asdict(config)), provenance=_provenance(config, source, split),
               hold=hold)

