"""torch access to a pair store: a Dataset and a fast batched loader.

Base codes are stored as uint8 and expanded to one-hot only when a batch is
built, on the target device (GPU when there is one), so a batch moves 1 byte
per base to the device instead of 16.
"""

from __future__ import annotations

import numpy as np
import torch

from epitools.data.encoding import one_hot as _one_hot
from epitools.io.store import PairStore

BATCH_FIELDS = ("enhancer", "promoter", "label", "enhancer_element", "promoter_element")


def _to_tensors(rows: dict, indices: np.ndarray, encoding: str, expand: bool, device) -> dict:
    out = {}
    for side in ("enhancer", "promoter"):
        seq = torch.from_numpy(np.ascontiguousarray(rows[side])).to(device, non_blocking=True)
        if encoding == "kmer":
            out[side] = seq.long()
        elif expand:
            out[side] = _one_hot(seq)
        else:
            out[side] = seq
    out["label"] = torch.from_numpy(rows["label"].astype(np.float32)).to(device)
    for name in ("enhancer_element", "promoter_element"):
        out[name] = torch.from_numpy(rows[name].astype(np.int64)).to(device)
    out["index"] = torch.from_numpy(np.asarray(indices, dtype=np.int64)).to(device)
    return out


def load_batch(store, indices, device=None, one_hot: bool = True) -> dict:
    """Read store rows and build a collated batch on ``device``.

    Parameters
    ----------
    store : PairStore, PairDataset or path
    indices : array-like of int, shape (B,)
        Store rows.
    device : torch.device or str, optional
        Where the tensors go (default CPU); one-hot expansion happens there.
    one_hot : bool
        Expand base codes to (B, 4, L) float32; False keeps (B, L) uint8 codes.

    Returns
    -------
    dict of torch.Tensor
        ``enhancer`` (B, 4, Le) float32 [or (B, Le-k+1) int64 for k-mer stores],
        ``promoter`` likewise, ``label`` (B,) float32 (-1 unknown),
        ``enhancer_element``/``promoter_element`` (B, 2) int64, ``index`` (B,) int64.
    """
    if isinstance(store, PairDataset):
        store = store.store
    close = False
    if not isinstance(store, PairStore):
        store, close = PairStore(store), True
    try:
        indices = np.asarray(indices, dtype=np.int64)
        rows = store.read(indices, fields=BATCH_FIELDS)
        return _to_tensors(rows, indices, store.encoding, one_hot, torch.device(device or "cpu"))
    finally:
        if close:
            store.close()


class PairDataset(torch.utils.data.Dataset):
    """Rows of a pair store as training items.

    Parameters
    ----------
    store_path : path
        A store written by :func:`epitools.io.store.build_pair_store`.
    indices : array-like of int, optional
        Store rows in this dataset (a split); default all rows.
    one_hot : bool
        Items carry (4, L) float32 one-hot; False gives (L,) uint8 codes.
        Ignored for k-mer stores (items are (L-k+1,) int64 ids).
    preload : bool
        Read the selected rows into memory once (fast epochs for stores that fit).

    Items are dicts: ``enhancer``, ``promoter``, ``label`` (float32 scalar),
    ``enhancer_element``/``promoter_element`` (2,), ``index`` (store row).
    The HDF5 file is opened lazily, so the dataset can be sent to DataLoader workers.
    """

    def __init__(self, store_path, indices=None, one_hot: bool = True, preload: bool = False):
        self.store_path = store_path
        self._store = None
        n = len(self.store)
        self.indices = np.arange(n, dtype=np.int64) if indices is None else np.asarray(indices, np.int64)
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= n):
            raise IndexError(f"dataset indices out of range for a store of {n} rows")
        self.one_hot = one_hot
        self.encoding = self.store.encoding
        self._cache = self.store.read(self.indices, fields=BATCH_FIELDS) if preload else None

    @property
    def store(self) -> PairStore:
        if self._store is None:
            self._store = PairStore(self.store_path)
        return self._store

    @property
    def labels(self) -> np.ndarray:
        """Labels of the dataset's rows, shape (n,) int8."""
        if self._cache is not None:
            return self._cache["label"]
        return self.store.read(self.indices, fields=["label"])["label"]

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_store"] = None  # h5py handles do not cross processes
        return state

    def _rows(self, positions: np.ndarray) -> dict:
        if self._cache is not None:
            return {k: v[positions] for k, v in self._cache.items()}
        return self.store.read(self.indices[positions], fields=BATCH_FIELDS)

    def get_batch(self, positions, device=None) -> dict:
        """Collated batch of dataset positions (not store rows) on ``device``; see :func:`load_batch`."""
        positions = np.asarray(positions, dtype=np.int64)
        return _to_tensors(self._rows(positions), self.indices[positions], self.encoding,
                           self.one_hot, torch.device(device or "cpu"))

    def __getitems__(self, positions) -> list[dict]:
        # one store read per batch; DataLoader's collate stacks the items again
        batch = self.get_batch(positions)
        return [{k: v[i] for k, v in batch.items()} for i in range(len(positions))]

    def __getitem__(self, position) -> dict:
        return self.__getitems__([int(position)])[0]

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
