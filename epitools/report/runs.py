"""Training runs (``metrics.json`` of ``epi-train``) as one table, and their summary.

One row per run: model, cell label, split, fold, task, test metrics, ``n`` and
``positives`` (pairs), and the warning of :func:`epitools.training.quality.model_warning`
when the run is near chance on held-out rows (the one the commands print).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from epitools.errors import InputError
from epitools.training.quality import model_warning

METRICS = ("auroc", "auprc", "f1", "auroc_1:1", "auprc_1:1", "auroc_1:10", "auprc_1:10",
           "pearson_r", "spearman_r", "mse")
KEYS = ("model", "cell", "split")


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
    if not isinstance(m, dict):
        raise InputError("not an epi-train metrics.json (not an object)", path=path)
    for key in ("model", "split", "fold"):
        if key not in m:
            raise InputError("not an epi-train metrics.json", path=path, field=key)
    row = {"model": m["model"], "cell": _cell_label(m), "split": m["split"], "fold": m["fold"],
           "task": m.get("task", "pairs"), "n": m.get("n"), "positives": m.get("positives"),
           "epochs": m.get("epochs"), "best_epoch": m.get("best_epoch"), "run": str(path.parent)}
    for key in ("auroc", "auprc", "f1", "pearson_r", "spearman_r", "mse"):
        row[key] = m.get(key)
    for ratio in ("1:1", "1:10"):
        sub = (m.get("test") or {}).get(ratio) or {}
        row[f"auroc_{ratio}"] = sub.get("auroc")
        row[f"auprc_{ratio}"] = sub.get("auprc")
    # metrics.json is the checkpoint's ``metrics``: the same verdict as the commands'.
    row["warning"] = model_warning({"model": m["model"], "metrics": m}, name=path.parent.name)
    row["near_chance"] = row["warning"] is not None
    return row


def runs_table(files) -> pd.DataFrame:
    """Table of runs, one row per ``metrics.json`` in ``files`` (empty frame for none)."""
    runs = pd.DataFrame([load_run(f) for f in files])
    if runs.empty:
        return pd.DataFrame(columns=["model", "cell", "split", "fold", "task", "n", "positives",
                                     "epochs", "best_epoch", "run", *METRICS, "warning", "near_chance"])
    for col in METRICS:
        runs[col] = pd.to_numeric(runs.get(col), errors="coerce")
    # Integers stay integers (a gene run has no positives: pandas' NA, not a float NaN).
    for col in ("n", "positives", "epochs", "best_epoch"):
        runs[col] = pd.to_numeric(runs[col], errors="coerce").astype("Int64")
    return runs


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, s.d. and number of runs of each metric per model, cell and split."""
    metrics = [c for c in METRICS if c in runs and runs[c].notna().any()]
    if runs.empty:
        return pd.DataFrame(columns=[*KEYS, "runs"])
    grouped = runs.groupby(list(KEYS), sort=True)
    out = grouped.size().rename("runs").to_frame()
    for col in metrics:
        out[f"{col}_mean"] = grouped[col].mean()
        out[f"{col}_sd"] = grouped[col].std(ddof=1)
    return out.reset_index()


def mean_sd(mean, sd) -> str:
    """``mean ± sd`` with 3 decimals (``mean`` alone for one run; a dash when missing)."""
    if pd.isna(mean):
        return "–"
    return f"{mean:.3f}" if pd.isna(sd) else f"{mean:.3f} ± {sd:.3f}"


def summary_view(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as display strings: one ``mean ± sd`` column per metric."""
    metrics = [c[:-5] for c in summary.columns if c.endswith("_mean")]
    view = summary[[*KEYS, "runs"]].copy()
    for m in metrics:
        view[m] = [mean_sd(a, b) for a, b in zip(summary[f"{m}_mean"], summary[f"{m}_sd"])]
    return view
