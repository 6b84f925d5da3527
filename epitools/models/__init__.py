"""Models, registered by name: ``build_model("epipam", ...)``."""

from epitools.models.registry import MODELS, available_models, build_model, get_model_class, register

__all__ = ["MODELS", "available_models", "build_model", "get_model_class", "register"]
