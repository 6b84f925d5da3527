"""Read a pairs table one promoter chromosome at a time (tables grouped by chromosome, as
``epi-candidates pairs`` writes them), so memory holds one chromosome whatever the table size."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd

from epitools.errors import InputError
from epitools.io.pairs.read import iter_pairs


class UngroupedPairsError(InputError):
    """A chromosome's pairs reappear after another chromosome's: the table is not grouped."""


def iter_chromosome_frames(pairs_path, chunksize: int = 200_000) -> Iterator[tuple[str, pd.DataFrame]]:
    """Yield ``(chrom, pairs)`` per promoter chromosome of a table grouped by chromosome.

    Raises
    ------
    UngroupedPairsError
        At the first line whose chromosome was already finished.
    """
    current, buffer, finished = None, [], set()
    for chunk in iter_pairs(pairs_path, chunksize=chunksize):
        if chunk.empty:
            continue
        chrom = chunk["promoter_chrom"].astype(str).to_numpy()
        breaks = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
        for piece in np.split(np.arange(len(chunk)), breaks):
            name = chrom[piece[0]]
            if name != current:
                if buffer:
                    yield current, _joined(buffer)
                if name in finished:
                    lines = chunk.attrs.get("source_lines")
                    line = int(lines[piece[0]]) if lines is not None and len(lines) == len(chunk) \
                        else int(chunk.index[piece[0]]) + 2
                    raise UngroupedPairsError(
                        f"pairs of {name} appear again after other chromosomes: the table must be "
                        "grouped by promoter chromosome (as epi-candidates pairs writes it) to be "
                        "read one chromosome at a time", pairs_path, line=line,
                        field="promoter_chrom")
                finished.add(current)
                current, buffer = name, []
            buffer.append(chunk.iloc[piece])
    if buffer:
        yield current, _joined(buffer)


def _joined(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return parts[0] if len(parts) == 1 else pd.concat(parts)
