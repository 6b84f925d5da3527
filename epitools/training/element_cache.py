"""Table-wide element cache: every distinct window of a pairs table is embedded once.

Candidate tables repeat elements: a promoter is paired with every enhancer within a few
hundred kb, and an enhancer with several promoters. :func:`index_windows` reads the table
once and gives every pair the id of its enhancer window and of its promoter window (a window
is its chromosome and start, so two elements with the same centre share one);
:func:`embed_windows` runs the per-element part of the model (``embed_enhancer`` /
``embed_promoter``) once per distinct window, keeping the embeddings in memory up to a budget
and in a memory-mapped file beyond it. Scoring then runs only the interaction part
(``forward_embedded``) per pair.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from epitools.data.encoding import one_hot
from epitools.data.windows import centered_starts, centred_windows
from epitools.progress import progress

log = logging.getLogger(__name__)


@dataclass
class WindowIndex:
    """The distinct windows of one side of a table.

    Attributes
    ----------
    ids : numpy.ndarray
        int64, shape (n_pairs,): each pair's window, an index into the rows below.
    chrom, start, end : numpy.ndarray
        Shape (u,): one element of each distinct window, in order of first appearance.
    """

    ids: np.ndarray
    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.chrom)


def index_windows(chunks, geometry) -> dict[str, WindowIndex]:
    """Distinct enhancer and promoter windows of a table read chunk by chunk.

    Parameters
    ----------
    chunks : iterable of pandas.DataFrame
        The table in canonical pair columns.
    geometry : epitools.data.windows.Geometry

    Returns
    -------
    dict
        ``{"enhancer": WindowIndex, "promoter": WindowIndex}``.
    """
    parts = {"enhancer": [], "promoter": []}
    for chunk in chunks:
        for side in parts:
            parts[side].append((chunk[f"{side}_chrom"].astype(str).to_numpy(dtype=object),
                                chunk[f"{side}_start"].to_numpy(np.int64),
                                chunk[f"{side}_end"].to_numpy(np.int64)))
    out = {}
    for side, length in (("enhancer", geometry.enhancer_length), ("promoter", geometry.promoter_length)):
        chrom = np.concatenate([p[0] for p in parts[side]]) if parts[side] else np.zeros(0, object)
        start = np.concatenate([p[1] for p in parts[side]]) if parts[side] else np.zeros(0, np.int64)
        end = np.concatenate([p[2] for p in parts[side]]) if parts[side] else np.zeros(0, np.int64)
        chrom_idx, _ = pd.factorize(chrom)
        win = centered_starts(start, end, length)
        key = (chrom_idx.astype(np.int64) << 40) | (win + (1 << 39))
        ids, _ = pd.factorize(key)  # order of first appearance
        first = np.full(ids.max() + 1 if len(ids) else 0, -1, dtype=np.int64)
        first[ids[::-1]] = np.arange(len(ids))[::-1]
        out[side] = WindowIndex(ids.astype(np.int64), chrom[first], start[first], end[first])
    return out


class Embeddings:
    """Embeddings of distinct windows, ``(u, *shape)``, in memory or spilled to disk.

    Parameters
    ----------
    n : int
        Number of windows.
    sample : numpy.ndarray
        One window's embedding (sets shape and dtype).
    budget_bytes : int
        Larger caches are memory-mapped from a temporary file.
    directory : path, optional
        Where the file goes (default: the system's temporary folder).
    """

    def __init__(self, n: int, sample: np.ndarray, budget_bytes: int, directory=None):
        shape = (n, *sample.shape)
        self.nbytes = int(np.prod(shape, dtype=np.int64)) * sample.dtype.itemsize
        self._dir = None
        if self.nbytes > budget_bytes:
            if directory is not None:
                Path(directory).mkdir(parents=True, exist_ok=True)
            self._dir = Path(tempfile.mkdtemp(prefix="epi-element-cache-", dir=directory))
            self.array = np.lib.format.open_memmap(self._dir / "embeddings.npy", mode="w+",
                                                   dtype=sample.dtype, shape=shape)
            log.info("element cache: %.0f MiB of embeddings spilled to %s", self.nbytes / 2**20, self._dir)
        else:
            self.array = np.empty(shape, dtype=sample.dtype)

    @property
    def spilled(self) -> bool:
        return self._dir is not None

    def close(self) -> None:
        """Drop the embeddings (and the spill file)."""
        self.array = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


@torch.no_grad()
def embed_windows(embed, index: WindowIndex, length: int, geometry, genome, device, batch_size: int,
                  budget_bytes: int, directory=None, desc: str = "embed") -> tuple[Embeddings, int]:
    """Run ``embed`` once over every distinct window of ``index``.

    Parameters
    ----------
    embed : callable
        ``model.embed_enhancer`` or ``model.embed_promoter``: (b, 4, L) one-hot or (b, L-k+1)
        ids → (b, ...) features.
    index : WindowIndex
    length : int
        Window length of this side.
    geometry : epitools.data.windows.Geometry
    genome : epitools.io.genome.Genome
    budget_bytes : int
        In-memory limit of the embeddings (see :class:`Embeddings`).

    Returns
    -------
    embeddings : Embeddings
        Row i is the embedding of window i.
    padded : numpy.ndarray
        bool, shape (u,): windows N-padded past a chromosome end.
    """
    n = len(index)
    cache = None
    padded = np.zeros(n, dtype=bool)
    try:
        bounds = range(0, n, batch_size)
        for lo in progress(bounds, total=len(bounds), desc=desc, unit="batch"):
            hi = min(lo + batch_size, n)
            codes, _, pad = centred_windows(genome, index.chrom[lo:hi], index.start[lo:hi],
                                            index.end[lo:hi], length)
            padded[lo:hi] = pad
            x = torch.from_numpy(np.ascontiguousarray(geometry.encode(codes))).to(device)
            x = one_hot(x) if geometry.encoding == "onehot" else x.long()
            emb = embed(x).cpu().numpy()
            if cache is None:
                cache = Embeddings(n, emb[0], budget_bytes, directory)
            cache.array[lo:hi] = emb
    except BaseException:
        if cache is not None:
            cache.close()
        raise
    return cache, padded
