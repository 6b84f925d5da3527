"""Enhancer-activity HDF5 store: the windows EPInformer's sequence encoder is pre-trained on.

Lin et al. (2024) pre-train EPInformer's residual convolutional encoder to predict the
activity of candidate enhancers from 256 bp of sequence around each, with reverse-complement
augmentation, before training the whole model on expression. One row per element (and, with
``reverse_complement``, one more per element holding its reverse complement):

* ``sequence`` (n, L) uint8 base codes of the window centred on the element;
* ``activity`` (n,) float32, the target: log1p of ABC's activity, the geometric mean of the
  element's DNase (or ATAC) and H3K27ac values (our choice of scalar target where the paper
  predicts the signals; ``epi-candidates activity`` writes those columns);
* ``chrom``, ``start``, ``end``, ``name`` of the element, ``source_row`` (the element's
  first row) and ``reverse_complement`` (bool).

Attributes: ``kind = "activity"``, the window geometry (``enhancer_length`` =
``promoter_length`` = L, ``encoding = "onehot"``), the genome's checksum and sizes.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import h5py
import numpy as np

from epitools.data.encoding import reverse_complement as rc_codes
from epitools.data.windows import centred_windows, resolve_geometry
from epitools.io.atomic import atomic_path
from epitools.io.genes import read_elements
from epitools.io.genome import Genome, file_checksum
from epitools.io.store import compression_options

log = logging.getLogger(__name__)


def element_activity(dnase, h3k27ac) -> np.ndarray:
    """The pre-training target of elements: log1p(sqrt(DNase x H3K27ac)), shape (n,) float32."""
    return np.log1p(np.sqrt(np.asarray(dnase, np.float64) * np.asarray(h3k27ac, np.float64))).astype(np.float32)


def build_activity_store(elements, genome, out, *, length: int | None = None,
                         reverse_complement: bool = True, compression: str | None = "blosc") -> Path:
    """Write the activity store ``out`` (HDF5, atomically) of the elements in a BED file.

    Parameters
    ----------
    elements : path
        Elements BED ``chrom start end name dnase h3k27ac`` (see
        :func:`epitools.io.genes.read_elements`).
    genome : path or Genome
        FASTA/2bit path or an open :class:`epitools.io.genome.Genome`.
    out : path
    length : int, optional
        Window length (bp); default 256, the paper's.
    reverse_complement : bool
        Add each element's reverse complement as a row (the paper's augmentation).
    compression : str or None
        HDF5 filter, as for pair stores.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    geometry = resolve_geometry("activity", length, length)
    length = geometry.enhancer_length
    compress = compression_options(compression)
    table = read_elements(elements)
    genome_obj = genome if isinstance(genome, Genome) else Genome(genome)
    names = table["chrom"].astype(str)
    chroms = names.map({c: genome_obj.resolve(c) for c in names.unique()}).to_numpy(dtype=object)
    codes = centred_windows(genome_obj, chroms, table["start"], table["end"], length)[0]
    target = element_activity(table["dnase"], table["h3k27ac"])
    n = len(table)
    source_row = np.arange(n, dtype=np.int64)
    flipped = np.zeros(n, bool)
    if reverse_complement:
        codes = np.concatenate([codes, rc_codes(codes)])
        target, source_row = np.concatenate([target, target]), np.concatenate([source_row, source_row])
        flipped = np.concatenate([flipped, ~flipped])
    str_dt = h5py.string_dtype()
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("sequence", data=np.ascontiguousarray(codes, dtype=np.uint8),
                          chunks=(max(1, min(len(codes), 4096)), length) if len(codes) else None, **compress)
        h5.create_dataset("activity", data=target)
        h5.create_dataset("source_row", data=source_row)
        h5.create_dataset("reverse_complement", data=flipped)
        h5.create_dataset("start", data=table["start"].to_numpy(np.int64)[source_row])
        h5.create_dataset("end", data=table["end"].to_numpy(np.int64)[source_row])
        h5.create_dataset("chrom", data=chroms[source_row].astype(str).astype(object), dtype=str_dt)
        h5.create_dataset("name", data=table["name"].astype(str).to_numpy(dtype=object)[source_row], dtype=str_dt)
        from epitools import __version__

        h5.attrs.update({
            "kind": "activity", **geometry.attrs(), "n_elements": n,
            "reverse_complement": bool(reverse_complement), "compression": compression or "none",
            "target": "log1p(sqrt(dnase * h3k27ac))",
            "genome": os.fspath(genome) if isinstance(genome, (str, os.PathLike)) else type(genome).__name__,
            "genome_checksum": genome_obj.checksum(), "genome_chrom_sizes": json.dumps(genome_obj.chrom_sizes),
            "elements_sha256": file_checksum(elements), "tool_version": __version__,
        })
    log.info("activity store %s: %d elements, %d rows of %d bp", out, n, len(codes), length)
    return Path(out)
