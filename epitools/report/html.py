"""One self-contained HTML page summarising many training runs.

Runs are found by their ``metrics.json`` (written by ``epi-train``); the page has a table of
mean ± s.d. over folds per model, cell type and split, a table of every run, and ROC / PR
figures (one curve per model, pooled over folds from each run's ``predictions.tsv``) embedded
as base64 PNGs so the page is a single file.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
from pathlib import Path

import pandas as pd

from epitools import __version__
from epitools.errors import InputError
from epitools.io.atomic import write_text

log = logging.getLogger(__name__)

METRICS = ("auroc", "auprc", "f1", "auroc_1:1", "auprc_1:1", "auroc_1:10", "auprc_1:10",
           "pearson_r", "spearman_r", "mse")
KEYS = ("model", "cell", "split")


def find_metrics(paths) -> list[Path]:
    """``metrics.json`` files given directly or found under directories, sorted."""
    found = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            # Nextflow stages run directories as symlinks: follow them.
            found.extend(Path(root) / "metrics.json" for root, _, files in os.walk(p, followlinks=True)
                         if "metrics.json" in files)
        else:
            raise InputError("no such file or directory", path=p)
    return sorted(set(found))


def _cell_label(m: dict) -> str:
    cells = m.get("test_cells") or m.get("cell_types") or []
    label = ",".join(map(str, cells)) if cells else "-"
    if m.get("train_cells"):
        label = f"{','.join(m['train_cells'])}→{label}"
    return label


def load_run(path) -> dict:
    """One row of the run table from a ``metrics.json``."""
    path = Path(path)
    try:
        m = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read metrics: {exc}", path=path) from exc
    for key in ("model", "split", "fold"):
        if key not in m:
            raise InputError("not an epi-train metrics.json", path=path, field=key)
    row = {"model": m["model"], "cell": _cell_label(m), "split": m["split"], "fold": m["fold"],
           "task": m.get("task", "pairs"), "n": m.get("n"), "positives": m.get("positives"),
           "epochs": m.get("epochs"), "run": str(path.parent)}
    for key in ("auroc", "auprc", "f1", "pearson_r", "spearman_r", "mse"):
        row[key] = m.get(key)
    for ratio in ("1:1", "1:10"):
        sub = m.get("test", {}).get(ratio, {})
        row[f"auroc_{ratio}"] = sub.get("auroc")
        row[f"auprc_{ratio}"] = sub.get("auprc")
    return row


def collect_runs(paths) -> pd.DataFrame:
    """Table of runs, one row per ``metrics.json`` under ``paths``."""
    files = find_metrics(paths)
    if not files:
        raise InputError(f"no metrics.json found under {', '.join(map(str, paths))}")
    runs = pd.DataFrame([load_run(f) for f in files])
    for col in METRICS:
        runs[col] = pd.to_numeric(runs.get(col), errors="coerce")
    return runs


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, s.d. and number of runs of each metric per model, cell and split."""
    metrics = [c for c in METRICS if c in runs and runs[c].notna().any()]
    grouped = runs.groupby(list(KEYS), sort=True)
    out = grouped.size().rename("runs").to_frame()
    for col in metrics:
        out[f"{col}_mean"] = grouped[col].mean()
        out[f"{col}_sd"] = grouped[col].std(ddof=1)
    return out.reset_index()


def _fmt(mean, sd) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.3f}" if pd.isna(sd) else f"{mean:.3f} ± {sd:.3f}"


def _summary_html(summary: pd.DataFrame) -> str:
    metrics = [c[:-5] for c in summary.columns if c.endswith("_mean")]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in (*KEYS, "runs", *metrics))
    rows = []
    for _, r in summary.iterrows():
        cells = [html.escape(str(r[k])) for k in KEYS] + [str(int(r["runs"]))]
        cells += [_fmt(r[f"{m}_mean"], r[f"{m}_sd"]) for m in metrics]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _runs_html(runs: pd.DataFrame) -> str:
    cols = [c for c in ("model", "cell", "split", "fold", "n", "positives", "epochs", *METRICS, "run")
            if c in runs and (c not in METRICS or runs[c].notna().any())]
    view = runs[cols].copy()
    for c in cols:
        if c in METRICS:
            view[c] = view[c].map(lambda v: "–" if pd.isna(v) else f"{v:.3f}")
    return view.to_html(index=False, escape=True, border=0)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _figures(runs: pd.DataFrame) -> list[str]:
    """ROC and PR figures per (cell, split), one curve per model pooled over folds."""
    from epitools.report.plots import png_bytes, pr_figure, roc_figure

    blocks = []
    pairs = runs[runs["task"] == "pairs"]
    for (cell, split), group in pairs.groupby(["cell", "split"], sort=True):
        curves = {}
        fallback = []
        for model, model_runs in group.groupby("model", sort=True):
            frames = []
            for run in model_runs["run"]:
                pred = Path(run) / "predictions.tsv"
                if pred.is_file():
                    t = pd.read_csv(pred, sep="\t", usecols=lambda c: c in ("label", "score"))
                    frames.append(t[t["label"] >= 0])
                else:
                    fallback.extend(Path(run) / name for name in ("roc.png", "pr.png"))
            if frames:
                t = pd.concat(frames)
                curves[model] = (t["label"].to_numpy(), t["score"].to_numpy())
        title = f"cell {cell}, split {split}"
        imgs = []
        if curves:
            imgs += [_img(png_bytes(roc_figure(curves)), f"ROC {title}"),
                     _img(png_bytes(pr_figure(curves)), f"PR {title}")]
        imgs += [_img(p.read_bytes(), f"{p.parent.name} {p.stem}") for p in fallback if p.is_file()]
        if imgs:
            blocks.append(f"<h3>{html.escape(title)}</h3><div class='figs'>{''.join(imgs)}</div>")
    return blocks


STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;font-size:13px;margin-bottom:1.5em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}.figs img{width:380px;margin-right:10px}"""


def render_report(runs: pd.DataFrame, title: str = "epitools report", figures: bool = True) -> str:
    """The HTML page (a string) for a run table from :func:`collect_runs`."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>{len(runs)} runs; mean ± s.d. over folds. Generated by epitools {__version__}.</p>",
             "<h2>Summary</h2>", _summary_html(summarise(runs))]
    if figures:
        blocks = _figures(runs)
        if blocks:
            parts += ["<h2>ROC and precision–recall curves (test folds pooled)</h2>", *blocks]
    parts += ["<h2>Runs</h2>", _runs_html(runs), "</body></html>"]
    return "\n".join(parts)


def write_report(paths, out, title: str = "epitools report", figures: bool = True) -> pd.DataFrame:
    """Collect runs under ``paths`` and write the page to ``out``; returns the summary table."""
    runs = collect_runs(paths)
    write_text(out, render_report(runs, title, figures))
    log.info("report of %d runs -> %s", len(runs), out)
    return summarise(runs)
