"""Build a pair store: a pairs table and a genome (or inline sequences) → encoded windows.

The store format itself (datasets, attributes, reader and chunk writer) is
:mod:`epitools.io.store`; this module decides what goes in it.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from epitools import __version__
from epitools.data.augment import augmentation_plan
from epitools.data.windows import (centered_starts, check_elements, has_inline_sequences, pair_windows,
                                   resolve_geometry)
from epitools.errors import InputError
from epitools.io.atomic import atomic_path
from epitools.io.genome import Genome, file_checksum
from epitools.io.pairs import iter_pairs
from epitools.io.store import (PAIR_COLUMNS, RDCC_NBYTES, StoreWriter, append_rows, cap_metadata_cache,
                               compression_options)
from epitools.io.tracks import element_signal
from epitools.progress import progress

log = logging.getLogger(__name__)


def _labels(chunk: pd.DataFrame) -> np.ndarray:
    if "label" not in chunk.columns:
        return np.full(len(chunk), -1, dtype=np.int8)
    lab = pd.to_numeric(chunk["label"], errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isnan(lab), -1, lab).astype(np.int8)


def _source_table(chunk: pd.DataFrame, src: np.ndarray) -> dict:
    """The canonical pair columns (+ cell_type) of the planned rows, for the store's ``pairs`` group."""
    table = {c: (chunk[c].to_numpy()[src] if c in chunk.columns else
                 np.full(len(src), "" if c.endswith("chrom") else -1,
                         dtype=object if c.endswith("chrom") else np.int64))
             for c in PAIR_COLUMNS}
    table["cell_type"] = (chunk["cell_type"].fillna("").astype(str).to_numpy(dtype=object)[src]
                          if "cell_type" in chunk.columns else np.full(len(src), "", object))
    return table


def window_signals(chrom, starts, length: int, tracks: dict, n_bins: int = 1, chrom_sizes=None) -> np.ndarray:
    """Mean of each track over ``n_bins`` equal bins of each window (EPIPDLF's genomic features).

    Parameters
    ----------
    chrom, starts : array-like, shape (m,)
        Window chromosome and start; each window spans ``length`` bp.
    tracks : dict
        Track name -> bigWig or bedGraph path (:func:`epitools.io.tracks.element_signal`).
    n_bins : int
        Bins per window; 1 gives the mean over the whole window.
    chrom_sizes : dict, optional
        Bins are clipped to the chromosome (past its ends the signal counts as 0).

    Returns
    -------
    np.ndarray
        (m, n_bins, n_tracks) float32, tracks in the order of ``tracks``.
    """
    chrom = np.asarray(chrom, dtype=object)
    edges = np.asarray(starts, dtype=np.int64)[:, None] + (np.arange(n_bins + 1) * length) // n_bins
    lo, hi = edges[:, :-1].ravel(), edges[:, 1:].ravel()
    width = (hi - lo).astype(np.float64)
    lo = np.maximum(lo, 0)
    if chrom_sizes:
        size = np.array([chrom_sizes.get(c, np.iinfo(np.int64).max) for c in np.repeat(chrom, n_bins)])
        hi = np.minimum(hi, size)
    hi = np.maximum(hi, lo)
    bins = pd.DataFrame({"chrom": np.repeat(chrom, n_bins), "start": lo, "end": hi})
    out = np.zeros((len(chrom), n_bins, len(tracks)), dtype=np.float32)
    for j, path in enumerate(tracks.values()):
        total = element_signal(bins, path, exact=False, merge_overlaps=True)
        out[:, :, j] = (total / np.maximum(width, 1.0)).reshape(len(chrom), n_bins)
    return out


def _signal_rows(chunk, src, geometry, plan, tracks, n_bins, chrom_sizes) -> dict:
    """``enhancer_signal``/``promoter_signal`` (m, n_bins, n_tracks) of the planned rows; bins run
    5'→3' along the stored sequence, so reverse-complemented rows have them reversed."""
    out = {}
    for part, length in (("enhancer", geometry.enhancer_length), ("promoter", geometry.promoter_length)):
        starts = centered_starts(chunk[f"{part}_start"].to_numpy()[src], chunk[f"{part}_end"].to_numpy()[src],
                                 length, plan[f"{part}_shift"])
        values = window_signals(chunk[f"{part}_chrom"].astype(str).to_numpy()[src], starts, length, tracks,
                                n_bins, chrom_sizes)
        rc = np.asarray(plan["reverse_complement"], dtype=bool)
        values[rc] = values[rc, ::-1]
        out[f"{part}_signal"] = values
    return out


def _chunks(pairs, fmt: str, chunk_size: int, **read_options):
    if isinstance(pairs, pd.DataFrame):
        return None, (pairs.iloc[i:i + chunk_size] for i in range(0, len(pairs), chunk_size))
    return Path(pairs), iter_pairs(pairs, chunksize=chunk_size, format=fmt, **read_options)


def build_pair_store(pairs, out, genome=None, *, format: str = "auto", enhancer_length: int | None = None,
                     promoter_length: int | None = None, encoding: str | None = None, k: int | None = None,
                     reverse_complement: bool = False, augment_copies: int = 0, max_shift: int = 100,
                     chunk_size: int = 10_000, seed: int = 0, compression: str | None = "blosc",
                     promoter_bed=None, labels=None, cell_type: str | None = None,
                     signals: dict | None = None, signal_bins: int = 1) -> dict:
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
    enhancer_length, promoter_length, encoding, k : optional
        Window geometry; unset values take the defaults of
        :func:`epitools.data.windows.resolve_geometry` (3000/2000 bp, one-hot, k=6).
    reverse_complement : bool
        Follow every row with its reverse complement.
    augment_copies, max_shift : int
        Extra copies of each positive with windows shifted by up to ``max_shift``.
    chunk_size : int
        Pairs per step; memory depends on it, not on the table length.
    seed : int
        Seed of the augmentation shifts.
    compression : str or None
        HDF5 filter (see :func:`epitools.io.store.compression_options`).
    promoter_bed, labels, cell_type : optional
        Passed to :func:`epitools.io.pairs.iter_pairs` (window-BED pairs, labels
        file, cell type filling the table's ``cell_type``).
    signals : dict, optional
        Track name -> bigWig/bedGraph path: each row gets ``enhancer_signal`` and
        ``promoter_signal`` (m, signal_bins, n_tracks) float32, the mean of each track over
        ``signal_bins`` bins of its window (:func:`window_signals`); needs genome coordinates.
    signal_bins : int
        Bins per window for ``signals``.

    Returns
    -------
    dict
        Run summary: ``pairs``, ``rows``, ``positives``, ``padded_windows``, ``aliases``, ``seconds``.
    """
    geometry = resolve_geometry("pairs", enhancer_length, promoter_length, encoding, k)
    compression_options(compression)  # fail before any work on an unusable filter
    t0 = time.perf_counter()
    read_options = {key: v for key, v in (("promoter_bed", promoter_bed), ("labels", labels),
                                          ("cell_type", cell_type)) if v is not None}
    source, chunks = _chunks(pairs, format, chunk_size, **read_options)
    own_genome = genome is not None and not isinstance(genome, Genome)
    genome_obj = Genome(genome) if own_genome else genome
    rng = np.random.default_rng(seed)
    n_pairs = n_padded = n_pos = 0
    attrs = {
        **geometry.attrs(),
        "genome": str(Path(genome_obj.path).resolve()) if genome_obj is not None else "",
        "genome_checksum": genome_obj.checksum() if genome_obj is not None else "",
        "genome_chrom_sizes": json.dumps(genome_obj.chrom_sizes) if genome_obj is not None else "",
        "source": str(source.resolve()) if source is not None else "",
        "source_checksum": file_checksum(source) if source is not None else "",
        "tool": "epitools", "tool_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "augment_copies": int(augment_copies), "max_shift": int(max_shift),
        "reverse_complement": bool(reverse_complement), "seed": int(seed),
        "compression": compression or "none",
    }
    signals = dict(signals or {})
    if signals:
        if signal_bins < 1:
            raise InputError(f"signal bins must be at least 1, got {signal_bins}", field="signal_bins")
        for name, path in signals.items():
            if not Path(path).is_file():
                raise InputError(f"signal track '{name}' not found", path=path)
        attrs.update(signal_tracks=json.dumps(list(signals)), signal_bins=int(signal_bins),
                     signal_files=json.dumps({k: str(Path(v).resolve()) for k, v in signals.items()}))
    try:
        # a small chunk cache per dataset: writes are appends, and peak memory stays flat
        with atomic_path(out) as tmp, h5py.File(tmp, "w", rdcc_nbytes=RDCC_NBYTES) as h5:
            cap_metadata_cache(h5)
            writer = StoreWriter(h5, attrs, compression=compression)
            inline = None
            with progress(desc="encode", unit="pairs") as bar:
                for chunk in chunks:
                    chunk = chunk.reset_index(drop=True)
                    if "pair_id" not in chunk.columns:
                        chunk["pair_id"] = [f"pair{n_pairs + i}" for i in range(len(chunk))]
                    if inline is None:
                        inline = has_inline_sequences(chunk.columns)
                        if not inline and genome_obj is None:
                            raise InputError("no --genome given and the table has no "
                                             "enhancer_seq/promoter_seq columns", path=source)
                    if not inline:
                        check_elements(genome_obj, chunk, source, n_pairs)
                    labels_ = _labels(chunk)
                    plan = augmentation_plan(labels_, augment_copies, max_shift, reverse_complement, rng)
                    src = plan["source"]
                    windows = pair_windows(chunk, geometry, genome_obj, rows=src,
                                           enhancer_shift=plan["enhancer_shift"],
                                           promoter_shift=plan["promoter_shift"],
                                           reverse_complement=plan["reverse_complement"])
                    n_padded += windows.pop("padded_windows")
                    rows = {"label": labels_[src], "source_row": src + n_pairs,
                            "pair_id": chunk["pair_id"].astype(str).to_numpy(dtype=object)[src],
                            "enhancer_shift": plan["enhancer_shift"],
                            "promoter_shift": plan["promoter_shift"],
                            "reverse_complement": plan["reverse_complement"], **windows}
                    writer.append(rows, _source_table(chunk, src))
                    if signals:
                        sizes = genome_obj.chrom_sizes if genome_obj is not None else None
                        for name, values in _signal_rows(chunk, src, geometry, plan, signals, signal_bins,
                                                         sizes).items():
                            append_rows(h5, name, values, compression)
                    n_pairs += len(chunk)
                    n_pos += int((labels_ == 1).sum())
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
