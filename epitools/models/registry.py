"""Name → model class registry.

Model modules register their class with :func:`register`; :func:`get_model_class`
imports every model module on first use so a name always resolves.
"""

from __future__ import annotations

import importlib

from epitools.errors import UsageError

MODELS: dict[str, type] = {}

# Modules that define registered models, imported lazily (torch import cost).
_MODEL_MODULES = ("epipam", "epiann", "epipdlf", "simcnn", "epinformer", "epinformer_encoder")


def register(name: str):
    """Class decorator: make a model available under ``name``."""

    def decorator(cls):
        cls.name = name
        MODELS[name] = cls
        return cls

    return decorator


def _load_all() -> None:
    for module in _MODEL_MODULES:
        try:
            importlib.import_module(f"epitools.models.{module}")
        except ModuleNotFoundError as exc:
            # Only a missing model module itself is tolerated, never a broken import inside it.
            if exc.name != f"epitools.models.{module}":
                raise


def get_model_class(name: str) -> type:
    """The class registered under ``name``; a clear error listing known names otherwise."""
    if name not in MODELS:
        _load_all()
    if name not in MODELS:
        raise UsageError(f"unknown model '{name}'; known models: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def available_models() -> list[str]:
    """Names of every registered model."""
    _load_all()
    return sorted(MODELS)


def build_model(name: str, **hparams):
    """Instantiate model ``name`` with ``hparams`` over its paper defaults."""
    return get_model_class(name)(**hparams)


def model_encoding(name: str) -> str:
    """The store encoding model ``name`` reads: ``"onehot"`` (base codes) or ``"kmer"`` (k-mer ids)."""
    return get_model_class(name).encoding


def model_task(name: str) -> str:
    """What model ``name`` predicts: ``"pairs"`` (interaction of a pair) or ``"genes"`` (expression)."""
    return getattr(get_model_class(name), "task", "pairs")


#: What a model's paper trained it on, read from its class (attributes of the same names);
#: a class that states none trains on unaugmented data and has no paper split of its own.
PAPER_DATA_DEFAULTS = {"augment_copies": 0, "max_shift": 0, "paper_split": "", "paper_folds": 0}

#: Columns of :func:`model_table`, in the order ``epi-train --list-models --format tsv`` writes.
MODEL_TABLE_COLUMNS = ("name", "encoding", "task", *PAPER_DATA_DEFAULTS)


def paper_data(name: str) -> dict:
    """The data model ``name``'s paper trained on: ``augment_copies`` (shifted copies of each
    positive), ``max_shift`` (bp; 0 without copies), ``paper_split`` (a
    :func:`epitools.data.splits.make_split` scheme, "" when none) and ``paper_folds``."""
    cls = get_model_class(name)
    data = {key: getattr(cls, key, default) for key, default in PAPER_DATA_DEFAULTS.items()}
    if not data["augment_copies"]:
        data["max_shift"] = 0  # a shift bound without copies is no data need of its own
    return data


def model_table() -> list[dict]:
    """One dict per registered model, sorted by name, keyed by :data:`MODEL_TABLE_COLUMNS`:
    ``name``, ``encoding``, ``task`` and its :func:`paper_data`.

    The pipeline derives each requested model's store (encoding, augmentation) and, with
    ``--split paper``, its split from this table (``epi-train --list-models --format tsv``)
    instead of parameters of its own.
    """
    return [{"name": name, "encoding": model_encoding(name), "task": model_task(name), **paper_data(name)}
            for name in available_models()]


def model_from_checkpoint(ckpt: dict, device="cpu"):
    """Rebuild the network of a loaded checkpoint with its weights, in eval mode on ``device``.

    The constructor arguments, window lengths included, are the checkpoint's ``hparams``:
    the one place a checkpoint records its input geometry.
    """
    from epitools.errors import ModelError

    # a loaded Checkpoint knows its file (epitools.io.checkpoint); a plain dict does not
    where = f"{ckpt.path}: " if getattr(ckpt, "path", None) is not None else ""
    try:
        model = build_model(ckpt["model"], **ckpt["hparams"])
    except UsageError as exc:
        raise ModelError(f"{where}checkpoint names {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{where}checkpoint hyperparameters do not fit model '{ckpt['model']}' "
                         f"(was the checkpoint relabelled?): {exc}") from exc
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise ModelError(f"{where}checkpoint weights do not fit model '{ckpt['model']}' "
                         f"(was the checkpoint relabelled?): {exc}") from exc
    return model.to(device).eval()
