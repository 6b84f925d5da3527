"""Every element–gene pair within a distance, one chromosome at a time (ABC's neighbourhood).

A pair is an element whose midpoint lies strictly closer than ``max_distance`` to the gene's
TSS (ABC's ``distance < window``). Each pair carries ``gene``, ``tss``, ``distance`` (element
midpoint to TSS, bp), ``is_self_promoter`` (a ``promoter``-class element within ``tss_slop`` of
its gene's TSS, ABC's ``isSelfPromoter``) and the element's and gene's other columns; the
promoter anchor is ``TSS ± tss_slop``.
"""

from __future__ import annotations

import gzip
import logging
import os

import numpy as np
import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.io.pairs import write_pairs_stream
from epitools.progress import progress
from epitools.regions.intervals import chrom_rank, read_bed

log = logging.getLogger(__name__)

ELEMENT_CARRIED = ("name", "class", "activity", "dnase", "h3k27ac")
GENE_CARRIED = ("strand", "gene_id", "expression", "promoter_activity_quantile", "is_expressed")


def read_element_table(path) -> pd.DataFrame:
    """Elements from a BED (``chrom start end [name]``) or a headed elements table
    (``#chrom start end name ...``, as ``epi-candidates activity`` writes).

    Returns
    -------
    pandas.DataFrame
        ``chrom start end`` (int64 coordinates) and every other column.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        first = fh.readline().rstrip("\n").split("\t")
    if first[0].startswith("#") or (len(first) > 1 and not first[1].strip().isdigit()):
        df = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["", "NA", "nan"])
        df.columns = [str(c).lstrip("#") for c in df.columns]
        if "chr" in df.columns and "chrom" not in df.columns:
            df = df.rename(columns={"chr": "chrom"})
        missing = [c for c in ("chrom", "start", "end") if c not in df.columns]
        if missing:
            raise InputError(f"elements table lacks column(s) {', '.join(missing)}", path, line=1, field=missing[0])
        df["chrom"] = df["chrom"].astype(str)
        return df
    raw, _ = read_bed(path)
    df = pd.DataFrame({"chrom": raw[0].astype(str), "start": raw[1], "end": raw[2]})
    if 3 in raw.columns:
        df["name"] = raw[3]
    return df


def chromosome_pairs(elements: pd.DataFrame, genes: pd.DataFrame, max_distance: float = 5_000_000,
                     tss_slop: int = 500) -> pd.DataFrame:
    """All pairs of one chromosome's elements and genes.

    Parameters
    ----------
    elements : pandas.DataFrame
        ``chrom start end`` (+ carried columns), one chromosome.
    genes : pandas.DataFrame
        ``gene chrom tss`` (+ carried columns), the same chromosome.

    Returns
    -------
    pandas.DataFrame
        One row per pair, by gene (in ``genes`` order) then element position.
    """
    mid = (elements["start"].to_numpy(np.float64) + elements["end"].to_numpy(np.float64)) / 2
    order = np.argsort(mid, kind="stable")
    mid_sorted = mid[order]
    tss = genes["tss"].to_numpy(np.int64)
    lo = np.searchsorted(mid_sorted, tss - max_distance, side="right")
    hi = np.searchsorted(mid_sorted, tss + max_distance, side="left")
    n = hi - lo
    gene_idx = np.repeat(np.arange(len(genes)), n)
    # positions lo[g] .. hi[g]-1 for every gene g, without a Python loop
    within = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    elem_idx = order[np.repeat(lo, n) + within]
    g_tss = tss[gene_idx]
    e_start = elements["start"].to_numpy(np.int64)[elem_idx]
    e_end = elements["end"].to_numpy(np.int64)[elem_idx]
    e_chrom = elements["chrom"].astype(str).to_numpy(dtype=object)
    gene_names = genes["gene"].astype(str).to_numpy(dtype=object)
    out = pd.DataFrame({
        "enhancer_chrom": e_chrom[elem_idx], "enhancer_start": e_start, "enhancer_end": e_end,
        "promoter_chrom": genes["chrom"].astype(str).to_numpy(dtype=object)[gene_idx],
        "promoter_start": np.maximum(g_tss - tss_slop, 0), "promoter_end": g_tss + tss_slop,
        "gene": gene_names[gene_idx], "tss": g_tss, "distance": np.abs(mid[elem_idx] - g_tss),
    })
    for column in ELEMENT_CARRIED:
        if column in elements.columns:
            out[column] = elements[column].to_numpy()[elem_idx]
    for column in GENE_CARRIED:
        if column in genes.columns:
            name = f"gene_{column}" if column in ("strand", "expression") else column
            out[name] = genes[column].to_numpy()[gene_idx]
    # string work once per element and per gene, not per pair
    is_promoter = (elements["class"].astype(str).str.lower() == "promoter").to_numpy() \
        if "class" in elements.columns else np.zeros(len(elements), dtype=bool)
    out["is_self_promoter"] = is_promoter[elem_idx] & (e_start - tss_slop < g_tss) & (e_end + tss_slop > g_tss)
    element_key = (elements["name"].astype(str) if "name" in elements.columns else
                   elements["chrom"].astype(str) + ":" + elements["start"].astype(str) + "-"
                   + elements["end"].astype(str)).to_numpy(dtype=object) + "|"
    out.insert(6, "pair_id", element_key[elem_idx] + gene_names[gene_idx])
    return out


def iter_chromosome_pairs(elements: pd.DataFrame, genes: pd.DataFrame, max_distance: float = 5_000_000,
                          tss_slop: int = 500, chrom_order=None):
    """Yield ``(chrom, pairs)`` per chromosome with both elements and genes (sorted order)."""
    if not max_distance > 0:
        raise UsageError(f"--max-distance must be positive, got {max_distance:g}")
    e_chrom, g_chrom = elements["chrom"].astype(str), genes["chrom"].astype(str)
    shared = sorted(set(e_chrom) & set(g_chrom))
    shared = [shared[i] for i in np.argsort(chrom_rank(shared, chrom_order), kind="stable")]
    for name, column in (("genes", g_chrom), ("elements", e_chrom)):
        alone = set(column) - set(shared)
        if alone:
            log.warning("pairs: %d chromosome(s) have %s only (e.g. %s) and give no pairs",
                        len(alone), name, sorted(alone)[0])
    for chrom in progress(shared, desc="pairs", unit="chrom"):
        yield chrom, chromosome_pairs(elements[(e_chrom == chrom).to_numpy()],
                                      genes[(g_chrom == chrom).to_numpy()], max_distance, tss_slop)


def write_all_pairs(elements: pd.DataFrame, genes: pd.DataFrame, out, max_distance: float = 5_000_000,
                    tss_slop: int = 500, chrom_order=None, format: str = "canonical") -> dict:
    """Stream every pair to ``out`` one chromosome at a time (memory: one chromosome's pairs),
    through :func:`epitools.io.pairs.write_pairs_stream` (gzip when ``out`` ends in ``.gz``).

    Returns
    -------
    dict
        ``pairs``, ``genes_with_pairs``, ``self_promoters`` and ``pairs_per_chromosome``.
    """
    stats = {"pairs": 0, "genes_with_pairs": 0, "self_promoters": 0, "pairs_per_chromosome": {}}

    def chunks():
        for chrom, chunk in iter_chromosome_pairs(elements, genes, max_distance, tss_slop, chrom_order):
            stats["genes_with_pairs"] += int(chunk["gene"].nunique())
            stats["self_promoters"] += int(chunk["is_self_promoter"].sum())
            stats["pairs_per_chromosome"][chrom] = len(chunk)
            yield chunk

    stats["pairs"] = write_pairs_stream(chunks(), out, format)
    if stats["pairs"] == 0:
        raise InputError("no element lies within --max-distance of any gene's TSS "
                         "(do the chromosome names of elements and genes match?)")
    log.info("pairs: %d pairs of %d genes within %g bp (%d self-promoters) -> %s", stats["pairs"],
             stats["genes_with_pairs"], max_distance, stats["self_promoters"], os.fspath(out))
    return stats
