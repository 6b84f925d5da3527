"""Training data sources: a store opened for training, with its split, batches and targets.

:func:`open_source` dispatches on the store's ``kind`` attribute: ``"pairs"`` (EPI
classification, :class:`PairSource`), ``"genes"`` (expression regression,
:class:`GeneSource`) or ``"activity"`` (enhancer-activity regression,
:class:`~epitools.training.activity_source.ActivitySource`). Training rows are read into memory once (base codes are one byte per
base) and batches are expanded to one-hot on the target device. :func:`load_batch` builds the
same batches from a few rows of a store without reading the rest (attention maps, tests).
"""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pandas as pd
import torch

from epitools.data.encoding import one_hot
from epitools.data.splits import WINDOW_SCHEMES, make_split
from epitools.data.windows import Geometry, centered_starts
from epitools.errors import InputError, UsageError
from epitools.training.sampling import positives_and_negatives, sampled_negative_count

log = logging.getLogger(__name__)

PAIR_FIELDS = ("enhancer", "promoter", "label", "enhancer_element", "promoter_element")
# Optional per-row model inputs passed to ``forward`` as keyword extras (EPIPDLF signal branch).
EXTRA_FIELDS = ("enhancer_signal", "promoter_signal")


def store_kind(path) -> str:
    """The ``kind`` attribute of an HDF5 store (``"pairs"`` or ``"genes"``)."""
    try:
        with h5py.File(path, "r") as h5:
            kind = h5.attrs.get("kind", "")
    except OSError as exc:
        raise InputError(f"cannot open HDF5 store: {exc}", path=path) from exc
    return kind.decode() if isinstance(kind, bytes) else str(kind)


def open_source(path, workers: int = 0):
    """Open a store for training: :class:`PairSource` or :class:`GeneSource` by its kind."""
    kind = store_kind(path)
    if kind == "pairs":
        return PairSource(path, workers=workers)
    if kind == "genes":
        return GeneSource(path, workers=workers)
    if kind == "activity":
        from epitools.training.activity_source import ActivitySource

        return ActivitySource(path, workers=workers)
    raise InputError(f"unknown store kind {kind!r} (expected 'pairs', 'genes' or 'activity')", path=path,
                     field="kind")


CANONICAL_COLUMNS = ("pair_id", "enhancer_chrom", "enhancer_start", "enhancer_end",
                     "promoter_chrom", "promoter_start", "promoter_end", "label", "cell_type")


def order_pair_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Canonical pair columns first (in their usual order), then the rest as they come."""
    first = [c for c in CANONICAL_COLUMNS if c in table]
    return table[first + [c for c in table.columns if c not in first]]


def rows_batch(arrays: dict, rows: np.ndarray, selected: bool = False) -> dict:
    """CPU tensors of ``rows`` of every array in ``arrays`` (already those rows when
    ``selected``), plus ``index`` (the rows)."""
    batch = {name: torch.from_numpy(np.ascontiguousarray(arr if selected else arr[rows]))
             for name, arr in arrays.items()}
    batch["index"] = torch.from_numpy(np.asarray(rows, dtype=np.int64))
    return batch


def pair_batch_to_device(batch: dict, encoding: str, device) -> dict:
    """Move a CPU pair batch to ``device``, expanding base codes to one-hot there.

    ``enhancer``/``promoter`` become (B, 4, L) float32 one-hot (``encoding="onehot"``) or
    (B, L-k+1) int64 k-mer ids; ``label`` and the signal extras become float32; the rest
    (``index``, element coordinates) keep their dtype.
    """
    out = {}
    for name, value in batch.items():
        value = value.to(device, non_blocking=True)
        if name in ("enhancer", "promoter"):
            value = one_hot(value) if encoding == "onehot" else value.long()
        elif name == "label" or name in EXTRA_FIELDS:
            value = value.float()
        out[name] = value
    return out


def load_batch(store, rows, device="cpu") -> dict:
    """Rows of a pair store as a model batch on ``device``, reading only those rows.

    Parameters
    ----------
    store : PairStore or path
    rows : array-like of int, shape (B,)
        Store rows, in any order.
    device : torch.device or str

    Returns
    -------
    dict of torch.Tensor
        ``enhancer``/``promoter`` (B, 4, L) float32 one-hot or (B, L-k+1) int64 k-mer ids,
        ``label`` (B,) float32 (-1 unknown), ``enhancer_element``/``promoter_element`` (B, 2),
        the stored signal extras, and ``index`` (B,) int64 (the rows).
    """
    from epitools.io.store import PairStore, open_store

    owned = not isinstance(store, PairStore)
    store = open_store(store) if owned else store
    try:
        rows = np.asarray(rows, dtype=np.int64)
        fields = [f for f in PAIR_FIELDS + EXTRA_FIELDS if f in store.fields]
        batch = rows_batch(store.read(rows, fields=fields), rows, selected=True)
        return pair_batch_to_device(batch, store.encoding, torch.device(device))
    finally:
        if owned:
            store.close()


class _Batches(torch.utils.data.Dataset):
    """Item ``b`` = the ``b``-th batch of rows, as CPU tensors (what DataLoader workers build)."""

    def __init__(self, arrays: dict, batches: list[np.ndarray]):
        self.arrays = arrays
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, b):
        rows = self.batches[b]
        if isinstance(self.arrays, _GeneArrays):
            return self.arrays.dataset.batch(np.sort(rows))
        return rows_batch(self.arrays, rows)


class _GeneArrays(dict):
    """Adapter: lets :class:`_Batches` build gene batches through ``GeneDataset.batch``."""

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset


class EpochLoader:
    """Shuffled batches of in-memory rows, one DataLoader per epoch.

    The permutation is drawn from ``generator`` (saved in ``last.pt``), so a resumed run
    sees the same batches as an uninterrupted one. With ``negatives_per_positive`` N (and the
    rows' ``labels``), each epoch keeps every positive and a fresh draw of N negatives per
    positive.
    """

    def __init__(self, arrays: dict, positions: np.ndarray, rows: np.ndarray, batch_size: int,
                 generator: torch.Generator, workers: int = 0, pin_memory: bool = False,
                 labels: np.ndarray | None = None, negatives_per_positive: int | None = None):
        self.arrays, self.positions, self.rows = arrays, positions, rows
        self.batch_size, self.generator = batch_size, generator
        self.workers, self.pin_memory = workers, pin_memory
        self.labels, self.negatives_per_positive = labels, negatives_per_positive
        self.n_rows = len(rows) if negatives_per_positive is None else (
            int((np.asarray(labels) == 1).sum()) + sampled_negative_count(labels, negatives_per_positive))

    def _epoch_rows(self) -> np.ndarray:
        """Indices into ``positions`` of this epoch's rows, shuffled."""
        if self.negatives_per_positive is None:
            return torch.randperm(len(self.rows), generator=self.generator).numpy()
        chosen = positives_and_negatives(self.labels, self.negatives_per_positive, self.generator)
        return chosen[torch.randperm(chosen.size, generator=self.generator).numpy()]

    def __len__(self):
        return -(-self.n_rows // self.batch_size)

    def epoch(self):
        perm = self._epoch_rows()
        batches = [self.positions[perm[i:i + self.batch_size]] for i in range(0, len(perm), self.batch_size)]
        loader = torch.utils.data.DataLoader(_Batches(self.arrays, batches), batch_size=None,
                                             shuffle=False, num_workers=self.workers,
                                             pin_memory=self.pin_memory)
        yield from loader


class PairSource:
    """A pair store opened for training (task ``"pairs"``)."""

    task = "pairs"

    def __init__(self, path, workers: int = 0):
        from epitools.io.store import open_store

        self.path = path
        self.store = open_store(path)
        self.workers = workers
        attrs = self.store.attrs
        self.encoding = attrs.get("encoding", "onehot")
        self.provenance = attrs
        self.geometry = Geometry.from_attrs(attrs).model_kwargs()
        fields = [f for f in PAIR_FIELDS + EXTRA_FIELDS if f in self.store.fields]
        self.arrays = self.store.read(None, fields=fields)
        self.arrays["label"] = self.arrays["label"].astype(np.float32)
        meta = self.store.read(None, fields=[f for f in ("source_row", "enhancer_shift", "promoter_shift",
                                                         "reverse_complement") if f in self.store.fields])
        n = len(self.store)
        self.source_row = meta.get("source_row", np.arange(n))
        self.augmented = np.zeros(n, dtype=bool)
        for name in ("enhancer_shift", "promoter_shift"):
            if name in meta:
                self.augmented |= meta[name] != 0
        if "reverse_complement" in meta:
            self.augmented |= meta["reverse_complement"].astype(bool)
        self.shifts = {k: meta.get(f"{k}_shift", np.zeros(n, np.int64)) for k in ("enhancer", "promoter")}
        self._table = None

    def close(self) -> None:
        self.store.close()

    @property
    def table(self) -> pd.DataFrame:
        """Source coordinates, ``label``, ``pair_id``, ``source_row`` (+ ``cell_type``) per row."""
        if self._table is None:
            self._table = self.store.pairs_table()
            if "enhancer_chrom" not in self._table:
                raise InputError("store has no 'pairs' group with pair coordinates; re-encode it "
                                 "with a current epi-encode", path=self.path, field="pairs")
        return self._table

    def windows(self) -> pd.DataFrame:
        """Window coordinates each row's sequence came from (for overlap groups)."""
        t = self.table
        out = {}
        for part in ("enhancer", "promoter"):
            length = self.geometry[f"{part}_length"]
            start = centered_starts(t[f"{part}_start"], t[f"{part}_end"], length, self.shifts[part])
            out[f"{part}_chrom"] = t[f"{part}_chrom"].to_numpy()
            out[f"{part}_start"] = start
            out[f"{part}_end"] = start + length
        return pd.DataFrame(out)

    def split(self, config):
        t = self.table
        windows = self.windows() if config.split in WINDOW_SCHEMES else None
        return make_split(t, config.split, config.folds, config.fold, config.seed, config.val_fraction,
                          windows=windows, train_cells=config.train_cells, test_cells=config.test_cells)

    def originals(self, rows: np.ndarray) -> np.ndarray:
        """The un-augmented rows among ``rows`` (all of them when the store has no augmentation)."""
        rows = np.asarray(rows, dtype=np.int64)
        return rows[~self.augmented[rows]]

    def labels(self, rows) -> np.ndarray:
        return self.arrays["label"][np.asarray(rows)]

    targets = labels

    def cell_types(self, rows) -> list:
        if "cell_type" not in self.table:
            return []
        return sorted(set(self.table["cell_type"].astype(str).to_numpy()[np.asarray(rows)]))

    def loader(self, rows, batch_size: int, generator: torch.Generator, device,
               negatives_per_positive: int | None = None) -> EpochLoader:
        """Training batches over ``rows``; ``negatives_per_positive`` subsamples negatives per epoch."""
        rows = np.asarray(rows, dtype=np.int64)
        return EpochLoader(self.arrays, rows, rows, batch_size, generator, self.workers,
                           pin_memory=torch.device(device).type == "cuda", labels=self.labels(rows),
                           negatives_per_positive=negatives_per_positive)

    def to_device(self, batch: dict, device) -> dict:
        """Move a CPU batch to ``device``: one-hot expansion of base codes, long k-mer ids."""
        return pair_batch_to_device(batch, self.encoding, device)

    def batch(self, rows, device) -> dict:
        rows = np.asarray(rows, dtype=np.int64)
        return self.to_device(rows_batch(self.arrays, rows), device)

    @staticmethod
    def forward(model, batch: dict) -> dict:
        extras = {k: batch[k] for k in EXTRA_FIELDS if k in batch}
        return model(batch["enhancer"], batch["promoter"], **extras)

    def prediction_table(self, rows) -> pd.DataFrame:
        return order_pair_columns(self.table.iloc[np.asarray(rows)].reset_index(drop=True))


class GeneSource:
    """A gene-level store opened for EPInformer training (task ``"genes"``: regression)."""

    task = "genes"

    def __init__(self, path, workers: int = 0):
        from epitools.data import gene_dataset

        self.path = path
        self.workers = workers
        self._module = gene_dataset
        self.h5 = h5py.File(path, "r")
        attrs = {k: (v.decode() if isinstance(v, bytes) else v.item() if isinstance(v, np.generic) else v)
                 for k, v in self.h5.attrs.items()}
        self.provenance = {k: v for k, v in attrs.items() if not isinstance(v, np.ndarray)}
        self.encoding = attrs.get("encoding", "onehot")
        self.geometry = {k: int(attrs[k]) for k in ("enhancer_length", "promoter_length") if k in attrs}
        self.expression = self.h5["expression"][:].astype(np.float64)
        self.table = pd.DataFrame({
            name: [x.decode() if isinstance(x, bytes) else x for x in self.h5[name][:]]
            for name in ("gene", "chrom", "strand") if name in self.h5})
        self.table["tss"] = self.h5["tss"][:]
        self.table["expression"] = self.expression
        self._gene_dataset = None

    def close(self) -> None:
        self.h5.close()

    def split(self, config):
        if config.split not in ("chrom", "chrom12"):
            raise UsageError("gene stores are split by chromosome: use --split chrom12 (EPInformer) "
                             "or --split chrom")
        t = pd.DataFrame({"enhancer_chrom": self.table["chrom"], "enhancer_start": self.table["tss"],
                          "enhancer_end": self.table["tss"] + 1, "promoter_chrom": self.table["chrom"],
                          "promoter_start": self.table["tss"], "promoter_end": self.table["tss"] + 1})
        return make_split(t, config.split, config.folds, config.fold, config.seed, config.val_fraction)

    def originals(self, rows):
        rows = np.asarray(rows, dtype=np.int64)
        return rows[np.isfinite(self.expression[rows])]

    def targets(self, rows):
        return self.expression[np.asarray(rows)]

    labels = targets

    def cell_types(self, rows) -> list:
        cell = self.provenance.get("cell_type")
        return [cell] if cell else []

    def _dataset(self):
        if self._gene_dataset is None:
            self._gene_dataset = self._module.GeneDataset(self.path)
        return self._gene_dataset

    def loader(self, rows, batch_size: int, generator: torch.Generator, device):
        rows = self.originals(rows)
        return EpochLoader(_GeneArrays(self._dataset()), rows, rows, batch_size, generator,
                           self.workers, pin_memory=torch.device(device).type == "cuda")

    def to_device(self, batch: dict, device) -> dict:
        return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}

    def batch(self, rows, device) -> dict:
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        batch = self._dataset().batch(rows[order])
        inverse = torch.from_numpy(np.argsort(order, kind="stable"))
        return self.to_device({k: v[inverse] for k, v in batch.items()}, device)

    @staticmethod
    def forward(model, batch: dict) -> dict:
        # EPInformer takes a GeneDataset batch as keyword arguments and ignores the targets.
        return model(**batch)

    def prediction_table(self, rows) -> pd.DataFrame:
        return self.table.iloc[np.asarray(rows)].reset_index(drop=True)
