"""Report section ``prioritisation``: ABC tables, EPInformer enhancer scores and CRISPRi
benchmark evaluations, scored against a simulation's planted drivers when its
``truth.json`` is among the report's inputs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from epitools.errors import InputError
from epitools.report import page

log = logging.getLogger(__name__)

# scores.tsv column -> sign that makes larger mean more important (a knockout's drop is
# negative; the nearest enhancer first for distance).
GENE_SCORES = {"attention_abc": 1, "abc": 1, "attention": 1, "knockout": -1, "distance": -1}
_LOCUS_PANELS = {"activity": "activity", "contact": "contact", "abc": "ABC", "attention": "attention",
                 "attention_abc": "attention-ABC", "knockout": "knockout\nΔ log expr."}
_ORDER_NOTE = {"knockout": " (largest drop first)", "distance": " (nearest first)"}
N_LOCUS_PLOTS = 3


def planted_drivers(truths) -> tuple[set, Path | None]:
    """(gene, enhancer id) of every planted driver in the first ``truth.json`` of ``truths``."""
    for path in truths:
        try:
            truth = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read the simulation truth: {exc}", path=path) from exc
        if not isinstance(truth, dict) or not isinstance(truth.get("genes"), dict):
            log.warning("%s: no 'genes' in the simulation truth; not used", path)
            continue
        if len(truths) > 1:
            log.warning("%d truth.json files found; planted drivers are read from %s", len(truths), path)
        drivers = {(gene, d["enhancer_id"]) for gene, info in truth["genes"].items()
                   for d in info.get("drivers", [])}
        return drivers, Path(path)
    return set(), None


def _labels(table: pd.DataFrame, drivers: set, enhancer_column: str | None):
    """(labels, what they are) of a table's rows: planted drivers, else its own label column."""
    if drivers and enhancer_column and "gene" in table:
        y = np.fromiter(((g, e) in drivers for g, e in zip(table["gene"], table[enhancer_column])),
                        bool, len(table))
        if y.any() and not y.all():
            return y, "planted drivers (truth.json)"
    if "label" in table:
        y = pd.to_numeric(table["label"], errors="coerce").to_numpy() == 1
        if y.any() and not y.all():
            return y, "the table's label column"
    return None, ""


def _auprc_table(curves: dict) -> pd.DataFrame:
    from sklearn.metrics import average_precision_score, roc_auc_score

    rows = [{"score": name, "AUPRC": average_precision_score(y, s), "AUROC": roc_auc_score(y, s),
             "positives": int(y.sum()), "n": int(y.size)} for name, (y, s) in curves.items()]
    return pd.DataFrame(rows).sort_values("AUPRC", ascending=False, kind="stable")


def _abc_block(path: Path, drivers: set, roots, figures: bool, block_id: str) -> str:
    from epitools.report.plots import pr_figure
    from epitools.report.plots_genome import distribution_figure

    wanted = {"gene", "enhancer_id", "enhancer_name", "abc_score", "distance", "label"}
    t = pd.read_csv(path, sep="\t", usecols=lambda c: c in wanted)
    enhancer = next((c for c in ("enhancer_id", "enhancer_name") if c in t), None)
    y, source = _labels(t, drivers, enhancer)
    name = page.relative_name(path, roots)
    score = pd.to_numeric(t["abc_score"], errors="coerce").to_numpy(np.float64)
    body = [page.note(f"{len(t)} element–gene pairs" + (f"; positives: {source}" if source else
                                                       "; no labels to evaluate against"))]
    images = []
    if y is not None:
        curves = {"ABC": (y, np.nan_to_num(score, nan=-np.inf))}
        if "distance" in t:
            curves["distance (nearest first)"] = (y, -t["distance"].to_numpy(np.float64))
        body.append(page.table(_auprc_table(curves), text_columns=("score",)))
        if figures:
            images.append(page.figure(pr_figure(curves, f"ABC vs {source}"), "pr-truth", f"PR {name}"))
    if figures:
        images.append(page.figure(distribution_figure({"abc_score": score}, y, log_scale=("abc_score",),
                                                      positive_label="positive"),
                                  "score-distribution", f"ABC distribution {name}"))
    return page.block(block_id, f"ABC: {name}", "".join(body) + page.figs(images))


def _locus_images(path: Path, t: pd.DataFrame, y, figures: bool) -> list[str]:
    """Locus plots of the genes with most positives: drawn with them marked when the truth
    is known, else those ``epi-prioritize epinformer --plot`` drew, else drawn."""
    found = sorted(path.parent.glob("locus_*.png"))[:N_LOCUS_PLOTS]
    if found and (y is None or not figures):
        return [page.img_file(p, "locus", p.stem, wide=True) for p in found]
    if not figures or "tss" not in t:
        return []
    from epitools.report.plots_genome import locus_figure

    rank = pd.Series(y if y is not None else np.zeros(len(t), bool)).groupby(t["gene"].to_numpy()).sum()
    genes = rank.sort_values(ascending=False, kind="stable").index[:N_LOCUS_PLOTS]
    images = []
    for gene in genes:
        rows = t[t["gene"].to_numpy() == gene]
        panels = {label: rows[col] for col, label in _LOCUS_PANELS.items() if col in rows}
        mark = None if y is None else y[t["gene"].to_numpy() == gene]
        fig = locus_figure(rows, panels, mark, f"{gene} ({rows['chrom'].iloc[0]}:{int(rows['tss'].iloc[0]):,})"
                           if "chrom" in rows else gene)
        images.append(page.figure(fig, "locus", f"locus {gene}", wide=True))
    return images


def _gene_scores_block(path: Path, drivers: set, roots, figures: bool, block_id: str) -> str:
    from epitools.report.plots import pr_figure
    from epitools.report.plots_genome import distribution_figure

    t = pd.read_csv(path, sep="\t")
    y, source = _labels(t, drivers, "enhancer_name")
    present = [c for c in GENE_SCORES if c in t]
    name = page.relative_name(path, roots)
    body = [page.note(f"{t['gene'].nunique()} genes, {len(t)} candidate enhancers"
                      + (f"; positives: {source}" if source else "; no planted truth found"))]
    images = []
    if y is not None:
        curves = {f"{c}{_ORDER_NOTE.get(c, '')}": (y, GENE_SCORES[c] * t[c].to_numpy(np.float64))
                  for c in present}
        body.append(page.table(_auprc_table(curves), text_columns=("score",)))
        if figures:
            images.append(page.figure(pr_figure(curves, f"enhancer scores vs {source}"), "pr-truth",
                                      f"PR {name}"))
    if figures:
        shown = {c: t[c].to_numpy(np.float64) for c in ("attention", "attention_abc", "abc", "knockout")
                 if c in t}
        images.append(page.figure(distribution_figure(shown, y, log_scale=("abc", "attention_abc")),
                                  "score-distribution", f"score distributions {name}", wide=True))
    images += _locus_images(path, t, y, figures)
    return page.block(block_id, f"EPInformer enhancer scores: {name}",
                      "".join(body) + page.figs(images))


def _evaluation_block(path: Path, roots, figures: bool, block_id: str) -> str:
    t = pd.read_csv(path, sep="\t")
    name = page.relative_name(path, roots)
    images = [page.img_file(p, "pr-crispr", p.stem) for p in sorted(path.parent.glob("pr_curves*.png"))]
    if figures and not any(images):
        images = [_draw_crispr_curves(path.parent / "matched.tsv", list(t["predictor"]))]
    return page.block(block_id, f"CRISPRi benchmark: {name}",
                      page.table(t, text_columns=("cell_type", "predictor")) + page.figs(images))


def _draw_crispr_curves(matched: Path, predictors) -> str:
    from epitools.report.plots import pr_figure

    if not matched.is_file():
        return ""
    m = pd.read_csv(matched, sep="\t")
    if "evaluated" in m:
        m = m[m["evaluated"].astype(str).str.lower().isin(["true", "1"])]
    y = m["label"].to_numpy() == 1
    curves = {}
    for p in predictors:
        if p in m:
            s = pd.to_numeric(m[p], errors="coerce").to_numpy(np.float64)
            ok = np.isfinite(s)
            curves[p] = (y[ok], s[ok])
    if not curves:
        return ""
    return page.figure(pr_figure(curves, "CRISPRi benchmark (pooled)"), "pr-crispr", "CRISPRi PR")


def prioritisation_section(outputs, roots, figures: bool = True) -> str:
    """ABC, EPInformer-score and CRISPRi blocks (the section is empty without any of them)."""
    if not (outputs.abc_tables or outputs.gene_scores or outputs.evaluations):
        return ""
    drivers, truth = planted_drivers(outputs.truths)
    body = [page.note(f"Planted drivers: {len(drivers)} (gene, enhancer) pairs from "
                      f"{page.relative_name(truth, roots)}.") if truth else ""]
    ids = page.block_ids
    body += [_abc_block(p, drivers, roots, figures, i)
             for p, i in zip(outputs.abc_tables, ids("prioritisation-abc"))]
    body += [_gene_scores_block(p, drivers, roots, figures, i)
             for p, i in zip(outputs.gene_scores, ids("prioritisation-epinformer"))]
    body += [_evaluation_block(p, roots, figures, i)
             for p, i in zip(outputs.evaluations, ids("prioritisation-crispr"))]
    return page.section("prioritisation", "Enhancer prioritisation: ABC, EPInformer scores, CRISPRi",
                        "".join(body))
