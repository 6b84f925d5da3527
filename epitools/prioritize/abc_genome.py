"""All-pairs ABC streamed one chromosome at a time, and ABC's thresholded summaries.

A gene's ABC denominator sums over its candidate elements only, and every gene lies on one
chromosome, so scoring a pairs table chromosome by chromosome (grouped by ``promoter_chrom``, as
``epi-candidates pairs`` writes it) is exact while memory holds one chromosome. With activity
from tracks (``dnase=``) the quantile normalisation ranks every element of the genome, so that
path reads the whole table.

The summaries follow ABC's ``filter_predictions.py``: ``EnhancerPredictionsFull`` (every column
of the pairs with score > threshold, promoter-class elements only as their gene's own
self-promoter), ``EnhancerPredictions`` (ABC's slim columns) and ``GenePredictionStats``
(per gene: expressed, failed, elements listed, distal elements predicted), with ABC's column
names (``chr start end name class TargetGene TargetGeneTSS ... ABC.Score``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from epitools.errors import InputError
from epitools.io.atomic import atomic_path
from epitools.io.pairs import iter_chromosome_frames, write_pairs, write_pairs_stream
from epitools.prioritize.abc import score_table

log = logging.getLogger(__name__)

ABC_NAMES = {"enhancer_chrom": "chr", "enhancer_start": "start", "enhancer_end": "end", "gene": "TargetGene",
             "tss": "TargetGeneTSS", "gene_expression": "TargetGeneExpression",
             "promoter_activity_quantile": "TargetGenePromoterActivityQuantile",
             "gene_id": "TargetGeneEnsembl_ID", "is_self_promoter": "isSelfPromoter", "activity": "activity_base",
             "contact_norm": "contact", "abc_numerator": "ABC.Score.Numerator", "abc_score": "ABC.Score",
             "cell_type": "CellType"}
SLIM_COLUMNS = ["chr", "start", "end", "name", "TargetGene", "TargetGeneTSS", "CellType", "ABC.Score"]


def genes_expressed(pairs: pd.DataFrame, expression_cutoff: float = 1.0,
                    promoter_quantile_cutoff: float = 0.3) -> np.ndarray:
    """ABC's ``TargetGeneIsExpressed`` for each pair (bool array (n,)).

    An ``is_expressed`` column wins; else a gene is expressed when its expression is at least
    ``expression_cutoff`` or, without a value, its promoter-activity quantile is at least
    ``promoter_quantile_cutoff``; a gene with neither is taken as expressed.
    """
    if "is_expressed" in pairs.columns:
        return pairs["is_expressed"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
    n = len(pairs)
    expression = pd.to_numeric(pairs.get("gene_expression", pd.Series(np.nan, index=pairs.index)),
                               errors="coerce").to_numpy(np.float64)
    quantile = pd.to_numeric(pairs.get("promoter_activity_quantile", pd.Series(np.nan, index=pairs.index)),
                             errors="coerce").to_numpy(np.float64)
    unknown = np.isnan(expression)
    by_quantile = np.where(np.isnan(quantile), True, quantile >= promoter_quantile_cutoff)
    return np.where(unknown, by_quantile, expression >= expression_cutoff) if n else np.zeros(0, bool)


def abc_style(scored: pd.DataFrame) -> pd.DataFrame:
    """A scored pairs table with ABC's column names (``name`` and ``class`` filled when absent)."""
    out = scored.rename(columns=ABC_NAMES)
    if "name" not in out.columns:
        out.insert(3, "name", out["chr"].astype(str) + ":" + out["start"].astype(str) + "-" + out["end"].astype(str))
    if "class" not in out.columns:
        out["class"] = "unknown"
    if "CellType" not in out.columns:
        out["CellType"] = ""
    if "TargetGeneIsExpressed" not in out.columns:
        out["TargetGeneIsExpressed"] = genes_expressed(scored)
    out["isSelfPromoter"] = out["isSelfPromoter"].astype(str).str.lower().isin(["true", "1"]) \
        if "isSelfPromoter" in out.columns else False
    return out


def thresholded_predictions(pred: pd.DataFrame, threshold: float, score_column: str = "ABC.Score",
                            include_self_promoter: bool = True) -> pd.DataFrame:
    """Rows scoring above ``threshold``; promoter-class rows only as self-promoters (ABC naming)."""
    kept = pred[pred[score_column].to_numpy(np.float64) > threshold]
    promoter = kept["class"].astype(str) == "promoter"
    keep = ~promoter | kept["isSelfPromoter"].astype(bool) if include_self_promoter else ~promoter
    return kept[keep.to_numpy()]


def gene_prediction_stats(filtered: pd.DataFrame, threshold: float, score_column: str = "ABC.Score") -> pd.DataFrame:
    """ABC's ``GenePredictionStats`` from thresholded predictions (one row per listed gene)."""
    keys = ["chr", "TargetGene", "TargetGeneTSS"]
    grouped = filtered.groupby(keys)
    stats = pd.DataFrame({
        "geneIsExpressed": grouped["TargetGeneIsExpressed"].first().astype(bool),
        "geneFailed": grouped[score_column].agg(lambda x: bool(np.isnan(x.to_numpy(np.float64)).all())),
        "nEnhancersConsidered": grouped["name"].count()})
    distal = filtered[filtered["class"].astype(str) != "promoter"]
    predicted = distal.groupby(keys)[score_column].agg(lambda x: int((x.to_numpy(np.float64) > threshold).sum()))
    # ABC joins the two tables: genes listed only through their promoter leave the summary
    return stats.join(predicted.rename("nDistalEnhancersPredicted"), how="inner").reset_index()


def summary_paths(out_dir, threshold: float, include_self_promoter: bool = True) -> dict:
    """Paths of the three summaries in ``out_dir``, named as ABC names them."""
    tag = f"threshold{threshold:g}_{'self_promoter' if include_self_promoter else 'no_self_promoter'}"
    out_dir = Path(out_dir)
    return {"full": out_dir / f"EnhancerPredictionsFull_{tag}.tsv",
            "slim": out_dir / f"EnhancerPredictions_{tag}.tsv",
            "genes": out_dir / f"GenePredictionStats_{tag}.tsv"}


def write_summaries(filtered: pd.DataFrame, out_dir, threshold: float, include_self_promoter: bool = True,
                    score_column: str = "ABC.Score") -> dict:
    """Write the thresholded predictions (full and slim) and the per-gene statistics, atomically."""
    paths = summary_paths(out_dir, threshold, include_self_promoter)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    slim = [c if c != "ABC.Score" else score_column for c in SLIM_COLUMNS]
    for key, table in (("full", filtered), ("slim", filtered[slim]),
                       ("genes", gene_prediction_stats(filtered, threshold, score_column))):
        with atomic_path(paths[key]) as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6f", lineterminator="\n")
    log.info("ABC summaries: %d predictions of %d genes above %g -> %s", len(filtered),
             filtered["TargetGene"].nunique(), threshold, os.fspath(out_dir))
    return paths


def score_pairs_file(pairs_path, out, *, summaries=None, summary_threshold: float | None = None,
                     include_self_promoter: bool = True, **score_options) -> dict:
    """``epi-prioritize abc``: score a pairs table, streamed per chromosome when activity comes
    from the table, and optionally write ABC's summaries into ``summaries``.

    Parameters
    ----------
    pairs_path, out : path
        Input pairs table and output scored table.
    summaries : path, optional
        Directory for :func:`write_summaries` (threshold ``summary_threshold``, else the
        ``threshold`` of ``score_options``).
    score_options
        Passed to :func:`epitools.prioritize.abc.score_table`.

    Returns
    -------
    dict
        ``pairs``, ``predicted`` (``abc_predicted``), ``chromosomes`` and ``summaries`` (paths).
    """
    threshold = score_options.get("threshold")
    cut = summary_threshold if summary_threshold is not None else threshold
    stats = {"pairs": 0, "predicted": 0, "chromosomes": 0, "summaries": None}
    kept = []

    def account(scored):
        stats["pairs"] += len(scored)
        stats["chromosomes"] += 1
        if "abc_predicted" in scored.columns:
            stats["predicted"] += int(scored["abc_predicted"].sum())
        if summaries is not None:
            kept.append(thresholded_predictions(abc_style(scored), cut, include_self_promoter=include_self_promoter))
        return scored

    if score_options.get("dnase") is not None:
        write_pairs(account(score_table(pairs_path, **score_options)), out)
    else:
        write_pairs_stream((account(score_table(frame, **score_options))
                            for _, frame in iter_chromosome_frames(pairs_path)), out)
    if summaries is not None:
        if cut is None:
            raise InputError("ABC summaries need a threshold (--abc-threshold)")
        stats["summaries"] = write_summaries(pd.concat(kept, ignore_index=True), summaries, cut,
                                             include_self_promoter)
    return stats
