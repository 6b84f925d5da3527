"""Attributions of EPInformer's encoder pre-training model against predicted enhancer activity.

``epi-train --model epinformer_encoder`` fits :class:`~epitools.models.epinformer_encoder.
EnhancerActivityModel` to the windows of an activity store (``epi-encode activity``): one
window (N, 4, L) in, one predicted activity out. :class:`ActivityView` gives tangermeme the
``(N, 1)`` output it explains, so DeepLIFT/SHAP or ISM attributes each window's bases to its
predicted activity (log1p scale). The encoder is convolutions, ELU/ReLU, max-pooling,
BatchNorm (linear in eval mode) and dense layers, all with DeepLIFT rules: attributions sum
to the prediction's difference from the references.

Rows (:func:`select_windows`), in the vocabulary of the pair path: ``rows="positive"`` keeps
the *active* windows, those whose measured activity is at least the store's median, and
``max_pairs`` then keeps the most active of them (a ranking, not a random draw: the windows
a motif search wants are the ones the encoder should explain best); ``rows="all"`` keeps every
window and ``max_pairs`` draws at random with ``seed``, as for pairs. Only forward strands
are explained (a reverse complement is its element again).

The result is an ``attributions.npz`` dict as :func:`epitools.interpret.attribution.
attribute_pairs` returns, so ``epi-attribute motifs`` and ``tracks`` read it unchanged:
``element`` is ``"enhancer"``, ``pair_id`` the element's name, ``label`` -1; ``activity``
(measured) and ``prediction`` (N,) are added.
"""

from __future__ import annotations

import logging
import warnings

import h5py
import hdf5plugin  # noqa: F401  registers the Blosc filter: epi-encode activity writes blosc by default
import numpy as np
import torch
from torch import nn

from epitools.data.encoding import one_hot
from epitools.data.windows import centered_starts
from epitools.errors import InputError, UsageError
from epitools.interpret.attribution import METHODS
from epitools.progress import progress

log = logging.getLogger(__name__)

ROWS = ("positive", "all")


class ActivityView(nn.Module):
    """An activity model as tangermeme explains it: ``forward(x) -> (N, 1)`` predicted activity.

    Parameters
    ----------
    model : nn.Module
        ``forward(x) -> {"prediction": (N,)}`` for one-hot windows ``x`` (N, 4, L).
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["prediction"].unsqueeze(1)


def is_activity_store(path) -> bool:
    """Whether ``path`` is an HDF5 activity store (``kind = "activity"``)."""
    try:
        with h5py.File(path, "r") as h5:
            kind = h5.attrs.get("kind", "")
    except OSError:
        return False
    return (kind.decode() if isinstance(kind, bytes) else str(kind)) == "activity"


def select_windows(activity, reverse_complement, max_pairs: int | None = None, rows: str = "positive",
                   seed: int = 0) -> np.ndarray:
    """Store rows to explain: forward-strand windows, sorted (see the module docstring).

    Parameters
    ----------
    activity : array, shape (n,)
        Measured activity of every store row.
    reverse_complement : array of bool, shape (n,)
        Rows holding a reverse complement (never chosen).
    max_pairs : int, optional
        At most this many: the most active (``positive``) or a random draw (``all``).
    rows : {"positive", "all"}
    seed : int
        Draw of ``rows="all"``.
    """
    if rows not in ROWS:
        raise UsageError(f"rows must be 'positive' or 'all', got {rows!r}")
    activity = np.asarray(activity, np.float64)
    forward = np.flatnonzero(~np.asarray(reverse_complement, bool))
    if forward.size == 0:
        return forward
    if rows == "positive":
        values = activity[forward]
        forward = forward[values >= np.median(values)]
        if max_pairs is not None and forward.size > max_pairs:
            # Stable ranking: ties keep store order, so the choice is reproducible.
            order = np.argsort(-activity[forward], kind="stable")
            forward = forward[order[:max_pairs]]
        return np.sort(forward)
    if max_pairs is not None and forward.size > max_pairs:
        forward = np.random.default_rng(seed).choice(forward, max_pairs, replace=False)
    return np.sort(forward)


def _explain(view: ActivityView, x: torch.Tensor, method: str, n_shuffles: int, batch_size: int, device,
             seed: int) -> tuple[torch.Tensor, bool]:
    """Hypothetical attributions (N, 4, L) of ``x``; also whether tangermeme warned of
    convergence deltas above its threshold."""
    if method == "deep_lift_shap":
        from tangermeme.deep_lift_shap import deep_lift_shap

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hyp = deep_lift_shap(view, x, n_shuffles=n_shuffles, hypothetical=True, batch_size=batch_size,
                                 device=device, random_state=seed)
        return hyp, any("onvergence" in str(w.message) for w in caught)
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fastISM capture notices: it falls back to the exact path
        hyp = saturation_mutagenesis(view, x, hypothetical=True, batch_size=batch_size, device=device)
    return hyp, False


def _read_store(path) -> dict:
    with h5py.File(path, "r") as h5:
        missing = [k for k in ("sequence", "activity", "reverse_complement", "chrom", "start", "end", "name")
                   if k not in h5]
        if missing:
            raise InputError(f"activity store lacks dataset(s) {', '.join(missing)}", path=path,
                             field=missing[0])
        return {"activity": h5["activity"][:].astype(np.float32),
                "reverse_complement": h5["reverse_complement"][:].astype(bool),
                "length": int(h5.attrs.get("enhancer_length", h5["sequence"].shape[1]))}


def _rows(dataset, rows: np.ndarray) -> np.ndarray:
    """``dataset[rows]`` for any order and repeats (h5py reads increasing rows only)."""
    unique, inverse = np.unique(rows, return_inverse=True)
    return dataset[unique][inverse]


def _text(values) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=str)


def attribute_activity(model: nn.Module, store_path, *, method: str = "deep_lift_shap", n_shuffles: int = 20,
                       indices=None, max_pairs: int | None = None, rows: str = "positive",
                       batch_size: int = 64, chunk_size: int = 256, device=None, seed: int = 0) -> dict:
    """Attributions of activity-store windows to the activity ``model`` predicts for them.

    Parameters
    ----------
    model : nn.Module
        An activity model (``task = "activity"``, e.g. ``epinformer_encoder``); eval mode is set.
    store_path : path
        Activity store (``epi-encode activity``) with windows of the model's length.
    method : {"deep_lift_shap", "ism"}
        DeepLIFT/SHAP with ``n_shuffles`` dinucleotide-shuffled references, or saturation
        mutagenesis (mean-centred per position).
    indices : array-like of int, optional
        Store rows; default :func:`select_windows` (``max_pairs``, ``rows``, ``seed``).
    batch_size : int
        Sequence-reference pairs (DeepLIFT) or edited sequences (ISM) per forward pass.
    chunk_size : int
        Windows read and explained per step (memory bound).
    device : str or torch.device, optional
        Default: CUDA when present.

    Returns
    -------
    dict of numpy arrays
        ``ohe``, ``hyp_scores``, ``scores`` (N, 4, L) float32; ``pair_id`` (element names),
        ``index`` (store rows, int64), ``label`` (-1, int8), ``activity`` and ``prediction``
        (float32), ``chrom``, ``window_start``, ``reverse_complement`` (N,); ``element``
        (``"enhancer"``) and ``method`` (0-d strings).
    """
    from epitools.training.device import resolve_device

    if method not in METHODS:
        raise UsageError(f"method must be one of {METHODS}, got {method!r}")
    if getattr(model, "task", None) != "activity":
        raise UsageError(f"{type(model).__name__} is not an activity model (epinformer_encoder)")
    if method == "deep_lift_shap" and n_shuffles < 1:
        raise UsageError("n_shuffles must be >= 1")
    if not is_activity_store(store_path):
        raise InputError("not an activity store (epi-encode activity); the checkpoint is an "
                         "enhancer-activity model", path=store_path, field="kind")
    device = resolve_device("auto" if device is None else str(device))
    model = model.eval()
    view = ActivityView(model).eval()
    meta = _read_store(store_path)
    length = meta["length"]
    expected = getattr(model, "length", length)
    if expected != length:
        raise UsageError(f"the model reads {expected} bp windows but {store_path} holds {length} bp windows")
    if indices is None:
        indices = select_windows(meta["activity"], meta["reverse_complement"], max_pairs, rows, seed)
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        raise InputError("no windows to explain (empty selection)", path=store_path)
    if indices.min() < 0 or indices.max() >= len(meta["activity"]):
        raise UsageError(f"store rows must lie in [0, {len(meta['activity'])}), got {indices.min()}..{indices.max()}")
    n = indices.size
    ohe = np.zeros((n, 4, length), np.float32)
    hyp = np.zeros((n, 4, length), np.float32)
    prediction = np.zeros(n, np.float32)
    n_warn = n_chunks = 0
    view = view.to(device)
    with h5py.File(store_path, "r") as h5, progress(total=n, desc=f"{method} activity", unit="seq") as bar:
        coords = {key: _rows(h5[key], indices) for key in ("chrom", "name", "start", "end")}
        for lo in range(0, n, chunk_size):
            codes = _rows(h5["sequence"], indices[lo:lo + chunk_size])
            x = torch.from_numpy(one_hot(np.ascontiguousarray(codes)))
            h, warned = _explain(view, x, method, n_shuffles, batch_size, device, seed)
            with torch.no_grad():
                prediction[lo:lo + len(x)] = view.to(device)(x.to(device))[:, 0].float().cpu().numpy()
            n_warn += int(warned)
            n_chunks += 1
            ohe[lo:lo + len(x)] = x.numpy()
            hyp[lo:lo + len(x)] = h.detach().cpu().numpy()
            bar.update(len(x))
    if n_warn:
        log.warning("DeepLIFT/SHAP: convergence deltas above tangermeme's threshold in %d of %d chunks "
                    "of %s", n_warn, n_chunks, type(model).__name__)
    log.info("%s attributions of %d activity windows of %d bp", method, n, length)
    return {"ohe": ohe, "hyp_scores": hyp, "scores": hyp * ohe,
            "pair_id": _text(coords["name"]), "index": indices, "label": np.full(n, -1, np.int8),
            "activity": meta["activity"][indices], "prediction": prediction, "chrom": _text(coords["chrom"]),
            "window_start": centered_starts(coords["start"], coords["end"], length).astype(np.int64),
            "reverse_complement": meta["reverse_complement"][indices],
            "element": np.array("enhancer"), "method": np.array(method)}
