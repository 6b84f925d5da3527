"""A simulated activity library: many short windows with varied, partly broken motif copies.

An MPRA/STARR-seq-like library for pre-training EPInformer's sequence encoder
(:func:`epitools.models.epinformer_encoder.pretrain_sequence_encoder`, ``epi-encode activity``).
A simulated genome has a few thousand elements, too few for the encoder to learn that each
planted copy counts: it memorises them (``bench/variant_encoder.py``). The library draws its
windows from the genome's own rules (background GC, the same JASPAR motifs, sharpening, slot
layout and activity model as :mod:`epitools.data.simulate`):

* ``1 - inactive_fraction`` of the windows are bound by one family of either side (the three
  enhancer and three promoter motifs equally often) and carry 1..``motif_copies`` copies of its
  motif; each copy is broken with probability ``break_fraction`` by one base changed to the
  column's least likely base at one of the motif's informative columns (highest probability
  >= :data:`INFORMATIVE`); the rest carry no planted motif;
* activity = exp(normal(0, ``activity_sd``)) x intact copies / ``motif_copies``, or x
  ``inactive_activity`` without an intact copy (unbound, or every copy broken), read out as
  DNase and H3K27ac with ``track_noise``, as the genome's elements are.

Written as ``activity_library.fa`` (+ ``.fai``): the windows back to back on
:data:`LIBRARY_CHROMS` chromosomes of its own, ``chr1..chr12``, so that chromosome folds
(``--split chrom12``) split it; and
``activity_library.bed``: one element per window, ``chrom start end name dnase h3k27ac``, the
input of ``epi-encode activity``. ``activity_library_sites.tsv`` lists each window's family,
copies and intact copies.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

LIBRARY_CHROMS = 12
INFORMATIVE = 0.7


def library_windows(cfg, motifs, n: int, length: int, break_fraction: float, rng: np.random.Generator):
    """Draw ``n`` library windows of ``length`` bp.

    Parameters
    ----------
    cfg : SimulationConfig
    motifs : list of Motif
        The enhancer motifs then the promoter motifs, as :func:`epitools.data.simulate.simulate` loads them.
    n, length : int
        Windows (rounded up to a multiple of :data:`LIBRARY_CHROMS`) and their length.
    break_fraction : float
        Probability that a planted copy is broken.

    Returns
    -------
    codes : (m, length) uint8 base codes
    table : pandas.DataFrame, one row per window: ``family`` (-1 unbound; enhancer motifs
        first), ``copies``, ``intact``, ``activity``, ``dnase``, ``h3k27ac``
    """
    from epitools.data.simulate import _element_sites, _write_sites, background_bases

    m = -(-int(n) // LIBRARY_CHROMS) * LIBRARY_CHROMS
    genome = background_bases(m * length, cfg.gc, rng)
    bound = rng.random(m) >= cfg.inactive_fraction
    family = np.where(bound, rng.integers(0, len(motifs), m), -1)
    copies = np.where(bound, rng.integers(1, cfg.motif_copies + 1, m), 0)
    offsets = np.arange(m, dtype=np.int64) * length
    rows = np.flatnonzero(bound)
    max_len = max(motif.length for motif in motifs)
    # every family shares slot geometry with the genome's elements; family_offset 0 and the
    # family itself as the motif index cover both sides
    slots = _element_sites(dataclasses.replace(cfg, noise=0.0), len(motifs), 0, rows, np.full(len(rows), length // 2),
                           family[rows], rows, copies[rows], max_len, rng)
    sites = _write_sites(genome, slots, motifs, cfg, offsets, rng)
    broken = rng.random(len(sites)) < break_fraction
    for mi, motif in enumerate(motifs):
        hit = np.flatnonzero(broken & (sites["motif"].to_numpy() == mi))
        if not hit.size:
            continue
        columns = np.flatnonzero(motif.probs.max(0) >= INFORMATIVE)
        if not columns.size:
            columns = np.array([int(motif.probs.max(0).argmax())])
        column = columns[rng.integers(0, len(columns), hit.size)]
        least = motif.probs[:, column].argmin(0)
        minus = sites["strand"].to_numpy()[hit] == "-"
        pos = np.where(minus, sites["end"].to_numpy()[hit] - 1 - column, sites["start"].to_numpy()[hit] + column)
        genome[offsets[sites["chrom_index"].to_numpy()[hit]] + pos] = np.where(minus, 3 - least, least)
    intact = np.bincount(sites["chrom_index"].to_numpy()[~broken], minlength=m)
    draw = np.exp(rng.normal(0, cfg.activity_sd, m))
    # a window whose copies are all broken binds nothing: it reads as an unbound one
    activity = np.where(intact > 0, draw * intact / cfg.motif_copies, draw * cfg.inactive_activity)
    table = pd.DataFrame({"family": family, "copies": copies, "intact": intact, "activity": activity,
                          "dnase": activity * np.exp(rng.normal(0, cfg.track_noise, m)),
                          "h3k27ac": activity * np.exp(rng.normal(0, cfg.track_noise, m))})
    return genome.reshape(m, length), table


def write_library(out: Path, codes: np.ndarray, table: pd.DataFrame, motifs) -> list[str]:
    """Write the library files into directory ``out``; returns their names."""
    from epitools.data.simulate import _write_fasta

    m, length = codes.shape
    per_chrom = m // LIBRARY_CHROMS
    # chr-named so that the chromosome splits (chrom12 included) fold the library as a genome
    chroms = [f"chr{i + 1}" for i in range(LIBRARY_CHROMS)]
    _write_fasta(out / "activity_library.fa", chroms, codes.reshape(-1), per_chrom * length)
    index = np.arange(m)
    chrom = np.array(chroms, dtype=object)[index // per_chrom]
    start = (index % per_chrom) * length
    names = np.array([f"lib_{i}" for i in index], dtype=object)
    pd.DataFrame({"chrom": chrom, "start": start, "end": start + length, "name": names,
                  "dnase": np.round(table["dnase"], 4), "h3k27ac": np.round(table["h3k27ac"], 4)}).to_csv(
        out / "activity_library.bed", sep="\t", header=False, index=False)
    ids = np.array([motif.jaspar_id for motif in motifs] + ["."], dtype=object)
    table.assign(name=names, motif_id=ids[table["family"].to_numpy()], activity=np.round(table["activity"], 6))[
        ["name", "motif_id", "family", "copies", "intact", "activity"]].to_csv(
        out / "activity_library_sites.tsv", sep="\t", index=False)
    return ["activity_library.fa", "activity_library.fa.fai", "activity_library.bed", "activity_library_sites.tsv"]
