"""CRISPRi benchmarks and the predictor scores of their pairs.

Benchmarks in the ENCODE-rE2G format (``EPCrisprBenchmark_*``) and the Nasser 2021
compendium (which carries published predictor scores) are read into one shape, one row per
tested element–gene pair of a cell type; predicted elements are matched to tested elements
of the same gene by overlap; our ABC is computed from element activities and the power law.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.io.pairs.text import naming_bad_bytes

log = logging.getLogger(__name__)

# Cell type of a benchmark without a CellType column.
UNSPECIFIED_CELL_TYPE = "unspecified"
ENCODE_COLUMNS = {"chrom", "chromStart", "chromEnd", "measuredGeneSymbol", "startTSS", "Regulated"}
NASSER_COLUMNS = {"chrPerturbationTarget", "startPerturbationTarget", "endPerturbationTarget",
                  "GeneSymbol", "startTSS", "Regulated"}
SCORE_COLUMNS = ("ABC.Score", "abc_score", "powerlaw.Score", "score")


def _truthy(series: pd.Series) -> np.ndarray:
    return series.astype(str).str.upper().isin(["TRUE", "1", "T", "YES"]).to_numpy().copy()


def _read_table(path, what: str) -> pd.DataFrame:
    try:
        with naming_bad_bytes(path):  # undecodable or truncated gzip bytes: file and line
            return pd.read_csv(path, sep="\t", comment="#", low_memory=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read {what}: {exc}", path=path) from exc


def _numeric(table: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(table[column], errors="coerce").to_numpy(np.float64)


def _standard_columns(table: pd.DataFrame, path, all_pairs: bool):
    """(pairs in the common shape, validity mask, the benchmark's own distance column or None)."""
    columns = set(table.columns)
    if ENCODE_COLUMNS <= columns:
        out = pd.DataFrame({"chrom": table["chrom"], "start": table["chromStart"], "end": table["chromEnd"],
                            "gene": table["measuredGeneSymbol"]})
        valid_column, distance_column = "ValidConnection", "distanceToTSS"
        if "name" in columns:  # "GENE|chr:start-end:*": the element's hg19 coordinates
            out["element_key"] = table["name"].astype(str).str.split("|").str[1].str.rsplit(":", n=1).str[0]
    elif NASSER_COLUMNS <= columns:
        out = pd.DataFrame({"chrom": table["chrPerturbationTarget"], "start": table["startPerturbationTarget"],
                            "end": table["endPerturbationTarget"], "gene": table["GeneSymbol"]})
        valid_column, distance_column = "IncludeInModel", "distance"
    else:
        raise InputError("not a CRISPR benchmark: expected ENCODE-rE2G columns (chrom, chromStart, "
                         "measuredGeneSymbol, Regulated, ...) or the Nasser 2021 compendium columns",
                         path=path, line=1)
    if "element_key" not in out.columns:
        out["element_key"] = (out["chrom"].astype(str) + ":" + out["start"].astype(str) + "-"
                              + out["end"].astype(str))
    out["tss"] = _numeric(table, "startTSS")
    out["label"] = _truthy(table["Regulated"]).astype(int)
    out["cell_type"] = (table["CellType"].astype(str).to_numpy() if "CellType" in columns
                        else UNSPECIFIED_CELL_TYPE)
    valid = (np.ones(len(table), bool) if all_pairs or valid_column not in columns
             else _truthy(table[valid_column]))
    reported = _numeric(table, distance_column) if distance_column in columns else None
    return out, valid, reported


def read_benchmark(path, cell_types=None, all_pairs: bool = False) -> pd.DataFrame:
    """Read a CRISPRi benchmark into ``chrom start end gene tss label distance element_key cell_type``.

    ENCODE-rE2G tables keep their ``ValidConnection`` pairs, the Nasser compendium its
    ``IncludeInModel`` pairs (``all_pairs`` keeps every pair). Positives are ``Regulated``
    pairs. ``element_key`` is the element's hg19 ``chrom:start-end`` (the ENCODE ``name``
    field carries it), to join the two formats. Original columns are kept.

    A pair without a TSS (``startTSS`` 0 or missing) takes its distance from the
    benchmark's own distance column (``distanceToTSS``; the compendium's ``distance``) and
    keeps ``tss`` missing; without that it is dropped. Both are logged with counts.

    Parameters
    ----------
    cell_types : sequence of str, optional
        Keep only these cell types (``CellType`` column); default every one present. A cell
        type that is not present is a ``UsageError`` listing those that are.

    Returns
    -------
    pandas.DataFrame
        One row per pair (N rows); ``tss`` is nullable Int64, ``distance`` float64.
    """
    table = _read_table(path, "benchmark")
    out, valid, reported = _standard_columns(table, path, all_pairs)
    present = sorted(pd.unique(out["cell_type"][valid]))
    wanted = list(dict.fromkeys(cell_types or ()))
    absent = [c for c in wanted if c not in present]
    if absent:
        raise UsageError(f"--cell-type {', '.join(absent)}: not in {path} (cell types with pairs to "
                         f"evaluate: {', '.join(present) or 'none'})")
    keep = valid & (out["cell_type"].isin(wanted).to_numpy() if wanted else True)
    tss = out["tss"].to_numpy()
    no_tss = ~(tss > 0)
    distance = np.abs((_numeric(out, "start") + _numeric(out, "end")) / 2 - np.where(no_tss, np.nan, tss))
    if reported is None:
        reported = np.full(len(out), np.nan)
    repaired = keep & no_tss & np.isfinite(reported)
    distance[repaired] = reported[repaired]
    dropped = keep & ~np.isfinite(distance)
    if repaired.any():
        log.warning("%s: %d pair(s) (%d positive) have no TSS (startTSS 0 or missing); their distance "
                    "is the benchmark's own", path, int(repaired.sum()), int(out["label"][repaired].sum()))
    if dropped.any():
        log.warning("%s: %d pair(s) (%d positive) have no TSS (startTSS 0 or missing) and no distance "
                    "of their own: dropped", path, int(dropped.sum()), int(out["label"][dropped].sum()))
    out["tss"] = pd.Series(np.round(np.where(no_tss, np.nan, tss)), index=out.index).astype("Int64")
    out["distance"] = distance
    keep &= ~dropped
    extra = table.drop(columns=[c for c in out.columns if c in table.columns])
    out = pd.concat([out, extra], axis=1)[keep].reset_index(drop=True)
    if not len(out):
        raise InputError(f"no benchmark pairs left after filtering (cell types: "
                         f"{', '.join(wanted) or 'all'})", path=path)
    counts = out.groupby("cell_type")["label"].agg(["size", "sum"])
    log.info("%s: %d pairs, %d positive (%s)", path, len(out), int(out["label"].sum()),
             ", ".join(f"{c} {int(r['size'])}/{int(r['sum'])}" for c, r in counts.iterrows()))
    return out


def _prediction_columns(pred: pd.DataFrame, path=None) -> tuple[str, str, str, str]:
    for cols in (("chr", "start", "end", "TargetGene"),
                 ("enhancer_chrom", "enhancer_start", "enhancer_end", "gene"),
                 ("chrom", "start", "end", "gene")):
        if set(cols) <= set(pred.columns):
            return cols
    raise InputError("prediction table needs chr/start/end/TargetGene or pairs-table columns with 'gene'",
                     path=path, line=1)


def match_predictions(bench: pd.DataFrame, pred: pd.DataFrame, score: str,
                      aggregate: str = "max", path=None) -> np.ndarray:
    """Score of each benchmark pair from overlapping predicted elements of the same gene.

    Returns float64 (n_bench,): the ``aggregate`` ("max" or "sum") over overlapping
    predictions with a score, NaN where none overlaps. Cell types are not matched: give a
    cell type's predictions with its ``cell_types``.
    """
    if aggregate not in ("max", "sum"):
        raise UsageError(f"--aggregate must be 'max' or 'sum', got {aggregate!r}")
    chrom, start, end, gene = _prediction_columns(pred, path)
    if score not in pred.columns:
        raise InputError(f"prediction table has no column '{score}'", path=path, line=1, field=score)
    p = pd.DataFrame({"p_chrom": pred[chrom].astype(str), "p_start": _numeric(pred, start),
                      "p_end": _numeric(pred, end), "gene": pred[gene].astype(str),
                      "p_score": _numeric(pred, score)})
    b = pd.DataFrame({"row": np.arange(len(bench)), "chrom": bench["chrom"].astype(str),
                      "start": _numeric(bench, "start"), "end": _numeric(bench, "end"),
                      "gene": bench["gene"].astype(str)})
    joined = b.merge(p, on="gene")
    hit = ((joined["chrom"] == joined["p_chrom"]) & (joined["start"] < joined["p_end"])
           & (joined["end"] > joined["p_start"]))
    grouped = joined[hit].groupby("row")["p_score"]
    agg = grouped.max() if aggregate == "max" else grouped.sum(min_count=1)
    out = np.full(len(bench), np.nan)
    out[agg.index.to_numpy()] = agg.to_numpy()
    return out


def published_scores(bench: pd.DataFrame, path, columns) -> dict[str, np.ndarray]:
    """Published predictor ``columns`` of the Nasser compendium at ``path``, by cell type, gene
    and hg19 element; NaN (n,) where the compendium has no such pair."""
    comp = read_benchmark(path, all_pairs=True)
    keys = ["cell_type", "gene", "element_key"]
    uncovered = sorted(set(bench["cell_type"]) - set(comp["cell_type"]))
    if uncovered:
        log.warning("%s has no pairs of cell type(s) %s: no published scores for them", path,
                    ", ".join(uncovered))
    lookup = comp.drop_duplicates(keys).set_index(keys)
    index = pd.MultiIndex.from_frame(bench[keys])
    out = {}
    for column in columns:
        if column not in comp.columns:
            raise InputError(f"no column '{column}'", path=path, line=1, field=column)
        out[f"published {column}"] = pd.to_numeric(lookup[column].reindex(index), errors="coerce").to_numpy()
    return out


def prediction_scores(bench: pd.DataFrame, path, score_column: str | None = None,
                      aggregate: str = "max") -> tuple[str, np.ndarray]:
    """(predictor name, scores (n,)) of a prediction table matched to the benchmark pairs."""
    pred = _read_table(path, "prediction table")
    column = score_column or next((c for c in SCORE_COLUMNS if c in pred.columns), None)
    if column is None:
        raise InputError(f"no score column ({', '.join(SCORE_COLUMNS)}); use --score-column",
                         path=path, line=1)
    return (f"{Path(path).name.split('.')[0]}:{column}",
            match_predictions(bench, pred, column, aggregate, path=path))


def element_activity_table(path) -> pd.DataFrame:
    """Per-element ``activity`` (√(DHS.RPM × H3K27ac.RPM)) from an annotated benchmark table.

    Reads the ENCODE-rE2G training format (``chrom chromStart chromEnd DHS.RPM H3K27ac.RPM``
    and, when present, ``CellType``); one row per distinct element (of a cell type).
    """
    table = _read_table(path, "activity table")
    need = {"chrom", "chromStart", "chromEnd", "DHS.RPM", "H3K27ac.RPM"}
    if not need <= set(table.columns):
        missing = sorted(need - set(table.columns))
        raise InputError(f"activity table lacks column(s) {', '.join(missing)}", path=path, line=1,
                         field=missing[0])
    el = table.rename(columns={"chromStart": "start", "chromEnd": "end", "CellType": "cell_type"})
    keys = ["chrom", "start", "end"] + (["cell_type"] if "cell_type" in el.columns else [])
    el = el[keys + ["DHS.RPM", "H3K27ac.RPM"]].drop_duplicates(keys)
    el["activity"] = np.sqrt(_numeric(el, "DHS.RPM").clip(0) * _numeric(el, "H3K27ac.RPM").clip(0))
    return el.reset_index(drop=True)


def benchmark_abc(bench: pd.DataFrame, activity: pd.DataFrame, gamma: float | None = None,
                  scale: float | None = None) -> np.ndarray:
    """ABC from element activities and the power-law contact, over the tested elements.

    The candidate set of each gene (in each cell type) is its tested elements that have an
    activity (a CRISPRi screen tiles the accessible elements around the gene), so the
    denominator is Σ activity × contact over them. Activities carrying a ``cell_type`` are
    matched within it. Returns float64 (n,), NaN without activity.
    """
    from epitools.contacts.powerlaw import DEFAULT_GAMMA, DEFAULT_SCALE, powerlaw_contact
    from epitools.prioritize.abc import abc_score

    for option, value in (("--gamma", gamma), ("--scale", scale)):
        if value is not None and not value > 0:
            raise UsageError(f"{option} must be positive, got {value:g}")
    keys = ["chrom", "start", "end"] + (["cell_type"] if "cell_type" in activity.columns else [])
    act = bench[keys].merge(activity[keys + ["activity"]], on=keys, how="left")["activity"]
    df = pd.DataFrame({"cell_type": bench["cell_type"].to_numpy(), "gene": bench["gene"].to_numpy(),
                       "distance": bench["distance"].to_numpy(np.float64), "activity": act.to_numpy()})
    df["contact_norm"] = powerlaw_contact(df["distance"], DEFAULT_GAMMA if gamma is None else gamma,
                                          DEFAULT_SCALE if scale is None else scale)
    have = df["activity"].notna().to_numpy()
    out = np.full(len(df), np.nan)
    scored = abc_score(df[have], gene=("cell_type", "gene"), self_promoters=False)
    out[have] = scored["abc_score"].to_numpy()
    return out
