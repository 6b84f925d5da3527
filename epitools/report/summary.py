"""The demo's closing summary: does each trained model beat the baselines on its held-out rows?

:func:`summarize` reads a results folder as ``make demo`` writes it (any layout works: outputs
are found as ``epi-report`` finds them, :func:`epitools.report.discover.discover`) and compares,
on exactly the rows each run held out:

* pair models (``metrics.json`` task ``pairs``): the model's AUROC / AUPRC on its test rows
  (``predictions.tsv``) next to the ABC score (``abc_score`` of an ``abc.tsv``, joined by
  ``pair_id``) and distance (nearest first) of the same pairs;
* expression models (task ``genes``, EPInformer): Pearson R of predicted and observed log
  expression of the test genes next to two baselines of the same genes computed from the
  candidates in ``scores.tsv``: ABC's total enhancer input, log Σ activity × contact, and
  distance alone, log Σ 1 / distance;
* encoder pre-training (task ``activity``, ``epinformer_encoder``): Pearson R of predicted and
  observed activity of the held-out windows;
* prioritisation (``scores.tsv`` of ``epi-prioritize epinformer``): the AUPRC of every score
  (attention, attention-ABC, ABC, knockout, distance) for the planted drivers of the
  simulation's ``truth.json``, over the candidates of the EPInformer runs' test genes (all
  genes when no run is found).

Each run's checkpoint is checked by :func:`epitools.training.quality.model_warning`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from epitools.errors import InputError
from epitools.io.atomic import write_text
from epitools.report.discover import discover
from epitools.report.sections_prioritise import GENE_SCORES, planted_drivers
from epitools.training.metrics import auprc, auroc, pearson_r
from epitools.training.quality import checkpoint_warning

log = logging.getLogger(__name__)

SECTIONS = ("pairs", "genes", "activity", "drivers")
COLUMNS = ["section", "run", "score", "auroc", "auprc", "pearson_r", "n", "positives", "warning"]


def _read_tsv(path: Path, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="\t", **kwargs)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the table: {exc}", path=path) from exc


def _runs(paths) -> list[tuple[Path, dict]]:
    """(run directory, metrics.json) of every finished training run among ``paths``."""
    runs = []
    for path in paths:
        try:
            metrics = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read run metrics: {exc}", path=path) from exc
        if isinstance(metrics, dict) and metrics.get("task") in ("pairs", "genes", "activity") \
                and (path.parent / "predictions.tsv").is_file():
            runs.append((path.parent, metrics))
    return runs


def _classification(y: np.ndarray, score: np.ndarray) -> dict:
    keep = np.isfinite(score)
    return {"auroc": auroc(y[keep], score[keep]), "auprc": auprc(y[keep], score[keep]),
            "n": int(keep.sum()), "positives": int(y[keep].sum())}


def pair_rows(run: Path, metrics: dict, abc: pd.DataFrame | None) -> list[dict]:
    """The model, ABC and distance on the test pairs of one pair run (``predictions.tsv``)."""
    pred = _read_tsv(run / "predictions.tsv")
    y = pd.to_numeric(pred["label"], errors="coerce").to_numpy() == 1
    rows = [{"score": metrics["model"], **_classification(y, pred["score"].to_numpy(np.float64))}]
    if abc is not None and "pair_id" in pred:
        joined = pred[["pair_id"]].merge(abc, on="pair_id", how="left")
        rows.append({"score": "abc", **_classification(y, joined["abc_score"].to_numpy(np.float64))})
        if "distance" not in pred:
            pred = pred.assign(distance=joined["distance"].to_numpy())
    if "distance" in pred:
        rows.append({"score": "distance",
                     **_classification(y, -pd.to_numeric(pred["distance"], errors="coerce").to_numpy(np.float64))})
    return rows


def gene_baselines(scores: pd.DataFrame) -> pd.DataFrame:
    """Per gene of an ``epi-prioritize epinformer`` table: the ABC input and the distance-only
    predictor of expression, ``gene abc distance`` (logs of Σ activity × contact and Σ 1 / distance
    over the gene's candidates)."""
    t = scores.assign(abc_input=scores["activity"] * scores["contact"],
                      proximity=1.0 / np.maximum(scores["distance"].astype(float), 1.0))
    per_gene = t.groupby("gene", sort=False)[["abc_input", "proximity"]].sum()
    return pd.DataFrame({"gene": per_gene.index, "abc": np.log(per_gene["abc_input"].to_numpy() + 1e-12),
                         "distance": np.log(per_gene["proximity"].to_numpy())})


def gene_rows(run: Path, metrics: dict, scores: pd.DataFrame | None) -> list[dict]:
    """Pearson R of the model and of :func:`gene_baselines` on the test genes of one run."""
    pred = _read_tsv(run / "predictions.tsv")
    target = next((c for c in ("expression", "activity", "label", "target") if c in pred), None)
    if target is None:
        raise InputError(f"predictions.tsv of a {metrics.get('task')} run has no expression or activity column",
                         path=run / "predictions.tsv")
    observed = pred[target].to_numpy(np.float64)
    rows = [{"score": metrics["model"], "pearson_r": pearson_r(observed, pred["score"].to_numpy(np.float64)),
             "n": int(len(pred))}]
    if scores is not None and "gene" in pred:
        joined = pred[["gene"]].merge(gene_baselines(scores), on="gene", how="left")
        for name in ("abc", "distance"):
            value = joined[name].to_numpy(np.float64)
            keep = np.isfinite(value)
            rows.append({"score": name, "pearson_r": pearson_r(observed[keep], value[keep]), "n": int(keep.sum())})
    return rows


def driver_rows(scores: pd.DataFrame, drivers: set, genes: set | None) -> tuple[list[dict], str]:
    """AUPRC (and AUROC) of each prioritisation score for the planted ``drivers`` among the
    candidates of ``genes`` (all genes when None), and a description of the rows used."""
    t = scores if genes is None else scores[scores["gene"].isin(genes)]
    y = np.fromiter(((g, e) in drivers for g, e in zip(t["gene"], t["enhancer_name"])), bool, len(t))
    rows = [{"score": name, **_classification(y, sign * t[name].to_numpy(np.float64))}
            for name, sign in GENE_SCORES.items() if name in t]
    which = "all genes" if genes is None else "held-out genes"
    return rows, f"{which}: {t['gene'].nunique()} genes, {len(t)} candidates, {int(y.sum())} planted drivers"


def summarize(results) -> pd.DataFrame:
    """One row per (section, run, score) of a results folder: ``section`` is ``pairs``,
    ``genes``, ``activity`` or ``drivers``; columns :data:`COLUMNS` (metrics NaN where not defined)."""
    root = Path(results)
    if not root.is_dir():
        raise InputError("not a results folder", path=root)
    found = discover([root])
    abc_path = found.abc_tables[0] if found.abc_tables else None
    scores_path = found.gene_scores[0] if found.gene_scores else None
    abc = _read_tsv(abc_path, usecols=lambda c: c in {"pair_id", "abc_score", "distance"}) if abc_path else None
    scores = _read_tsv(scores_path) if scores_path else None
    rows, held_out_genes = [], set()
    for run, metrics in _runs(found.runs):
        name = str(run.relative_to(root))
        warning = checkpoint_warning(run / "model.pt") if (run / "model.pt").is_file() else \
            f"{name}: no model.pt"
        if metrics["task"] == "pairs":
            run_rows = pair_rows(run, metrics, abc)
        elif metrics["task"] == "activity":
            # the target is the windows' own measured activity: no candidate baseline applies
            run_rows = gene_rows(run, metrics, None)
        else:
            run_rows = gene_rows(run, metrics, scores)
            predicted = _read_tsv(run / "predictions.tsv", usecols=lambda c: c == "gene")
            held_out_genes.update(predicted.get("gene", pd.Series(dtype=str)).astype(str))
        for i, row in enumerate(run_rows):
            rows.append({"section": metrics["task"], "run": name, **row,
                         "warning": warning if i == 0 else None})
    if scores is not None and found.truths:
        drivers, _ = planted_drivers(found.truths)
        driver_table, described = driver_rows(scores, drivers, held_out_genes or None)
        source = f"{scores_path.relative_to(root)} ({described})"
        rows.extend({"section": "drivers", "run": source, **row} for row in driver_table)
    table = pd.DataFrame(rows, columns=COLUMNS)
    order = table["section"].map({name: i for i, name in enumerate(SECTIONS)})
    return table.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def _fmt(value, digits: int = 3) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


def format_summary(table: pd.DataFrame) -> str:
    """The summary as plain text, one block per section (what ``epi-report summary`` prints)."""
    lines = []
    titles = {"pairs": "Pair models: held-out test pairs (ABC and distance on the same pairs)",
              "genes": "Expression models: held-out test genes, Pearson R of log expression "
                       "(baselines: ABC log Σ activity×contact, distance log Σ 1/distance)",
              "activity": "Encoder pre-training: held-out windows, Pearson R of predicted and observed activity",
              "drivers": "Planted drivers (truth.json): AUPRC of each prioritisation score"}
    for section, part in table.groupby("section", sort=False):
        lines.append(titles.get(section, section))
        for run, block in part.groupby("run", sort=False):
            lines.append(f"  {run}")
            for row in block.itertuples():
                if section in ("genes", "activity"):
                    figures = f"R {_fmt(row.pearson_r):>6}"
                else:
                    figures = f"AUROC {_fmt(row.auroc):>5}  AUPRC {_fmt(row.auprc):>5}"
                counts = f"n {row.n}" + (f", {row.positives} positive" if section not in ("genes", "activity") else "")
                lines.append(f"    {row.score:<14} {figures}   ({counts})")
        lines.append("")
    warnings = [w for w in table["warning"].dropna()]
    lines.append("Warnings: " + ("none" if not warnings else ""))
    lines.extend(f"  WARNING: {w}" for w in warnings)
    return "\n".join(lines)


def write_summary(results, out_dir=None) -> tuple[pd.DataFrame, str]:
    """:func:`summarize` ``results`` and write ``summary.tsv`` and ``summary.json`` into
    ``out_dir`` (default: ``results``); returns the table and its text."""
    table = summarize(results)
    if table.empty:
        raise InputError("no training runs (metrics.json with predictions.tsv) or prioritisation "
                         "scores found", path=results)
    out = Path(out_dir or results)
    text = format_summary(table)
    write_text(out / "summary.tsv", table.to_csv(sep="\t", index=False, float_format="%.6g"))
    records = json.loads(table.to_json(orient="records"))
    write_text(out / "summary.json", json.dumps({"rows": records, "text": text}, indent=2) + "\n")
    return table, text
