"""Name → model class registry.

Model modules register their class with :func:`register`; :func:`get_model_class`
imports every model module on first use so a name always resolves.
"""

from __future__ import annotations

import importlib

from epitools.errors import UsageError

MODELS: dict[str, type] = {}

# Modules that define registered models, imported lazily (torch import cost).
_MODEL_MODULES = ("epipam", "epiann", "epipdlf", "simcnn", "epinformer")


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
