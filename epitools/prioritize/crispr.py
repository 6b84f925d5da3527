"""Score enhancer–gene predictions against CRISPRi benchmarks.

Benchmarks in the ENCODE-rE2G format (``EPCrisprBenchmark_*``) and the Nasser 2021
compendium (which carries published predictor scores) are read into one shape; predicted
elements are matched to tested elements of the same gene by overlap; each predictor gets
AUPRC, precision at 70 % recall and AUPRC per distance bin.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from epitools.errors import InputError
from epitools.report.plots import save_figure
from epitools.training.metrics import auprc, precision_at_recall

log = logging.getLogger(__name__)

DISTANCE_BINS = ((0, 10_000, "0-10kb"), (10_000, 100_000, "10-100kb"), (100_000, np.inf, ">100kb"))


def _truthy(series: pd.Series) -> np.ndarray:
    return series.astype(str).str.upper().isin(["TRUE", "1", "T", "YES"]).to_numpy().copy()


def read_benchmark(path, cell_type: str | None = "K562", all_pairs: bool = False) -> pd.DataFrame:
    """Read a CRISPRi benchmark into ``chrom start end gene tss label distance element_key``.

    ENCODE-rE2G tables keep ``ValidConnection == TRUE`` pairs, the Nasser compendium its
    ``IncludeInModel`` pairs of ``cell_type`` (``all_pairs`` keeps everything). Positives
    are ``Regulated`` pairs (significant decrease). ``element_key`` is the element's hg19
    ``chrom:start-end`` (the ENCODE ``name`` field carries it), to join the two formats.
    Original columns are kept.
    """
    table = pd.read_csv(path, sep="\t", comment="#", low_memory=False)
    if {"chrom", "chromStart", "chromEnd", "measuredGeneSymbol", "startTSS", "Regulated"} <= set(table.columns):
        keep = np.ones(len(table), bool) if all_pairs else _truthy(table["ValidConnection"])
        if cell_type and "CellType" in table.columns and not all_pairs:
            keep = keep & (table["CellType"] == cell_type).to_numpy()
        table = table[keep]
        out = pd.DataFrame({"chrom": table["chrom"], "start": table["chromStart"], "end": table["chromEnd"],
                            "gene": table["measuredGeneSymbol"], "tss": table["startTSS"],
                            "label": _truthy(table["Regulated"]).astype(int)})
        out["element_key"] = table["name"].astype(str).str.split("|").str[1].str.rsplit(":", n=1).str[0]
    elif {"chrPerturbationTarget", "startPerturbationTarget", "GeneSymbol", "startTSS"} <= set(table.columns):
        keep = np.ones(len(table), bool)
        if not all_pairs:
            keep = keep & _truthy(table["IncludeInModel"])
            if cell_type:
                keep = keep & (table["CellType"] == cell_type).to_numpy()
        table = table[keep]
        out = pd.DataFrame({"chrom": table["chrPerturbationTarget"], "start": table["startPerturbationTarget"],
                            "end": table["endPerturbationTarget"], "gene": table["GeneSymbol"],
                            "tss": table["startTSS"], "label": _truthy(table["Regulated"]).astype(int)})
        out["element_key"] = (out["chrom"].astype(str) + ":" + out["start"].astype(str) + "-"
                              + out["end"].astype(str))
    else:
        raise InputError("not a CRISPR benchmark: expected ENCODE-rE2G columns (chrom, chromStart, "
                         "measuredGeneSymbol, Regulated, ...) or the Nasser 2021 compendium columns",
                         path=path, line=1)
    out["distance"] = np.abs((out["start"] + out["end"]) / 2 - out["tss"])
    extra = table.drop(columns=[c for c in out.columns if c in table.columns])
    out = pd.concat([out, extra], axis=1).reset_index(drop=True)
    if not len(out):
        raise InputError(f"no benchmark pairs left after filtering (cell type {cell_type!r})", path=path)
    log.info("%s: %d pairs, %d positive", path, len(out), int(out["label"].sum()))
    return out


def _prediction_columns(pred: pd.DataFrame) -> tuple[str, str, str, str]:
    for cols in (("chr", "start", "end", "TargetGene"),
                 ("enhancer_chrom", "enhancer_start", "enhancer_end", "gene"),
                 ("chrom", "start", "end", "gene")):
        if set(cols) <= set(pred.columns):
            return cols
    raise InputError("prediction table needs chr/start/end/TargetGene or pairs-table columns with 'gene'")


def match_predictions(bench: pd.DataFrame, pred: pd.DataFrame, score: str,
                      aggregate: str = "max") -> np.ndarray:
    """Score of each benchmark pair from overlapping predicted elements of the same gene.

    Returns float64 (n_bench,): the ``aggregate`` ("max" or "sum") over overlapping
    predictions, NaN where none overlaps.
    """
    chrom, start, end, gene = _prediction_columns(pred)
    if score not in pred.columns:
        raise InputError(f"prediction table has no column '{score}'", field=score)
    p = pd.DataFrame({"p_chrom": pred[chrom].astype(str), "p_start": pred[start], "p_end": pred[end],
                      "gene": pred[gene].astype(str), "p_score": pd.to_numeric(pred[score], errors="coerce")})
    b = pd.DataFrame({"row": np.arange(len(bench)), "chrom": bench["chrom"].astype(str),
                      "start": bench["start"], "end": bench["end"], "gene": bench["gene"].astype(str)})
    joined = b.merge(p, on="gene")
    hit = ((joined["chrom"] == joined["p_chrom"]) & (joined["start"] < joined["p_end"])
           & (joined["end"] > joined["p_start"]))
    agg = joined[hit].groupby("row")["p_score"].agg(aggregate)
    out = np.full(len(bench), np.nan)
    out[agg.index.to_numpy()] = agg.to_numpy()
    return out


def evaluate_predictors(labels, scores: dict[str, np.ndarray], distance,
                        recall: float = 0.7) -> pd.DataFrame:
    """AUPRC, precision at ``recall`` and AUPRC per distance bin for each predictor.

    ``scores`` maps predictor name to scores where higher means more likely regulatory.
    """
    labels = np.asarray(labels, dtype=np.float64)
    distance = np.asarray(distance, dtype=np.float64)
    rows = []
    for name, score in scores.items():
        score = np.asarray(score, dtype=np.float64)
        row = {"predictor": name, "n": int(labels.size), "positives": int(labels.sum()),
               "AUPRC": auprc(labels, score),
               f"precision_at_{int(recall * 100)}pct_recall": precision_at_recall(labels, score, recall)}
        for lo, hi, tag in DISTANCE_BINS:
            sel = (distance >= lo) & (distance < hi)
            row[f"AUPRC_{tag}"] = auprc(labels[sel], score[sel]) if sel.any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def plot_pr_curves(labels, scores: dict[str, np.ndarray], path) -> None:
    """Precision–recall curve of every predictor in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    fig, ax = plt.subplots(figsize=(5.5, 5))
    labels = np.asarray(labels)
    for name, score in scores.items():
        precision, rec, _ = precision_recall_curve(labels, np.asarray(score, dtype=np.float64))
        ax.plot(rec, precision, label=f"{name} (AUPRC {auprc(labels, score):.3f})")
    ax.axhline(labels.mean(), color="grey", ls=":", lw=1, label=f"baseline {labels.mean():.3f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="CRISPRi benchmark")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def element_activity_table(path) -> pd.DataFrame:
    """Per-element ``activity`` (√(DHS.RPM × H3K27ac.RPM)) from an annotated benchmark table.

    Reads the ENCODE-rE2G training format (``chrom chromStart chromEnd DHS.RPM H3K27ac.RPM``);
    one row per distinct element.
    """
    table = pd.read_csv(path, sep="\t", low_memory=False)
    need = {"chrom", "chromStart", "chromEnd", "DHS.RPM", "H3K27ac.RPM"}
    if not need <= set(table.columns):
        missing = sorted(need - set(table.columns))
        raise InputError(f"activity table lacks column(s) {', '.join(missing)}", path=path, line=1,
                         field=missing[0])
    el = table[["chrom", "chromStart", "chromEnd", "DHS.RPM", "H3K27ac.RPM"]].drop_duplicates(
        ["chrom", "chromStart", "chromEnd"])
    el = el.rename(columns={"chromStart": "start", "chromEnd": "end"})
    el["activity"] = np.sqrt(el["DHS.RPM"].clip(lower=0) * el["H3K27ac.RPM"].clip(lower=0))
    return el.reset_index(drop=True)


def benchmark_abc(bench: pd.DataFrame, activity: pd.DataFrame, gamma: float | None = None,
                  scale: float | None = None) -> np.ndarray:
    """ABC from element activities and the power-law contact, over the tested elements.

    The candidate set of each gene is its tested elements that have an activity (a CRISPRi
    screen tiles the accessible elements around the gene), so the denominator is
    Σ activity × contact over them. Returns float64 (n,), NaN without activity.
    """
    from epitools.contacts.powerlaw import DEFAULT_GAMMA, DEFAULT_SCALE, powerlaw_contact
    from epitools.prioritize.abc import abc_score

    act = bench[["chrom", "start", "end"]].merge(activity[["chrom", "start", "end", "activity"]],
                                                 on=["chrom", "start", "end"], how="left")["activity"]
    df = pd.DataFrame({"gene": bench["gene"].to_numpy(), "tss": bench["tss"].to_numpy(),
                       "distance": bench["distance"].to_numpy(), "activity": act.to_numpy()})
    df["contact_norm"] = powerlaw_contact(df["distance"], DEFAULT_GAMMA if gamma is None else gamma,
                                          DEFAULT_SCALE if scale is None else scale)
    have = df["activity"].notna().to_numpy()
    out = np.full(len(df), np.nan)
    scored = abc_score(df[have], self_promoters=False)
    out[have] = scored["abc_score"].to_numpy()
    return out
