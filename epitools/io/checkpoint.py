"""Model checkpoints: a plain dict readable with ``torch.load(weights_only=True)``.

Keys: ``format_version, model, hparams, encoding, state_dict, provenance, metrics``.
``hparams`` are the model's constructor arguments, window lengths and ``k`` included (the one
record of the input geometry); ``provenance`` records the store, split, fold, seed and tool
version. ``last.pt`` checkpoints of a running training
add a ``resume`` dict (optimizer, epoch, history, random states) used by ``--resume``.
"""

from __future__ import annotations

import logging
import re
import zlib
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


class Checkpoint(dict):
    """A loaded checkpoint: the plain dict of the format, plus ``path``, the file it came from
    (an attribute, not a key: it is never saved), for messages about it."""

    path: Path | None = None


def save_checkpoint(ckpt: dict, path) -> Path:
    """Write ``ckpt`` to ``path`` atomically (a crash leaves the previous file intact).

    torch writes through a Python file so that a full disk is an ``OSError`` (then an
    ``OutputError`` naming ``path``), not a bare ``RuntimeError`` of its zip writer.
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(dict(ckpt), fh)
    return path


def _load_failure(exc: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` failed, in our words: never torch's advice to load
    the file with ``weights_only=False``, which runs whatever code the file holds."""
    text = str(exc)
    match = re.search(r"GLOBAL\s+([\w.]+)", text)
    if match:
        return (f"refused: the file holds a Python object ({match.group(1)}) that loading would run "
                "as code; epitools checkpoints hold only tensors and plain values, so it was not "
                "written by epitools or has been altered")
    if "zip archive" in text or isinstance(exc, (EOFError, zlib.error)):
        return "truncated or corrupt (not a complete torch zip archive)"
    return "not a torch checkpoint (neither a torch zip archive nor a pickle of tensors)"


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
        The file is missing, unreadable, truncated, holds objects a weights-only load refuses,
        or is not a checkpoint of this format.
    ModelError
        The encodings do not match.

    Returns
    -------
    Checkpoint
        The checkpoint dict, with ``.path``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("checkpoint not found", path=path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise InputError(f"cannot read checkpoint: {_load_failure(exc)}", path=path) from None
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
    loaded = Checkpoint(ckpt)
    loaded.path = path
    return loaded


def check_encoding(ckpt: dict, encoding: str | None, source=None) -> None:
    """Raise ``ModelError`` when ``encoding`` differs from the checkpoint's."""
    if encoding is not None and ckpt["encoding"] != encoding:
        where = f"{source}: " if source is not None else ""
        raise ModelError(f"{where}model '{ckpt['model']}' was trained on '{ckpt['encoding']}' "
                         f"input but the data is encoded as '{encoding}'; re-encode the data "
                         f"with --encoding {ckpt['encoding']}")
