"""The encoded pair store (HDF5): written chunk by chunk, read by row index.

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

import json
import logging
import time
from pathlib import Path

import h5py
import hdf5plugin  # registers the Blosc filter, so blosc stores can be written and read
import numpy as np
import pandas as pd

from epitools import __version__
from epitools.data.augment import augmentation_plan
from epitools.data.encoding import kmer_ids
from epitools.data.encoding import reverse_complement as revcomp
from epitools.data.windows import centered_starts, element_in_window, flip_elements, inline_windows
from epitools.errors import GenomeError, InputError
from epitools.io.atomic import atomic_path
from epitools.io.genome import Genome, file_checksum
from epitools.io.pairs import iter_pairs
from epitools.progress import progress

log = logging.getLogger(__name__)


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
    raise ValueError(f"unknown compression {compression!r}; one of {COMPRESSIONS}")


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
            return {f: self._decode(self.h5[f][:]) for f in fields}
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
                cols[name] = self._decode(ds[:] if indices is None else ds[:][np.asarray(indices)])
        for name in ("pair_id", "label", "source_row"):
            if name in self.h5:
                ds = self.h5[name]
                cols[name] = self._decode(ds[:] if indices is None else ds[:][np.asarray(indices)])
        return pd.DataFrame(cols)


def open_store(path) -> PairStore:
    """Open a pair store for reading (raises ``InputError`` if it is not one)."""
    return PairStore(path)


def _cap_metadata_cache(h5: h5py.File, max_bytes: int = 1 << 22) -> None:
    # HDF5's metadata cache grows with the chunk index (up to 32 MiB by default);
    # a small cap keeps peak memory independent of the number of rows written.
    config = h5.id.get_mdc_config()
    config.max_size = max_bytes
    config.min_size = min(config.min_size, max_bytes)
    config.initial_size = min(config.initial_size, max_bytes)
    config.set_initial_size = True
    h5.id.set_mdc_config(config)


def _labels(chunk: pd.DataFrame) -> np.ndarray:
    if "label" not in chunk.columns:
        return np.full(len(chunk), -1, dtype=np.int8)
    lab = pd.to_numeric(chunk["label"], errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isnan(lab), -1, lab).astype(np.int8)


def _pairs_path_and_chunks(pairs, fmt: str, chunk_size: int, **read_options):
    if isinstance(pairs, pd.DataFrame):
        return None, (pairs.iloc[i:i + chunk_size] for i in range(0, len(pairs), chunk_size))
    return Path(pairs), iter_pairs(pairs, chunksize=chunk_size, format=fmt, **read_options)


def _resolve_chunk_chroms(genome, chunk: pd.DataFrame, source, first_row: int) -> None:
    """Check the chunk's chromosomes are in the genome; an unknown one names the table, record and field."""
    for field in ("enhancer_chrom", "promoter_chrom"):
        for chrom in pd.unique(chunk[field]):
            try:
                genome.resolve(chrom)
            except GenomeError as exc:
                pos = int(np.flatnonzero((chunk[field] == chrom).to_numpy())[0])
                pair_id = chunk["pair_id"].iloc[pos] if "pair_id" in chunk.columns else None
                raise InputError(f"record {first_row + pos + 1}"
                                 + (f" (pair_id {pair_id})" if pair_id is not None else "")
                                 + f": {exc.message} [{genome.path}]",
                                 path=source, field=field) from exc


def _side_windows(chunk, side: str, src, shifts, length, genome, inline: bool):
    """Windows of one side (enhancer or promoter) for the planned rows: codes (m, L), elements (m, 2)."""
    if inline:
        seqs = chunk[f"{side}_seq"].to_numpy(dtype=object)[src]
        codes, elements, n_pad = inline_windows(seqs, length, shifts)
        return codes, elements, n_pad
    starts = chunk[f"{side}_start"].to_numpy(dtype=np.int64)[src]
    ends = chunk[f"{side}_end"].to_numpy(dtype=np.int64)[src]
    win = centered_starts(starts, ends, length, shifts)
    before = genome.n_padded
    codes = genome.fetch_windows(chunk[f"{side}_chrom"].to_numpy(dtype=object)[src], win, length)
    return codes, element_in_window(starts, ends, win, length), genome.n_padded - before


def build_pair_store(pairs, out, genome=None, *, format: str = "auto", enhancer_length: int = 3000,
                     promoter_length: int = 2000, encoding: str = "onehot", k: int = 6,
                     reverse_complement: bool = False, augment_copies: int = 0, max_shift: int = 100,
                     chunk_size: int = 10_000, seed: int = 0, compression: str | None = "blosc",
                     promoter_bed=None, labels=None, cell_type: str | None = None) -> dict:
    """Encode a pairs table into a pair store, streaming ``chunk_size`` pairs at a time.

    Parameters
    ----------
    pairs : path or pandas.DataFrame
        Pairs table (any format :func:`epitools.io.pairs.iter_pairs` reads) or a
        canonical DataFrame. Inline ``enhancer_seq``/``promoter_seq`` columns are
        used instead of the genome when both are present.
    out : path
        The ``.h5`` store, written under a temporary name and renamed when complete.
    genome : path or Genome, optional
        FASTA/2bit; required unless the table has inline sequences.
    enhancer_length, promoter_length : int
        Window lengths, centred on each element's midpoint.
    encoding : {"onehot", "kmer"}
        Store base codes (one-hot expanded when read) or k-mer ids.
    k : int
        k-mer length for ``encoding="kmer"``.
    reverse_complement : bool
        Follow every row with its reverse complement.
    augment_copies, max_shift : int
        Extra copies of each positive with windows shifted by up to ``max_shift``.
    chunk_size : int
        Pairs per step; memory depends on it, not on the table length.
    seed : int
        Seed of the augmentation shifts.
    compression : str or None
        HDF5 filter: ``"lzf"``, ``"gzip"`` (level 1), ``"blosc"`` (fastest and
        smallest; needs ``hdf5plugin``) or None; see :func:`compression_options`.
    promoter_bed, labels, cell_type : optional
        Passed to :func:`epitools.io.pairs.iter_pairs` (window-BED pairs, labels
        file, cell type filling the table's ``cell_type``).

    Returns
    -------
    dict
        Run summary: ``pairs``, ``rows``, ``padded_windows``, ``aliases``, ``seconds``.
    """
    if encoding not in ("onehot", "kmer"):
        raise ValueError(f"encoding must be 'onehot' or 'kmer', got {encoding!r}")
    if min(enhancer_length, promoter_length) < (k if encoding == "kmer" else 1):
        raise ValueError("window lengths must be positive (and >= k for k-mer encoding)")
    compression_options(compression)  # fail before any work on an unusable filter
    t0 = time.perf_counter()
    read_options = {k: v for k, v in (("promoter_bed", promoter_bed), ("labels", labels),
                                      ("cell_type", cell_type)) if v is not None}
    source, chunks = _pairs_path_and_chunks(pairs, format, chunk_size, **read_options)
    own_genome = genome is not None and not isinstance(genome, Genome)
    genome_obj = Genome(genome) if own_genome else genome
    rng = np.random.default_rng(seed)
    n_pairs = n_padded = n_pos = 0
    attrs = {
        "encoding": encoding, "k": int(k) if encoding == "kmer" else 0,
        "enhancer_length": int(enhancer_length), "promoter_length": int(promoter_length),
        "genome": str(Path(genome_obj.path).resolve()) if genome_obj is not None else "",
        "genome_checksum": genome_obj.checksum() if genome_obj is not None else "",
        "source": str(source.resolve()) if source is not None else "",
        "source_checksum": file_checksum(source) if source is not None else "",
        "tool": "epitools", "tool_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "augment_copies": int(augment_copies), "max_shift": int(max_shift),
        "reverse_complement": bool(reverse_complement), "seed": int(seed),
        "compression": compression or "none",
    }
    try:
        # a small chunk cache per dataset: writes are appends, and peak memory stays flat
        with atomic_path(out) as tmp, h5py.File(tmp, "w", rdcc_nbytes=RDCC_NBYTES) as h5:
            _cap_metadata_cache(h5)
            writer = StoreWriter(h5, attrs, compression=compression)
            inline = None
            with progress(desc="encode", unit="pairs") as bar:
                for chunk in chunks:
                    chunk = chunk.reset_index(drop=True)
                    if "pair_id" not in chunk.columns:
                        chunk["pair_id"] = [f"pair{n_pairs + i}" for i in range(len(chunk))]
                    if inline is None:
                        inline = {"enhancer_seq", "promoter_seq"} <= set(chunk.columns)
                        if not inline and genome_obj is None:
                            raise InputError("no --genome given and the table has no "
                                             "enhancer_seq/promoter_seq columns", path=source)
                    if not inline:
                        _resolve_chunk_chroms(genome_obj, chunk, source, n_pairs)
                    labels = _labels(chunk)
                    plan = augmentation_plan(labels, augment_copies, max_shift, reverse_complement, rng)
                    src = plan["source"]
                    rows = {"label": labels[src], "source_row": src + n_pairs,
                            "pair_id": chunk["pair_id"].astype(str).to_numpy(dtype=object)[src],
                            "enhancer_shift": plan["enhancer_shift"],
                            "promoter_shift": plan["promoter_shift"],
                            "reverse_complement": plan["reverse_complement"]}
                    rc = plan["reverse_complement"]
                    for side, length in (("enhancer", enhancer_length), ("promoter", promoter_length)):
                        codes, elements, pad = _side_windows(chunk, side, src, plan[f"{side}_shift"],
                                                             length, genome_obj, inline)
                        n_padded += pad
                        if rc.any():
                            codes[rc] = revcomp(codes[rc])
                            elements[rc] = flip_elements(elements[rc], length)
                        rows[side] = kmer_ids(codes, k) if encoding == "kmer" else codes
                        rows[f"{side}_element"] = elements
                    table = {c: (chunk[c].to_numpy()[src] if c in chunk.columns else
                                 np.full(len(src), "" if c.endswith("chrom") else -1,
                                         dtype=object if c.endswith("chrom") else np.int64))
                             for c in PAIR_COLUMNS}
                    table["cell_type"] = (chunk["cell_type"].fillna("").astype(str).to_numpy(dtype=object)[src]
                                          if "cell_type" in chunk.columns else np.full(len(src), "", object))
                    writer.append(rows, table)
                    n_pairs += len(chunk)
                    n_pos += int((labels == 1).sum())
                    bar.update(len(chunk))
            if n_pairs == 0:
                raise InputError("the pairs table has no rows", path=source)
            aliases = dict(genome_obj.aliases_used) if genome_obj is not None else {}
            writer.set_attrs({"n_pairs": n_pairs, "n_rows": writer.n_rows, "n_positive_pairs": n_pos,
                              "padded_windows": n_padded, "inline_sequences": bool(inline),
                              "chromosome_aliases": json.dumps(aliases)})
    finally:
        if own_genome:
            genome_obj.close()
    summary = {"pairs": n_pairs, "rows": writer.n_rows, "positives": n_pos,
               "padded_windows": n_padded, "aliases": aliases,
               "seconds": round(time.perf_counter() - t0, 3)}
    log.info("encoded %d pairs (%d positive) into %d rows of %s: %d windows N-padded, "
             "aliases %s, %.1f s", n_pairs, n_pos, writer.n_rows, out, n_padded,
             aliases or "none", summary["seconds"])
    return summary
