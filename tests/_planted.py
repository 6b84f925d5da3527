"""A tiny pair store with a planted signal, written straight through the store writer.

Positives carry motif ``TGACTCA`` in the enhancer and ``CACGTG`` in the promoter; negatives
carry at most one of them. Pairs sit on chr1..chr4, 10 kb apart, so windows never overlap.
"""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd

from epitools.data.encoding import encode_sequence, kmer_ids
from epitools.io.store import StoreWriter

ENHANCER_MOTIF = encode_sequence("TGACTCA")
PROMOTER_MOTIF = encode_sequence("CACGTG")


def _plant(codes: np.ndarray, motif: np.ndarray, rows: np.ndarray, rng) -> None:
    pos = rng.integers(0, codes.shape[1] - motif.size, size=rows.size)
    idx = pos[:, None] + np.arange(motif.size)
    codes[rows[:, None], idx] = motif


def make_store(path, n: int = 240, enhancer_length: int = 120, promoter_length: int = 80,
               encoding: str = "onehot", k: int = 4, copies: int = 0, seed: int = 0,
               cells=("A",), positive_rate: float = 0.5, n_chroms: int = 4) -> str:
    """Write ``n`` pairs (+ ``copies`` shifted copies of each positive) and return the path."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < positive_rate).astype(np.int8)
    enh = rng.integers(0, 4, size=(n, enhancer_length), dtype=np.uint8)
    pro = rng.integers(0, 4, size=(n, promoter_length), dtype=np.uint8)
    pos = np.flatnonzero(label == 1)
    neg = np.flatnonzero(label == 0)
    _plant(enh, ENHANCER_MOTIF, pos, rng)
    _plant(pro, PROMOTER_MOTIF, pos, rng)
    half = neg[: neg.size // 2]
    _plant(enh, ENHANCER_MOTIF, half, rng)
    chrom = np.array([f"chr{i % n_chroms + 1}" for i in range(n)], dtype=object)
    start = (np.arange(n) // n_chroms) * 10_000 + 1_000
    pairs = pd.DataFrame({
        "enhancer_chrom": chrom, "enhancer_start": start, "enhancer_end": start + 50,
        "promoter_chrom": chrom, "promoter_start": start + 5_000, "promoter_end": start + 5_040,
        "cell_type": np.array([cells[i % len(cells)] for i in range(n)], dtype=object),
    })
    source = np.repeat(np.arange(n), 1 + copies * (label == 1))
    first = np.r_[True, source[1:] != source[:-1]]
    shift = np.where(first, 0, rng.integers(1, 20, size=source.size)).astype(np.int32)
    enh_rows, pro_rows = enh[source].copy(), pro[source].copy()
    copy_rows = np.flatnonzero(~first)
    enh_rows[copy_rows] = np.roll(enh_rows[copy_rows], 3, axis=1)
    if encoding == "kmer":
        enh_rows, pro_rows = kmer_ids(enh_rows, k), kmer_ids(pro_rows, k)
    m = source.size
    rows = {
        "enhancer": enh_rows, "promoter": pro_rows, "label": label[source],
        "pair_id": np.array([f"p{i}" for i in source], dtype=object), "source_row": source,
        "enhancer_shift": shift, "promoter_shift": np.zeros(m, np.int32),
        "reverse_complement": np.zeros(m, bool),
        "enhancer_element": np.tile([35, 85], (m, 1)).astype(np.int32),
        "promoter_element": np.tile([20, 60], (m, 1)).astype(np.int32),
    }
    attrs = {"encoding": encoding, "k": k if encoding == "kmer" else 0,
             "enhancer_length": enhancer_length, "promoter_length": promoter_length}
    with h5py.File(path, "w") as h5:
        StoreWriter(h5, attrs).append(rows, pairs.iloc[source].reset_index(drop=True))
    return str(path)


# -- a tiny model that follows the model contract (tests only) -----------------------------------
import os  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

from epitools.models.base import PairModel  # noqa: E402
from epitools.models.registry import register  # noqa: E402


@register("planted_cnn")
class PlantedCNN(PairModel):
    """Conv → global max per element, then a linear layer on both: learns motif pairs in seconds.

    ``PLANTED_SLEEP`` (seconds per training batch) slows it down for the kill-and-resume test.
    """

    encoding = "onehot"
    default_hparams = {"filters": 8, "kernel": 7, "dropout": 0.1, "lr": 1e-2, "weight_decay": 0.0,
                       "batch_size": 32}

    def __init__(self, enhancer_length=120, promoter_length=80, **hparams):
        super().__init__(enhancer_length, promoter_length, **hparams)
        f, k = self.hparams["filters"], self.hparams["kernel"]
        self.enhancer_conv = nn.Conv1d(4, f, k)
        self.promoter_conv = nn.Conv1d(4, f, k)
        self.dropout = nn.Dropout(self.hparams["dropout"])
        self.head = nn.Linear(2 * f + f * f, 1)

    def embed_enhancer(self, x):
        return torch.relu(self.enhancer_conv(x)).amax(-1)

    def embed_promoter(self, x):
        return torch.relu(self.promoter_conv(x)).amax(-1)

    def forward_embedded(self, e, p, **extras):
        if self.training and float(os.environ.get("PLANTED_SLEEP", 0)):
            time.sleep(float(os.environ["PLANTED_SLEEP"]))
        cross = (e.unsqueeze(2) * p.unsqueeze(1)).flatten(1)
        return {"logit": self.head(self.dropout(torch.cat([e, p, cross], dim=1))).squeeze(-1)}


@register("planted_kmer")
class PlantedKmer(PairModel):
    """k-mer bag model (embedding → mean) for k-mer stores (tests only)."""

    encoding = "kmer"
    default_hparams = {"k": 4, "dim": 8, "lr": 1e-2, "weight_decay": 0.0, "batch_size": 32}

    def __init__(self, enhancer_length=120, promoter_length=80, **hparams):
        super().__init__(enhancer_length, promoter_length, **hparams)
        n = 4 ** self.hparams["k"] + 1
        self.enhancer_embedding = nn.Embedding(n, self.hparams["dim"])
        self.promoter_embedding = nn.Embedding(n, self.hparams["dim"])
        self.head = nn.Linear(2 * self.hparams["dim"], 1)

    def embed_enhancer(self, x):
        return self.enhancer_embedding(x).amax(1)

    def embed_promoter(self, x):
        return self.promoter_embedding(x).amax(1)

    def forward_embedded(self, e, p, **extras):
        return {"logit": self.head(torch.cat([e, p], dim=1)).squeeze(-1)}
