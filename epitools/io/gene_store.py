"""The gene-level store (HDF5) format of EPInformer: one promoter and its candidate
enhancers per gene. Building one is :func:`epitools.data.gene_store.build_gene_store`.

Layout (G genes, M = max_enhancers slots, L = window length)::

    promoter        (G, Lp)       uint8  base codes (A=0 C=1 G=2 T=3 N=4)
    enhancers       (G, M, Le)    uint8  base codes; empty slots are all N (attr
                                         ``enhancer_context``: ``genome`` windows, or ``own``
                                         element sequences N-padded to Le)
    enhancer_mask   (G, M)        bool   True where a slot holds a candidate
    distance        (G, M)        int32  |element centre - TSS| in bp (0 when empty)
    activity        (G, M, 2)     float32  DNase, H3K27ac of the element (0 when empty)
    contact         (G, M)        float32  Hi-C contact of element and TSS (0 when empty)
    enhancer_name   (G, M)        str    element name ('' when empty)
    enhancer_start  (G, M)        int64  element start (-1 when empty); enhancer_end likewise
    gene_features   (G, F)        float32  e.g. hl_1..hl_8 (F = 0 when absent)
    promoter_h3k27ac (G,)         float32  H3K27ac of the promoter (stores written before it: read as 0)
    expression      (G,)          float32  log1p(expression) (or as given); NaN when unknown
    expression_raw  (G,)          float32
    gene chrom strand (G,) str;  tss (G,) int64

Attributes: ``kind="genes"``, ``encoding="onehot"``, window lengths, ``max_enhancers``,
``max_distance``, ``expression_transform``, ``activity_columns``, ``gene_feature_columns``,
genome path, source checksums and tool version.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401  registers the Blosc filter: blosc gene stores are read here
import numpy as np
import pandas as pd

from epitools.errors import InputError


class GeneStore:
    """Reader of a gene-level store.

    Parameters
    ----------
    path : path
        An ``.h5`` written by :func:`build_gene_store`.

    The file is opened lazily in each process, so a store can back a multi-worker DataLoader.
    """

    ARRAYS = ("promoter", "enhancers", "enhancer_mask", "distance", "activity", "contact",
              "gene_features", "expression", "promoter_h3k27ac")
    # Datasets added after the first stores: absent ones read as zeros of shape (n,).
    OPTIONAL = ("promoter_h3k27ac",)

    def __init__(self, path):
        self.path = Path(path)
        with h5py.File(self.path, "r") as h5:
            if h5.attrs.get("kind") != "genes":
                raise InputError(f"not a gene-level store (kind={h5.attrs.get('kind')!r})", self.path,
                                 field="kind")
            self.attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in h5.attrs.items()}
            self._len = int(h5["expression"].shape[0])
        self._h5 = None
        self._pid = None

    def __len__(self) -> int:
        return self._len

    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._h5

    def read(self, indices, keys=ARRAYS) -> dict:
        """Arrays of genes ``indices`` (any order) keyed by dataset name."""
        indices = np.asarray(indices, dtype=np.int64)
        order = np.argsort(indices, kind="stable")
        unique, inverse = np.unique(indices[order], return_inverse=True)
        h5 = self._file()
        out = {}
        for key in keys:
            if key in self.OPTIONAL and key not in h5:
                out[key] = np.zeros(indices.size, np.float32)
                continue
            if not unique.size:
                out[key] = h5[key][:0]
                continue
            if 0 in h5[key].shape[1:]:
                # h5py cannot select rows of a dataset with an empty axis (a store without half-life features)
                out[key] = np.zeros((indices.size, *h5[key].shape[1:]), h5[key].dtype)
                continue
            in_sorted_order = h5[key][unique][inverse]
            restored = np.empty_like(in_sorted_order)
            restored[order] = in_sorted_order
            out[key] = restored
        return out

    def genes(self) -> pd.DataFrame:
        """Gene table: ``gene chrom tss strand expression`` (expression log1p-transformed)."""
        h5 = self._file()
        return pd.DataFrame({
            "gene": h5["gene"].asstr()[:], "chrom": h5["chrom"].asstr()[:], "tss": h5["tss"][:],
            "strand": h5["strand"].asstr()[:], "expression": h5["expression"][:],
        })

    def candidates(self) -> pd.DataFrame:
        """One row per filled slot: ``gene_index slot gene chrom tss enhancer_name enhancer_start
        enhancer_end distance dnase h3k27ac contact``."""
        h5 = self._file()
        mask = h5["enhancer_mask"][:]
        gi, slot = np.nonzero(mask)
        activity = h5["activity"][:][gi, slot]
        genes = self.genes()
        return pd.DataFrame({
            "gene_index": gi, "slot": slot, "gene": genes["gene"].to_numpy()[gi],
            "chrom": genes["chrom"].to_numpy()[gi], "tss": genes["tss"].to_numpy()[gi],
            "enhancer_name": h5["enhancer_name"].asstr()[:][gi, slot],
            "enhancer_start": h5["enhancer_start"][:][gi, slot],
            "enhancer_end": h5["enhancer_end"][:][gi, slot],
            "distance": h5["distance"][:][gi, slot],
            "dnase": activity[:, 0], "h3k27ac": activity[:, 1],
            "contact": h5["contact"][:][gi, slot],
        })

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_h5"] = None
        state["_pid"] = None
        return state


def open_gene_store(path) -> GeneStore:
    """Open a gene-level store for reading."""
    return GeneStore(path)
