"""What defines a training run: :class:`TrainConfig`, its schedule and the checks of its options.

Every user-facing problem with a config is a :class:`~epitools.errors.UsageError` naming the
``epi-train`` option, raised before any data is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from epitools.errors import UsageError

# Schedule used when neither the caller nor the model's default_hparams (paper values) set it.
FALLBACK_SCHEDULE = {"epochs": 20, "batch_size": 64, "patience": 5}
# Split schemes that hold out ``val_fraction`` of the training groups for validation.
HOLDOUT_SPLITS = ("random", "naive", "stratified", "chrom_inner", "cell")


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


def check_options(config: TrainConfig) -> None:
    """Raise a ``UsageError`` naming the option for values no run can use.

    The split scheme, folds and cell types are checked by :func:`epitools.data.splits.make_split`,
    the schedule by :func:`resolve_schedule`.
    """
    if config.workers < 0:
        raise UsageError(f"--workers must be 0 or more, got {config.workers}")
    if config.lr is not None and not config.lr >= 0:
        raise UsageError(f"--lr must be 0 or more, got {config.lr}")
    if config.weight_decay is not None and not config.weight_decay >= 0:
        raise UsageError(f"--weight-decay must be 0 or more, got {config.weight_decay}")
    if config.split in HOLDOUT_SPLITS and not 0 < config.val_fraction < 1:
        raise UsageError(f"--val-fraction must be between 0 and 1 (exclusive) for --split {config.split}, "
                         f"got {config.val_fraction}")
    if config.negatives_per_positive is not None and config.negatives_per_positive < 1:
        raise UsageError(f"--negatives-per-positive must be at least 1, got {config.negatives_per_positive}")


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
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        schedule[name] = int(value)
    return schedule
