"""Model checkpoints: a plain dict readable with ``torch.load(weights_only=True)``.

Keys: ``format_version, model, hparams, encoding, state_dict, provenance, metrics``.
``hparams`` are the model's constructor arguments, window lengths and ``k`` included (the one
record of the input geometry); ``provenance`` records the store, split, fold, seed and tool
version. ``last.pt`` checkpoints of a running training
add a ``resume`` dict (optimizer, epoch, history, random states) used by ``--resume``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from epitools.errors import InputError, ModelError
from epitools.io.atomic import atomic_path

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "model", "hparams", "encoding", "state_dict", "provenance", "metrics")


def make_checkpoint(model: torch.nn.Module, name: str, encoding: str, provenance: dict | None = None,
                    metrics: dict | None = None, hparams: dict | None = None, **extra) -> dict:
    """Checkpoint dict of ``model`` (weights copied to CPU).

    Parameters
    ----------
    model : nn.Module
        The network; its ``hparams`` attribute is saved unless ``hparams`` is given.
    name : str
        Registry name of the model.
    encoding : {"onehot", "kmer"}
        Input encoding the model was trained on.
    provenance, metrics : dict, optional
        Where the model came from and how well it did.
    **extra
        Further top-level keys (e.g. ``resume``).
    """
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    ckpt = {
        "format_version": FORMAT_VERSION,
        "model": name,
        "hparams": dict(hparams if hparams is not None else getattr(model, "hparams", {})),
        "encoding": encoding,
        "state_dict": state,
        "provenance": dict(provenance or {}),
        "metrics": dict(metrics or {}),
    }
    ckpt.update(extra)
    return ckpt


def save_checkpoint(ckpt: dict, path) -> Path:
    """Write ``ckpt`` to ``path`` atomically (a crash leaves the previous file intact)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    return path


def load_checkpoint(path, encoding: str | None = None, map_location="cpu") -> dict:
    """Read and check a checkpoint.

    Parameters
    ----------
    path : str or Path
        A ``model.pt`` / ``last.pt`` file.
    encoding : str, optional
        The encoding of the data it will see; a different training encoding is a ``ModelError``.

    Raises
    ------
    InputError
        The file is missing, unreadable, or not a checkpoint of this format.
    ModelError
        The encodings do not match.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("checkpoint not found", path=path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise InputError(f"cannot read checkpoint: {exc}", path=path) from exc
    if not isinstance(ckpt, dict):
        raise InputError("not an epitools checkpoint (not a dict)", path=path)
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise InputError(f"not an epitools checkpoint: missing {', '.join(missing)}", path=path,
                         field=missing[0])
    if ckpt["format_version"] > FORMAT_VERSION:
        raise ModelError(f"{path}: checkpoint format {ckpt['format_version']} is newer than this "
                         f"epitools understands ({FORMAT_VERSION}); upgrade epitools")
    check_encoding(ckpt, encoding, path)
    return ckpt


def check_encoding(ckpt: dict, encoding: str | None, source=None) -> None:
    """Raise ``ModelError`` when ``encoding`` differs from the checkpoint's."""
    if encoding is not None and ckpt["encoding"] != encoding:
        where = f"{source}: " if source is not None else ""
        raise ModelError(f"{where}model '{ckpt['model']}' was trained on '{ckpt['encoding']}' "
                         f"input but the data is encoded as '{encoding}'; re-encode the data "
                         f"with --encoding {ckpt['encoding']}")
