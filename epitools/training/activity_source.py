"""An enhancer-activity store opened for training (task ``"activity"``: regression).

The store (:mod:`epitools.data.activity_store`) holds one 256 bp window per element and,
with augmentation, its reverse complement as another row (``source_row`` names the element).
Splits are by chromosome, as for gene stores, and a reverse complement always follows its
element; validation and test score the forward strands only.
"""

from __future__ import annotations

import h5py
import hdf5plugin  # noqa: F401  registers the Blosc filter: epi-encode activity writes blosc by default
import numpy as np
import pandas as pd
import torch

from epitools.data.encoding import one_hot
from epitools.data.splits import make_split
from epitools.errors import UsageError
from epitools.training.sources import EpochLoader, rows_batch


class ActivitySource:
    """An activity store (``kind = "activity"``) for ``epi-train --model epinformer_encoder``."""

    task = "activity"

    def __init__(self, path, workers: int = 0):
        self.path = path
        self.workers = workers
        with h5py.File(path, "r") as h5:
            attrs = {k: (v.decode() if isinstance(v, bytes) else v.item() if isinstance(v, np.generic) else v)
                     for k, v in h5.attrs.items()}
            self.arrays = {"sequence": h5["sequence"][:], "activity": h5["activity"][:].astype(np.float32)}
            self.source_row = h5["source_row"][:]
            self.flipped = h5["reverse_complement"][:].astype(bool)
            self.table = pd.DataFrame({
                "chrom": [c.decode() if isinstance(c, bytes) else c for c in h5["chrom"][:]],
                "start": h5["start"][:], "end": h5["end"][:],
                "name": [c.decode() if isinstance(c, bytes) else c for c in h5["name"][:]]})
        self.table["activity"] = self.arrays["activity"]
        self.provenance = {k: v for k, v in attrs.items() if not isinstance(v, np.ndarray)}
        self.encoding = attrs.get("encoding", "onehot")
        self.geometry = {k: int(attrs[k]) for k in ("enhancer_length", "promoter_length") if k in attrs}

    def close(self) -> None:
        self.arrays = {}

    def split(self, config):
        if config.split not in ("chrom", "chrom12"):
            raise UsageError("activity stores are split by chromosome: use --split chrom12 (the "
                             "EPInformer paper's 12 folds) or --split chrom")
        t = self.table
        coords = pd.DataFrame({"enhancer_chrom": t["chrom"], "enhancer_start": t["start"],
                               "enhancer_end": t["end"], "promoter_chrom": t["chrom"],
                               "promoter_start": t["start"], "promoter_end": t["end"]})
        return make_split(coords, config.split, config.folds, config.fold, config.seed, config.val_fraction)

    def originals(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        return rows[~self.flipped[rows]]

    def targets(self, rows) -> np.ndarray:
        return self.arrays["activity"][np.asarray(rows)].astype(np.float64)

    labels = targets

    def cell_types(self, rows) -> list:
        cell = self.provenance.get("cell_type")
        return [cell] if cell else []

    def loader(self, rows, batch_size: int, generator: torch.Generator, device) -> EpochLoader:
        rows = np.asarray(rows, dtype=np.int64)
        return EpochLoader(self.arrays, rows, rows, batch_size, generator, self.workers,
                           pin_memory=torch.device(device).type == "cuda")

    @staticmethod
    def to_device(batch: dict, device) -> dict:
        out = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        out["sequence"] = one_hot(out["sequence"])
        return out

    def batch(self, rows, device) -> dict:
        return self.to_device(rows_batch(self.arrays, np.asarray(rows, dtype=np.int64)), device)

    @staticmethod
    def forward(model, batch: dict) -> dict:
        return model(batch["sequence"])

    def prediction_table(self, rows) -> pd.DataFrame:
        return self.table.iloc[np.asarray(rows)].reset_index(drop=True)
