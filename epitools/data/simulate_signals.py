"""Epigenomic tracks for EPIPDLF's genomic branch, with a planted effect (``epi-simulate``).

Two tracks over every enhancer and promoter element of the simulated genome, each written
as bedGraph and bigWig:

``signal_mark``
    Planted: an element in at least one positive pair of the first cell type carries
    ``LINKED_EFFECT`` on top of log-normal noise (median 1), other elements the noise only,
    so the mark separates interacting from non-interacting elements as active marks
    (H3K27ac, H3K4me1) do in real cells.
``signal_ctcf``
    Noise only: a track the model must learn to ignore.

Drawn from its own random stream (stage 21), after every other output is written, so the
other files of a seed stay byte-identical.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from epitools.data import simulate_tracks
from epitools.io.tracks import write_bedgraph, write_bigwig

LINKED_EFFECT = 3.0
TRACKS = ("signal_mark", "signal_ctcf")


def _elements(pairs: pd.DataFrame, part: str) -> pd.DataFrame:
    cols = [f"{part}_chrom", f"{part}_start", f"{part}_end"]
    frame = pairs[cols + ["label", "cell_type"]].rename(columns=dict(zip(cols, ("chrom", "start", "end"))))
    first_cell = pairs["cell_type"].iloc[0]
    linked = (frame["label"] == 1) & (frame["cell_type"] == first_cell)
    return (frame.assign(linked=linked).groupby(["chrom", "start", "end"], sort=True)["linked"].any()
            .reset_index())


def signal_values(pairs: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Every distinct enhancer and promoter element of ``pairs`` with its track values.

    Returns
    -------
    DataFrame
        ``chrom start end linked`` and one column per name in :data:`TRACKS`.
    """
    elements = pd.concat([_elements(pairs, "enhancer"), _elements(pairs, "promoter")], ignore_index=True)
    elements = elements.groupby(["chrom", "start", "end"], sort=True)["linked"].any().reset_index()
    n = len(elements)
    noise = rng.lognormal(0.0, 0.35, size=(n, len(TRACKS)))
    elements["signal_mark"] = np.round(noise[:, 0] + LINKED_EFFECT * elements["linked"], 4)
    elements["signal_ctcf"] = np.round(noise[:, 1], 4)
    return elements


def write_signal_tracks(out_dir, pairs: pd.DataFrame, chroms, chrom_sizes: dict,
                        rng: np.random.Generator) -> list[str]:
    """Write :data:`TRACKS` as ``<name>.bedGraph`` and ``<name>.bw`` into ``out_dir``.

    Returns
    -------
    list of str
        The file names written.
    """
    out_dir = Path(out_dir)
    elements = signal_values(pairs, rng)
    files = []
    for name in TRACKS:
        segments = simulate_tracks.flatten_intervals(elements["chrom"], elements["start"], elements["end"],
                                                     elements[name], list(chroms))
        write_bedgraph(segments, out_dir / f"{name}.bedGraph")
        write_bigwig(segments, out_dir / f"{name}.bw", chrom_sizes)
        files += [f"{name}.bedGraph", f"{name}.bw"]
    return files
