"""Report sections of trained models: pair models (``pair-models``) and EPInformer
gene-expression models (``gene-models``), the latter with the pre-training runs of EPInformer's
sequence encoder on enhancer activity (task ``activity``, block ``encoder-pretraining``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from epitools.report import page
from epitools.report.runs import summarise, summary_view
from epitools.training.quality import MIN_PEARSON_R

_PAIR_METRICS = ("auroc", "auprc", "f1", "auroc_1:1", "auprc_1:1", "auroc_1:10", "auprc_1:10")
_GENE_METRICS = ("pearson_r", "spearman_r", "mse")


def _read(path: Path, columns) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    frame = pd.read_csv(path, sep="\t", usecols=lambda c: c in columns)
    return frame if set(columns) <= set(frame.columns) else None


def _histories(runs: pd.DataFrame) -> dict:
    """``fold N`` -> ``history.tsv`` of each run that has one (epoch, train_loss, val_*)."""
    out = {}
    for fold, run in zip(runs["fold"], runs["run"]):
        path = Path(run) / "history.tsv"
        if path.is_file():
            h = pd.read_csv(path, sep="\t")
            if {"epoch", "train_loss"} <= set(h.columns) and len(h):
                out[f"fold {fold}"] = h
    return out


def _group_title(cell: str, split: str) -> str:
    return f"split {split}" if cell == "-" else f"cell {cell}, split {split}"


def _runs_view(runs: pd.DataFrame, metrics, roots) -> pd.DataFrame:
    view = runs[["model", "cell", "split", "fold"]].copy()
    if "positives" in metrics:
        view["positives / n"] = [f"{p}/{n}" if pd.notna(p) and pd.notna(n) else page.MISSING
                                 for p, n in zip(runs["positives"], runs["n"])]
    else:
        view["n"] = runs["n"]
    view["epochs"] = [f"{e} (best {b})" if pd.notna(b) else str(e)
                      for e, b in zip(runs["epochs"], runs["best_epoch"])]
    for m in metrics:
        if m in runs and m != "positives" and runs[m].notna().any():
            view[m] = runs[m]
    view["status"] = ["above chance" if not isinstance(w, str) else
                      "near chance" if "near chance" in w else "no held-out metrics" for w in runs["warning"]]
    view["run"] = [page.relative_name(r, roots) for r in runs["run"]]
    return view


def _chance_warning(runs: pd.DataFrame) -> str:
    return "".join(page.warning(w) for w in runs["warning"].dropna())


def pair_models_section(runs: pd.DataFrame, roots, figures: bool = True) -> str:
    """ROC / PR (with chance lines), calibration and training curves per (cell, split),
    pooled over folds per model, above the summary and every run."""
    runs = runs[runs["task"] == "pairs"]
    if runs.empty:
        return ""
    body = [_chance_warning(runs),
            "<h3>Summary (mean ± s.d. over folds)</h3>",
            page.table(summary_view(summarise(runs)), text_columns=("model", "cell", "split")),
            "<h3>Runs</h3>",
            page.table(_runs_view(runs, ("positives", *_PAIR_METRICS), roots),
                       text_columns=("model", "cell", "split", "run", "status", "epochs"))]
    if figures:
        for (cell, split), group in runs.groupby(["cell", "split"], sort=True):
            body.append(_pair_figures(group, _group_title(cell, split)))
    return page.section("pair-models", "Pair models: enhancer–promoter interaction", "".join(body))


def _pair_figures(group: pd.DataFrame, title: str) -> str:
    from epitools.report.plots import calibration_figure, fold_history_figure, pr_figure, roc_figure

    curves, fallback, histories = {}, [], []
    for model, model_runs in group.groupby("model", sort=True):
        frames = []
        for run in model_runs["run"]:
            t = _read(Path(run) / "predictions.tsv", ("label", "score"))
            if t is not None:
                frames.append(t[t["label"] >= 0])
            else:
                fallback += [page.img_file(Path(run) / f"{kind}.png", kind, f"{model} {kind} {Path(run).name}")
                             for kind in ("roc", "pr")]
        if frames:
            t = pd.concat(frames)
            curves[model] = (t["label"].to_numpy(), t["score"].to_numpy())
        h = _histories(model_runs)
        if h:
            histories.append(page.figure(fold_history_figure(h, f"{model}: {title}"), "history",
                                         f"training curves {model} {title}", wide=True))
    images = []
    if curves:
        images = [page.figure(roc_figure(curves), "roc", f"ROC {title}"),
                  page.figure(pr_figure(curves), "pr", f"PR {title}"),
                  page.figure(calibration_figure(curves), "calibration", f"calibration {title}")]
    return (f"<h3>{page.esc(title)}: test folds pooled</h3>" + page.figs(images + fallback)
            + page.figs(histories))


ENCODER_NOTE = ("Pre-training of EPInformer's sequence encoder (epi-train --model epinformer_encoder on "
                "the 256 bp windows of epi-encode activity): the encoder predicts each candidate "
                "enhancer's activity, log1p(sqrt(DNase x H3K27ac)), from its sequence. Pearson R is "
                "that of predicted vs measured activity on the held-out chromosomes; epi-train --model "
                "epinformer --init-from loads the checkpoint's encoder into EPInformer.")


def _regression_figures(group: pd.DataFrame, title: str, target: str, xlabel: str) -> str:
    """Pearson R per fold, predicted vs observed ``target`` per model and training curves."""
    from epitools.report.plots import expression_scatter_figure, fold_bars_figure, fold_history_figure

    images = [page.figure(fold_bars_figure(group, "pearson_r", MIN_PEARSON_R), "r-per-fold",
                          f"Pearson R per fold {title}")]
    histories = []
    for model, model_runs in group.groupby("model", sort=True):
        folds = {}
        for fold, run in zip(model_runs["fold"], model_runs["run"]):
            t = _read(Path(run) / "predictions.tsv", (target, "score"))
            if t is not None and len(t):
                folds[f"fold {fold}"] = (t[target].to_numpy(), t["score"].to_numpy())
        if folds:
            kind = "expression-scatter" if target == "expression" else f"{target}-scatter"
            images.append(page.figure(expression_scatter_figure(folds, f"{model}: {title}", xlabel=xlabel),
                                      kind, f"predicted vs observed {target} {model} {title}"))
        h = _histories(model_runs)
        if h:
            histories.append(page.figure(fold_history_figure(h, f"{model}: {title}"), "history",
                                         f"training curves {model} {title}", wide=True))
    return f"<h3>{page.esc(title)}</h3>" + page.figs(images) + page.figs(histories)


def _regression_body(runs: pd.DataFrame, roots, figures: bool, heading: str, target: str,
                     observed: str) -> list[str]:
    """Chance warning, summary and runs tables, and per (cell, split) figures of regression runs."""
    body = [_chance_warning(runs),
            f"<{heading}>Summary (mean ± s.d. over folds)</{heading}>",
            page.table(summary_view(summarise(runs)), text_columns=("model", "cell", "split")),
            f"<{heading}>Runs</{heading}>",
            page.table(_runs_view(runs, _GENE_METRICS, roots),
                       text_columns=("model", "cell", "split", "run", "status", "epochs"))]
    if figures:
        for (cell, split), group in runs.groupby(["cell", "split"], sort=True):
            body.append(_regression_figures(group, _group_title(cell, split), target, observed))
    return body


def _encoder_block(runs: pd.DataFrame, roots, figures: bool) -> str:
    """Runs of task ``activity``: what they are, their Pearson R (summary, runs) and figures."""
    body = [page.note(ENCODER_NOTE),
            *_regression_body(runs, roots, figures, "h4", "activity", "Measured activity (store target)")]
    return page.block("encoder-pretraining", "Encoder pre-training: enhancer activity", "".join(body))


def gene_models_section(runs: pd.DataFrame, roots, figures: bool = True) -> str:
    """Predicted vs observed expression and Pearson R per fold of expression models, then the
    encoder pre-training runs (predicted vs measured enhancer activity)."""
    encoder = runs[runs["task"] == "activity"]
    runs = runs[runs["task"] == "genes"]
    if runs.empty and encoder.empty:
        return ""
    block = _encoder_block(encoder, roots, figures) if len(encoder) else ""
    if runs.empty:
        return page.section("gene-models", "Expression models: EPInformer", block)
    body = _regression_body(runs, roots, figures, "h3", "expression", "Observed expression (store target)")
    return page.section("gene-models", "Expression models: EPInformer", "".join(body) + block)
