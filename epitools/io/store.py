"""The encoded pair store (HDF5) format: written chunk by chunk, read by row index.

Building a store from a pairs table and a genome is :func:`epitools.data.pair_store.build_pair_store`.

Layout (N output rows)::

    enhancer            (N, Le) uint8 base codes, or (N, Le-k+1) int16 k-mer ids
    promoter            (N, Lp) likewise
    label               (N,) int8, -1 when unknown
    pair_id             (N,) str
    source_row          (N,) int64, row of the input table
    enhancer_shift      (N,) int32 augmentation shift of the window
    promoter_shift      (N,) int32
    reverse_complement  (N,) bool
    enhancer_element    (N, 2) int32 element start/end inside its window
    promoter_element    (N, 2) int32
    pairs/<column>      (N,) canonical coordinates (+ cell_type) of the source pair

attrs: ``kind="pairs"``, ``encoding``, ``k``, ``enhancer_length``,
``promoter_length``, genome path and checksum, source table checksum, tool version.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import h5py
import hdf5plugin  # registers the Blosc filter, so blosc stores can be written and read
import numpy as np
import pandas as pd

from epitools.errors import InputError, UsageError


ROW_FIELDS = ("enhancer", "promoter", "label", "pair_id", "source_row", "enhancer_shift",
              "promoter_shift", "reverse_complement", "enhancer_element", "promoter_element")
PAIR_COLUMNS = ("enhancer_chrom", "enhancer_start", "enhancer_end",
                "promoter_chrom", "promoter_start", "promoter_end")
STRING_DTYPE = h5py.string_dtype("utf-8")
# ~256 KiB per chunk: large enough for fast streaming writes, small enough
# that reading a random row does not decompress much more than it needs.
CHUNK_BYTES = 1 << 18
RDCC_NBYTES = 1 << 18


def _chunk_rows(row_bytes: int) -> int:
    return int(max(16, min(16384, CHUNK_BYTES // max(row_bytes, 1))))


COMPRESSIONS = ("lzf", "gzip", "blosc", None)


def compression_options(compression: str | None) -> dict:
    """``create_dataset`` keywords for a filter name.

    ``"lzf"`` (built into h5py), ``"gzip"`` (level 1), ``"blosc"`` (LZ4 with
    bit shuffle, several times faster and smaller on base codes; needs the
    ``hdf5plugin`` package to write and to read), or None (no compression).
    """
    if compression is None or compression == "none":
        return {}
    if compression == "lzf":
        return {"compression": "lzf"}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 1}
    if compression == "blosc":
        return dict(hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.BITSHUFFLE))
    raise UsageError(f"--compression must be one of lzf, gzip, blosc, none; got {compression!r}")


def _as_h5(data) -> np.ndarray:
    arr = np.asarray(data)
    if arr.dtype.kind in "OUS":
        return np.asarray([str(x) for x in arr.ravel()], dtype=object).reshape(arr.shape)
    return arr


def append_rows(group: h5py.Group, name: str, data, compression: str | None = "lzf") -> h5py.Dataset:
    """Append ``data`` along axis 0 of ``group[name]``, creating a resizable dataset first.

    Parameters
    ----------
    group : h5py.Group
    name : str
    data : array-like, shape (m, ...)
        Strings are stored as variable-length UTF-8.
    compression : str or None
        Filter of a new dataset (see :func:`compression_options`).

    Returns
    -------
    h5py.Dataset
        The dataset, now ``m`` rows longer.
    """
    arr = _as_h5(data)
    if name not in group:
        is_str = arr.dtype == object
        dtype = STRING_DTYPE if is_str else arr.dtype
        row_bytes = 16 if is_str else max(int(np.prod(arr.shape[1:], dtype=np.int64)) * arr.itemsize, 1)
        # Blosc cannot filter variable-length strings (HDF5 heap references)
        opts = compression_options("lzf" if is_str and compression == "blosc" else compression)
        ds = group.create_dataset(name, shape=(0,) + arr.shape[1:], maxshape=(None,) + arr.shape[1:],
                                  dtype=dtype, chunks=(_chunk_rows(row_bytes),) + arr.shape[1:], **opts)
    else:
        ds = group[name]
    n0 = ds.shape[0]
    if arr.shape[0]:
        ds.resize(n0 + arr.shape[0], axis=0)
        ds[n0:] = arr
    return ds


class StoreWriter:
    """Write a pair store chunk by chunk into an open, writable HDF5 file.

    Parameters
    ----------
    h5 : h5py.File
    attrs : dict
        Store attributes (``encoding``, ``k``, window lengths, provenance);
        ``kind="pairs"`` is added.
    compression : str or None
        Filter of every dataset.
    """

    def __init__(self, h5: h5py.File, attrs: dict, compression: str | None = "lzf"):
        self.h5 = h5
        self.compression = compression
        self.n_rows = 0
        self.set_attrs({"kind": "pairs", **attrs})

    def set_attrs(self, attrs: dict) -> None:
        """Set (or update) store attributes; None values are stored as empty strings."""
        for key, value in attrs.items():
            self.h5.attrs[key] = "" if value is None else value

    def append(self, rows: dict, pairs: pd.DataFrame | dict | None = None) -> None:
        """Append one chunk.

        Parameters
        ----------
        rows : dict of array-like
            The fields of :data:`ROW_FIELDS`, each with the same first dimension m.
        pairs : pandas.DataFrame or dict, optional
            Per-row source columns (m rows) for the ``pairs`` group.
        """
        sizes = {name: len(rows[name]) for name in ROW_FIELDS}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"chunk fields differ in length: {sizes}")
        for name in ROW_FIELDS:
            append_rows(self.h5, name, rows[name], self.compression)
        if pairs is not None:
            grp = self.h5.require_group("pairs")
            for col in pairs:
                append_rows(grp, col, np.asarray(pairs[col]), self.compression)
        self.n_rows += sizes["label"]


class PairStore:
    """Read access to a pair store.

    Parameters
    ----------
    path : str or os.PathLike

    Use :meth:`read` for rows by index (indices are sorted and contiguous
    runs read in one slice) and :meth:`pairs_table` for the source columns.
    """

    def __init__(self, path):
        self.path = Path(path)
        try:
            self.h5 = h5py.File(self.path, "r")
        except (OSError, FileNotFoundError) as exc:
            raise InputError(f"cannot open HDF5 store: {exc}", path=self.path) from exc
        kind = self.h5.attrs.get("kind")
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind != "pairs":
            self.h5.close()
            raise InputError(f"not a pair store (kind={kind!r}, expected 'pairs')", path=self.path)
        missing = [f for f in ("enhancer", "promoter", "label") if f not in self.h5]
        if missing:
            self.h5.close()
            raise InputError(f"store lacks datasets {missing}", path=self.path)

    def __len__(self) -> int:
        return int(self.h5["label"].shape[0])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.h5.close()

    @property
    def attrs(self) -> dict:
        """Store attributes as plain Python values."""
        out = {}
        for key, value in self.h5.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            elif isinstance(value, np.generic):
                value = value.item()
            out[key] = value
        return out

    @property
    def encoding(self) -> str:
        return self.attrs.get("encoding", "onehot")

    @property
    def fields(self) -> list[str]:
        """Row-aligned top-level datasets present in this store."""
        return [name for name, obj in self.h5.items() if isinstance(obj, h5py.Dataset)]

    def _read_dataset(self, ds: h5py.Dataset, order: np.ndarray, runs) -> np.ndarray:
        with self.naming_corrupt_data(ds.name):
            return self._read_runs(ds, order, runs)

    @contextlib.contextmanager
    def naming_corrupt_data(self, dataset: str):
        """Undecompressable chunks and undecodable strings while reading ``dataset`` become an
        ``InputError`` naming the store and the dataset."""
        try:
            yield
        except UnicodeDecodeError:
            raise InputError("undecodable text (not UTF-8)", path=self.path, field=dataset.lstrip("/")) from None
        except OSError as exc:  # h5py: a chunk that fails to decompress or read
            raise InputError(f"corrupt or truncated data ({exc})", path=self.path,
                             field=dataset.lstrip("/")) from None

    def _read_runs(self, ds: h5py.Dataset, order: np.ndarray, runs) -> np.ndarray:
        out = np.empty((len(order),) + ds.shape[1:], dtype=ds.dtype if ds.dtype.kind != "O" else object)
        pos = 0
        for lo, hi, take in runs:
            block = ds[lo:hi]
            out[pos:pos + len(take)] = block[take - lo]
            pos += len(take)
        if ds.dtype.kind == "O" or h5py.check_string_dtype(ds.dtype) is not None:
            out = np.array([x.decode() if isinstance(x, bytes) else x for x in out], dtype=object)
        return out

    @staticmethod
    def _plan(indices: np.ndarray, max_gap: int):
        order = np.argsort(indices, kind="stable")
        srt = indices[order]
        breaks = np.flatnonzero(np.diff(srt) > max_gap) + 1
        runs = [(int(r[0]), int(r[-1]) + 1, r) for r in np.split(srt, breaks)] if srt.size else []
        return order, runs

    def read(self, indices=None, fields=None) -> dict:
        """Rows by index.

        Parameters
        ----------
        indices : array-like of int, shape (m,), optional
            Rows in any order (repeats allowed); all rows when None.
        fields : list of str, optional
            Datasets to read; default every row-aligned top-level dataset.

        Returns
        -------
        dict of numpy.ndarray
            Each of shape (m, ...), in the order of ``indices``.
        """
        fields = self.fields if fields is None else list(fields)
        if indices is None:
            out = {}
            for f in fields:
                with self.naming_corrupt_data(f):
                    out[f] = self._decode(self.h5[f][:])
            return out
        indices = np.asarray(indices, dtype=np.int64).ravel()
        n = len(self)
        if indices.size and (indices.min() < 0 or indices.max() >= n):
            raise IndexError(f"row index out of range for a store of {n} rows")
        out = {}
        for f in fields:
            ds = self.h5[f]
            # read across small gaps: decompressing a chunk twice costs more
            max_gap = ds.chunks[0] if ds.chunks else 1
            order, runs = self._plan(indices, max_gap)
            sorted_rows = self._read_dataset(ds, order, runs)
            result = np.empty_like(sorted_rows)
            result[order] = sorted_rows
            out[f] = result
        return out

    @staticmethod
    def _decode(arr: np.ndarray) -> np.ndarray:
        if arr.dtype.kind in "OS":
            return np.array([x.decode() if isinstance(x, bytes) else x for x in arr], dtype=object)
        return arr

    def pairs_table(self, indices=None) -> pd.DataFrame:
        """Source coordinates of each row (``pairs`` group + ``pair_id``, ``label``, ``source_row``)."""
        grp = self.h5.get("pairs")
        cols = {}
        if grp is not None:
            for name, ds in grp.items():
                with self.naming_corrupt_data(ds.name):
                    cols[name] = self._decode(ds[:] if indices is None else ds[:][np.asarray(indices)])
        for name in ("pair_id", "label", "source_row"):
            if name in self.h5:
                ds = self.h5[name]
                with self.naming_corrupt_data(ds.name):
                    cols[name] = self._decode(ds[:] if indices is None else ds[:][np.asarray(indices)])
        return pd.DataFrame(cols)


def open_store(path) -> PairStore:
    """Open a pair store for reading (raises ``InputError`` if it is not one)."""
    return PairStore(path)


def cap_metadata_cache(h5: h5py.File, max_bytes: int = 1 << 22) -> None:
    # HDF5's metadata cache grows with the chunk index (up to 32 MiB by default);
    # a small cap keeps peak memory independent of the number of rows written.
    config = h5.id.get_mdc_config()
    config.max_size = max_bytes
    config.min_size = min(config.min_size, max_bytes)
    config.initial_size = min(config.initial_size, max_bytes)
    config.set_initial_size = True
    h5.id.set_mdc_config(config)


