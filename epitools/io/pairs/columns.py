"""Column names of the canonical pairs table and of the source layouts that map onto it."""

from __future__ import annotations

import pandas as pd

COORD_COLUMNS = (
    "enhancer_chrom", "enhancer_start", "enhancer_end",
    "promoter_chrom", "promoter_start", "promoter_end",
)
OPTIONAL_COLUMNS = ("label", "cell_type", "gene", "tss", "distance", "enhancer_seq", "promoter_seq")
FORMATS = ("canonical", "bedpe", "targetfinder", "bengi", "windows", "sequences")
SIDES = ("enhancer", "promoter")

# Headerless BENGI / TransEPI / Hi-C-loop tables, in file order.
BENGI_COLUMNS = (
    "label", "distance",
    "enhancer_chrom", "enhancer_start", "enhancer_end", "enhancer_name",
    "promoter_chrom", "promoter_start", "promoter_end", "promoter_name",
)
# BEDPE column -> canonical column, in BEDPE file order.
BEDPE_COLUMNS = {
    "chrom1": "enhancer_chrom", "start1": "enhancer_start", "end1": "enhancer_end",
    "chrom2": "promoter_chrom", "start2": "promoter_start", "end2": "promoter_end",
    "name": "pair_id", "score": "score", "strand1": "enhancer_strand", "strand2": "promoter_strand",
}


def canonical_order(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the coordinate, ``pair_id`` and optional columns first (those present), then the rest."""
    head = [c for c in (*COORD_COLUMNS, "pair_id", *OPTIONAL_COLUMNS) if c in df.columns]
    return df[head + [c for c in df.columns if c not in head]]
