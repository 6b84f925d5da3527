"""Gene-level HDF5 store for EPInformer: one promoter and its candidate enhancers per gene.

For every gene the store holds the promoter window (centred on the TSS) and up to
``max_enhancers`` candidate elements whose centre lies within ``max_distance`` of the
TSS, nearest first, each in a window centred on the element (``enhancer_context="genome"``:
the surrounding genome; ``"own"``: the element's own sequence N-padded to the slot, as the
EPInformer paper), with its distance,
activity (DNase, H3K27ac), Hi-C contact and coordinates, a mask of the filled slots,
optional gene features (mRNA half-life, 8 values), the promoter's H3K27ac (the genes
table's ``h3k27ac`` column, else the summed H3K27ac of the elements whose centre lies in
the promoter window) and the log-transformed expression.
Measured expression comes from the genes table's ``expression`` column or from a separate
``gene expression`` table joined by gene name (:func:`read_expression`, :func:`join_expression`).

The store's layout is documented in :mod:`epitools.io.gene_store`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from epitools.data.windows import centred_windows, element_windows, resolve_geometry
from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_path
from epitools.io.genes import (ACTIVITY_COLUMNS, EXPRESSION_TRANSFORMS, check_expression_values,
                               gene_feature_columns, join_expression, read_elements, read_expression,
                               read_genes)
from epitools.io.genome import Genome, file_checksum
from epitools.io.store import compression_options
from epitools.progress import progress

log = logging.getLogger(__name__)

N_CODE = 4
ENHANCER_CONTEXTS = ("genome", "own")


def select_candidates(genes: pd.DataFrame, elements: pd.DataFrame, *, max_enhancers: int = 60,
                      max_distance: int = 100_000, promoter_length: int = 2000) -> pd.DataFrame:
    """Nearest elements around each TSS.

    An element is a candidate of a gene when its centre lies within ``max_distance`` bp
    of the TSS and outside the promoter window (which the promoter slot already covers).
    At most ``max_enhancers`` are kept per gene, nearest first (ties: leftmost first).

    Returns
    -------
    pandas.DataFrame
        Columns ``gene_index slot element_index distance`` sorted by gene then slot.
    """
    gene_chroms = genes["chrom"].to_numpy()
    tss = genes["tss"].to_numpy(np.int64)
    centres = ((elements["start"].to_numpy(np.int64) + elements["end"].to_numpy(np.int64)) // 2)
    element_chroms = elements["chrom"].to_numpy()
    half = promoter_length // 2
    parts = []
    for chrom in np.unique(gene_chroms):
        on_chrom = np.flatnonzero(element_chroms == chrom)
        if on_chrom.size == 0:
            continue
        order = on_chrom[np.argsort(centres[on_chrom], kind="stable")]
        sorted_centres = centres[order]
        gene_idx = np.flatnonzero(gene_chroms == chrom)
        lo = np.searchsorted(sorted_centres, tss[gene_idx] - max_distance, side="left")
        hi = np.searchsorted(sorted_centres, tss[gene_idx] + max_distance, side="right")
        counts = hi - lo
        # Flat (gene, element) pairs without a Python loop over genes.
        rows = np.repeat(gene_idx, counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        elem = order[np.repeat(lo, counts) + offsets]
        signed = centres[elem] - tss[rows]
        keep = (signed < -half) | (signed >= half)
        parts.append(pd.DataFrame({"gene_index": rows[keep], "element_index": elem[keep],
                                   "distance": np.abs(signed[keep]), "centre": centres[elem[keep]]}))
    if not parts:
        return pd.DataFrame({c: np.array([], np.int64) for c in
                             ("gene_index", "slot", "element_index", "distance")})
    pairs = pd.concat(parts, ignore_index=True)
    pairs = pairs.sort_values(["gene_index", "distance", "centre"], kind="stable", ignore_index=True)
    pairs["slot"] = pairs.groupby("gene_index").cumcount()
    pairs = pairs[pairs["slot"] < max_enhancers]
    return pairs[["gene_index", "slot", "element_index", "distance"]].reset_index(drop=True)


def _default_contacts(hic):
    def contacts(pairs: pd.DataFrame) -> np.ndarray:
        from epitools.contacts import pair_contacts

        table = pair_contacts(pairs, hic)
        column = "contact_norm" if "contact_norm" in table.columns else "contact"
        return table[column].to_numpy(np.float32)

    return contacts


def _contact_pairs(genes: pd.DataFrame, elements: pd.DataFrame, cand: pd.DataFrame,
                   promoter_length: int) -> pd.DataFrame:
    g = genes.iloc[cand["gene_index"].to_numpy()]
    e = elements.iloc[cand["element_index"].to_numpy()]
    tss = g["tss"].to_numpy(np.int64)
    return pd.DataFrame({
        "enhancer_chrom": e["chrom"].to_numpy(), "enhancer_start": e["start"].to_numpy(np.int64),
        "enhancer_end": e["end"].to_numpy(np.int64), "promoter_chrom": g["chrom"].to_numpy(),
        "promoter_start": np.maximum(tss - promoter_length // 2, 0),
        "promoter_end": tss + promoter_length // 2, "pair_id": np.arange(len(cand)).astype(str),
        "gene": g["gene"].to_numpy(), "tss": tss, "distance": cand["distance"].to_numpy(np.int64),
    })


def promoter_h3k27ac(genes: pd.DataFrame, elements: pd.DataFrame, promoter_length: int) -> np.ndarray:
    """H3K27ac of each gene's promoter, shape (G,) float32.

    The genes table's ``h3k27ac`` column when present (NaN read as 0); otherwise the summed
    H3K27ac of the elements whose centre lies in the promoter window [TSS - L/2, TSS + L/2),
    the elements :func:`select_candidates` leaves out as the promoter's own.
    """
    if "h3k27ac" in genes.columns:
        return np.nan_to_num(pd.to_numeric(genes["h3k27ac"], errors="coerce").to_numpy(np.float64),
                             nan=0.0).clip(0, None).astype(np.float32)
    out = np.zeros(len(genes), np.float64)
    centres = (elements["start"].to_numpy(np.int64) + elements["end"].to_numpy(np.int64)) // 2
    signal = elements["h3k27ac"].to_numpy(np.float64)
    element_chroms = elements["chrom"].to_numpy()
    gene_chroms = genes["chrom"].to_numpy()
    tss = genes["tss"].to_numpy(np.int64)
    half = promoter_length // 2
    for chrom in np.unique(gene_chroms):
        on_chrom = np.flatnonzero(element_chroms == chrom)
        if on_chrom.size == 0:
            continue
        order = on_chrom[np.argsort(centres[on_chrom], kind="stable")]
        cumulative = np.concatenate([[0.0], np.cumsum(signal[order])])
        gene_idx = np.flatnonzero(gene_chroms == chrom)
        lo = np.searchsorted(centres[order], tss[gene_idx] - half, side="left")
        hi = np.searchsorted(centres[order], tss[gene_idx] + half, side="left")
        out[gene_idx] = cumulative[hi] - cumulative[lo]
    return out.astype(np.float32)


def _open_genome(genome):
    if isinstance(genome, (str, os.PathLike)):
        return Genome(genome)
    return genome


def build_gene_store(genes, elements, genome, out, *, hic=None, contacts=None,
                     promoter_length: int | None = None, enhancer_length: int | None = None,
                     max_enhancers: int = 60, max_distance: int = 100_000,
                     expression_transform: str = "log1p", expression=None,
                     enhancer_context: str = "genome",
                     chunk_genes: int = 64, compression: str | None = "blosc") -> Path:
    """Build the gene-level store ``out`` (HDF5) for EPInformer.

    Parameters
    ----------
    genes : path or DataFrame
        Genes table (see :func:`read_genes`).
    elements : path or DataFrame
        Candidate elements (see :func:`read_elements`).
    genome : path or Genome
        FASTA/2bit path or an open :class:`epitools.io.genome.Genome`.
    out : path
        The ``.h5`` file to write (atomically).
    hic : path, optional
        ``.hic``/``.cool``/``.mcool`` for the contact; None uses the power-law fallback of
        :func:`epitools.contacts.pair_contacts`.
    contacts : callable, optional
        ``contacts(pairs_df) -> (n,) float`` overriding ``hic`` (pairs in the canonical
        columns plus ``gene tss distance``).
    promoter_length, enhancer_length : int, optional
        Window lengths (bp); unset, :func:`epitools.data.windows.resolve_geometry` gives
        EPInformer's 2000 for both. Shorter windows make CPU runs fast.
    max_enhancers : int
        Slots per gene (60 in the paper).
    max_distance : int
        Largest |element centre - TSS| of a candidate.
    expression_transform : {"log1p", "none"}
        Target = log1p(expression) for linear-scale input; "none" keeps values already on a
        log scale (e.g. ``epi-simulate``'s genes.tsv).
    expression : path or Series, optional
        Measured expression (``gene expression`` table, see :func:`read_expression`, or a
        Series indexed by gene) replacing the genes table's ``expression`` column; genes
        without a value get NaN and are skipped in training.
    enhancer_context : {"genome", "own"}
        What fills an enhancer slot: ``"genome"``, the ``enhancer_length`` bp of genome
        centred on the element; ``"own"``, the element's own sequence centred and N-padded
        to the slot (:func:`epitools.data.windows.element_windows`), as the EPInformer paper.
    chunk_genes : int
        Genes encoded and written per step (memory ~ chunk_genes * max_enhancers * enhancer_length).
    compression : str or None
        HDF5 filter of the arrays, as for pair stores (:func:`epitools.io.store.compression_options`).

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    geometry = resolve_geometry("genes", enhancer_length, promoter_length)
    enhancer_length, promoter_length = geometry.enhancer_length, geometry.promoter_length
    compress = compression_options(compression)
    if enhancer_context not in ENHANCER_CONTEXTS:
        raise UsageError(f"enhancer_context must be one of {', '.join(ENHANCER_CONTEXTS)}, "
                         f"got {enhancer_context!r}")
    if expression_transform not in EXPRESSION_TRANSFORMS:
        raise UsageError(f"expression_transform must be one of {', '.join(EXPRESSION_TRANSFORMS)}, "
                         f"got {expression_transform!r}")
    genes_path = None if isinstance(genes, pd.DataFrame) else genes
    elements_path = None if isinstance(elements, pd.DataFrame) else elements
    genes = read_genes(genes, expression_transform) if genes_path is not None else genes.reset_index(drop=True)
    elements = read_elements(elements) if elements_path is not None else elements.reset_index(drop=True)
    expression_path = None
    if expression is not None:
        if isinstance(expression, pd.Series):
            check_expression_values(expression.to_numpy(np.float64), None,
                                     np.arange(len(expression)) + 1, expression_transform)
        else:
            expression_path = expression
            expression = read_expression(expression, expression_transform)
        genes = join_expression(genes, expression, source=expression_path)
    genome_obj = _open_genome(genome)
    if "expression" not in genes.columns:
        genes = genes.assign(expression=np.nan)
    if "strand" not in genes.columns:
        genes = genes.assign(strand="+")

    # Resolve chromosome aliases (chr1 <-> 1) once per name, so candidates match across files.
    resolve = getattr(genome_obj, "resolve", None)
    if resolve is not None:
        names = {c: resolve(c) for c in pd.unique(pd.concat([genes["chrom"], elements["chrom"]]))}
        genes = genes.assign(chrom=genes["chrom"].map(names))
        elements = elements.assign(chrom=elements["chrom"].map(names))

    n_genes, m = len(genes), int(max_enhancers)
    cand = select_candidates(genes, elements, max_enhancers=m, max_distance=max_distance,
                             promoter_length=promoter_length)
    contact_fn = contacts if contacts is not None else _default_contacts(hic)
    contact_values = (np.asarray(contact_fn(_contact_pairs(genes, elements, cand, promoter_length)),
                                 dtype=np.float32) if len(cand) else np.zeros(0, np.float32))
    if contact_values.shape != (len(cand),):
        raise InputError(f"contacts returned shape {contact_values.shape}, expected ({len(cand)},)",
                         hic, field="contact")
    contact_values = np.nan_to_num(contact_values, nan=0.0)

    feature_columns = gene_feature_columns(genes)
    gi, slot, ei = (cand[c].to_numpy() for c in ("gene_index", "slot", "element_index"))

    # Small per-slot tables are built whole in memory; sequences are streamed by gene chunk.
    mask = np.zeros((n_genes, m), bool)
    mask[gi, slot] = True
    distance = np.zeros((n_genes, m), np.int32)
    distance[gi, slot] = cand["distance"].to_numpy()
    activity = np.zeros((n_genes, m, len(ACTIVITY_COLUMNS)), np.float32)
    activity[gi, slot] = elements[list(ACTIVITY_COLUMNS)].to_numpy(np.float32)[ei]
    contact = np.zeros((n_genes, m), np.float32)
    contact[gi, slot] = contact_values
    starts = np.full((n_genes, m), -1, np.int64)
    ends = np.full((n_genes, m), -1, np.int64)
    starts[gi, slot] = elements["start"].to_numpy(np.int64)[ei]
    ends[gi, slot] = elements["end"].to_numpy(np.int64)[ei]
    names = np.full((n_genes, m), "", dtype=object)
    names[gi, slot] = elements["name"].astype(str).to_numpy()[ei]
    expression_raw = genes["expression"].to_numpy(np.float32)
    promoter_signal = promoter_h3k27ac(genes, elements, promoter_length)
    gene_features = genes[feature_columns].to_numpy(np.float32) if feature_columns else \
        np.zeros((n_genes, 0), np.float32)

    tss = genes["tss"].to_numpy(np.int64)
    chroms = genes["chrom"].astype(str).to_numpy()
    str_dt = h5py.string_dtype()
    chunk = max(1, min(chunk_genes, n_genes))
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        promoter_ds = h5.create_dataset("promoter", (n_genes, promoter_length), np.uint8,
                                        chunks=(chunk, promoter_length), **compress)
        enhancer_ds = h5.create_dataset("enhancers", (n_genes, m, enhancer_length), np.uint8,
                                        chunks=(min(chunk, 8), m, enhancer_length), **compress)
        small = {"enhancer_mask": mask, "distance": distance, "activity": activity, "contact": contact,
                 "enhancer_start": starts, "enhancer_end": ends, "gene_features": gene_features,
                 "expression": (np.log1p(expression_raw) if expression_transform == "log1p"
                                else expression_raw),
                 "expression_raw": expression_raw, "tss": tss, "promoter_h3k27ac": promoter_signal}
        for key, value in small.items():
            h5.create_dataset(key, data=value, **(compress if value.size else {}))
        h5.create_dataset("enhancer_name", data=names.astype(str).astype(object), dtype=str_dt)
        for key in ("gene", "chrom", "strand"):
            h5.create_dataset(key, data=genes[key].astype(str).to_numpy(dtype=object), dtype=str_dt)
        with progress(total=n_genes, desc="encode genes", unit="gene") as bar:
            for lo in range(0, n_genes, chunk):
                hi = min(lo + chunk, n_genes)
                promoter_ds[lo:hi] = centred_windows(genome_obj, chroms[lo:hi], tss[lo:hi], tss[lo:hi],
                                                     promoter_length)[0]
                block = np.full((hi - lo, m, enhancer_length), N_CODE, np.uint8)
                filled = mask[lo:hi]
                if filled.any():
                    rows = np.nonzero(filled)
                    windows = element_windows if enhancer_context == "own" else centred_windows
                    block[rows] = windows(genome_obj, chroms[lo:hi][rows[0]], starts[lo:hi][filled],
                                          ends[lo:hi][filled], enhancer_length)[0]
                enhancer_ds[lo:hi] = block
                bar.update(hi - lo)
        from epitools import __version__

        h5.attrs.update({
            "kind": "genes", **geometry.attrs(), "compression": compression or "none",
            "max_enhancers": m, "max_distance": max_distance, "enhancer_context": enhancer_context,
            "expression_transform": expression_transform, "activity_columns": list(ACTIVITY_COLUMNS),
            "gene_feature_columns": feature_columns, "n_genes": n_genes,
            "genome": os.fspath(genome) if isinstance(genome, (str, os.PathLike)) else type(genome).__name__,
            "genome_checksum": genome_obj.checksum(),
            "genome_chrom_sizes": json.dumps(genome_obj.chrom_sizes),
            "hic": os.fspath(hic) if hic is not None else "",
            "genes_sha256": file_checksum(genes_path) if genes_path is not None else "",
            "elements_sha256": file_checksum(elements_path) if elements_path is not None else "",
            "expression_source": os.fspath(expression_path) if expression_path is not None else
            ("series" if expression is not None else "genes"),
            "expression_sha256": file_checksum(expression_path) if expression_path is not None else "",
            "n_expressed": int(np.isfinite(expression_raw).sum()),
            "tool_version": __version__,
        })
    n_padded = getattr(genome_obj, "n_padded", None)
    log.info("gene store %s: %d genes, %d candidate enhancers (mean %.1f per gene, max %d)%s", out,
             n_genes, len(cand), len(cand) / max(n_genes, 1), m,
             f", {n_padded} windows N-padded" if n_padded else "")
    return Path(out)
