"""torch Dataset over a gene-level store (:mod:`epitools.data.gene_store`) for EPInformer."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from epitools.data.encoding import one_hot as _one_hot
from epitools.io.gene_store import GeneStore

# Order of the per-enhancer feature channels; EPInformer variants pick a prefix of these.
FEATURE_NAMES = ("distance", "dnase", "h3k27ac", "contact")
CONTACT_FLOOR = 1e-4


def enhancer_features(distance, activity, contact, mask=None) -> np.ndarray:
    """Per-enhancer features on log scales of unit-order spread, channels in :data:`FEATURE_NAMES` order.

    Parameters
    ----------
    distance : array, shape (..., M)
        |element centre - TSS| (bp).
    activity : array, shape (..., M, 2)
        DNase and H3K27ac signal (>= 0).
    contact : array, shape (..., M)
        Hi-C contact (>= 0).
    mask : bool array, shape (..., M), optional
        Filled slots; empty slots get all-zero features.

    Returns
    -------
    numpy.ndarray
        float32, shape (..., M, 4): log10(distance + 1) - 4, log1p(DNase), log1p(H3K27ac),
        log10(contact + 1e-4) + 2. Narrow ranges (e.g. log-distance / 5) make the
        contact-versus-distance contrast that marks a looping enhancer too small to learn quickly.
    """
    distance = np.asarray(distance, dtype=np.float64)
    activity = np.clip(np.asarray(activity, dtype=np.float64), 0, None)
    contact = np.clip(np.asarray(contact, dtype=np.float64), 0, None)
    out = np.stack([
        np.log10(distance + 1.0) - 4.0,
        np.log1p(activity[..., 0]),
        np.log1p(activity[..., 1]),
        np.log10(contact + CONTACT_FLOOR) + 2.0,
    ], axis=-1)
    if mask is not None:
        out = out * np.asarray(mask, dtype=bool)[..., None]
    return out.astype(np.float32)


def gene_inputs(gene_features, promoter_h3k27ac) -> np.ndarray:
    """Half-life features (G, F) and promoter H3K27ac (G,) → float32 (G, F + 1), the last
    column log1p(H3K27ac) (EPInformer's "promoter signal")."""
    signal = np.log1p(np.clip(np.asarray(promoter_h3k27ac, np.float64), 0, None))
    return np.concatenate([np.asarray(gene_features, np.float32).reshape(len(signal), -1),
                           signal.astype(np.float32)[:, None]], axis=1)


class GeneDataset(Dataset):
    """Genes of a gene-level store as EPInformer inputs.

    Parameters
    ----------
    store_path : path
        Gene store (``kind="genes"``).
    indices : array of int, optional
        Genes to expose (default: all).
    one_hot : bool
        Expand sequences to float one-hot here; by default they stay uint8 codes and the
        model expands them on its device (16x less host memory and transfer).

    Each item is a dict:
    ``promoter`` (Lp,) uint8 or (4, Lp) float32; ``enhancers`` (M, Le) uint8 or (M, 4, Le);
    ``enhancer_mask`` (M,) bool (True = a candidate fills the slot); ``features`` (M, 4) float32
    (see :func:`enhancer_features`); ``gene_features`` (F + 1,) float32, the F half-life
    features then log1p(promoter H3K27ac) (0 for a store written before it); ``expression`` float32
    (log1p target, NaN when unknown); ``label`` (the same target, for generic trainers); ``index``.
    """

    def __init__(self, store_path, indices=None, one_hot: bool = False):
        self.store = store_path if isinstance(store_path, GeneStore) else GeneStore(store_path)
        self.indices = (np.arange(len(self.store)) if indices is None
                        else np.asarray(indices, dtype=np.int64))
        self.one_hot = one_hot

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, i: int) -> dict:
        index = int(self.indices[i])
        return {k: v[0] if k != "index" else v for k, v in self.batch([index]).items()} | {"index": index}

    def batch(self, store_indices) -> dict:
        """Collated tensors of store rows ``store_indices`` (a fast path for scoring)."""
        arrays = self.store.read(store_indices)
        promoter = torch.from_numpy(arrays["promoter"])
        enhancers = torch.from_numpy(arrays["enhancers"])
        if self.one_hot:
            promoter, enhancers = _one_hot(promoter), _one_hot(enhancers)
        target = torch.from_numpy(arrays["expression"].astype(np.float32))
        return {
            "promoter": promoter,
            "enhancers": enhancers,
            "enhancer_mask": torch.from_numpy(arrays["enhancer_mask"].astype(bool)),
            "features": torch.from_numpy(enhancer_features(arrays["distance"], arrays["activity"],
                                                           arrays["contact"], arrays["enhancer_mask"])),
            "gene_features": torch.from_numpy(gene_inputs(arrays["gene_features"], arrays["promoter_h3k27ac"])),
            "expression": target,
            "label": target.clone(),
            "index": torch.from_numpy(np.array(store_indices, dtype=np.int64)),
        }
