"""Figures of trained models: ROC, precision–recall, calibration, training history, expression
scatter and per-fold bars (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from epitools.io.atomic import atomic_path  # noqa: E402


def save_figure(fig, path, dpi: int = 110):
    """Write ``fig`` as a PNG atomically and close it; returns the path."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes (closes it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _two_classes(y) -> bool:
    return np.unique(np.asarray(y)).size == 2


def roc_figure(curves: dict):
    """ROC curves; ``curves`` maps a label to (y_true, y_score) arrays of shape (n,)."""
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    for label, (y, s) in curves.items():
        if not _two_classes(y):
            continue
        fpr, tpr, _ = skm.roc_curve(y, s)
        ax.plot(fpr, tpr, lw=1.5, label=f"{label} (AUROC {skm.roc_auc_score(y, s):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8, label="chance")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=7)
    return fig


def pr_figure(curves: dict, title: str = ""):
    """Precision–recall curves; ``curves`` maps a label to (y_true, y_score) of shape (n,).

    The chance line of a curve is its base rate (positives / n); curves on the same rows
    share one line.
    """
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    base_rates = {}
    for label, (y, s) in curves.items():
        y = np.asarray(y)
        if y.sum() == 0:
            continue
        precision, recall, _ = skm.precision_recall_curve(y, s)
        line, = ax.plot(recall, precision, lw=1.5,
                        label=f"{label} (AUPRC {skm.average_precision_score(y, s):.3f})")
        base_rates.setdefault(round(float(y.mean()), 4), line.get_color())
    for rate, colour in base_rates.items():
        shared = len(base_rates) == 1
        ax.axhline(rate, ls="--", lw=0.8, c="grey" if shared else colour,
                   label=f"chance (base rate {rate:.3g})")
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.01))
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=7)
    return fig


def history_figure(history: pd.DataFrame):
    """Training loss and validation metrics per epoch (columns of ``history.tsv``)."""
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    ax.plot(history["epoch"], history["train_loss"], marker="o", ms=3, label="train loss")
    ax.set(xlabel="Epoch", ylabel="Training loss")
    val_cols = [c for c in ("val_auprc", "val_auroc", "val_pearson_r") if c in history]
    if val_cols:
        ax2 = ax.twinx()
        for col in val_cols:
            ax2.plot(history["epoch"], history[col], marker="s", ms=3, ls="--", label=col)
        ax2.set_ylabel("Validation metric")
        ax2.legend(loc="center right", fontsize=7)
    ax.legend(loc="upper right", fontsize=7)
    return fig


def calibration_figure(curves: dict, n_bins: int = 10):
    """Reliability curves: fraction of positives per quantile bin of the score.

    ``curves`` maps a label to (y_true, y_score) of shape (n,); scores are read as
    probabilities (a class-weighted model's are inflated: its curve lies below the diagonal).
    """
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    for label, (y, s) in curves.items():
        y, s = np.asarray(y, np.float64), np.asarray(s, np.float64)
        if not _two_classes(y):
            continue
        edges = np.unique(np.quantile(s, np.linspace(0, 1, n_bins + 1)))
        bins = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, max(len(edges) - 2, 0))
        count = np.bincount(bins)
        used = count > 0
        mean_score = np.bincount(bins, weights=s)[used] / count[used]
        fraction = np.bincount(bins, weights=y)[used] / count[used]
        brier = float(np.mean((s - y) ** 2))
        ax.plot(mean_score, fraction, marker="o", ms=3, lw=1.2, label=f"{label} (Brier {brier:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8, label="perfectly calibrated")
    ax.set(xlabel="Mean predicted score (quantile bins)", ylabel="Fraction interacting",
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="upper left", fontsize=7)
    return fig


def fold_history_figure(histories: dict, title: str = ""):
    """Training loss (left) and the validation metrics (right) per epoch, one line per run.

    ``histories`` maps a run label (e.g. ``fold 1``) to its ``history.tsv`` frame.
    """
    # Metrics on a 0-1 scale share one axis; MSE only when it is all there is.
    val_cols = sorted({c for h in histories.values() for c in h.columns
                       if c in ("val_auroc", "val_auprc", "val_pearson_r")})
    if not val_cols and any("val_mse" in h for h in histories.values()):
        val_cols = ["val_mse"]
    fig, axes = plt.subplots(1, 1 + bool(val_cols), figsize=(4.2 * (1 + bool(val_cols)), 3.2),
                             squeeze=False)
    loss_ax = axes[0, 0]
    styles = ("-", "--", ":", "-.")
    for i, (label, h) in enumerate(histories.items()):
        line, = loss_ax.plot(h["epoch"], h["train_loss"], marker="o", ms=2.5, label=label)
        if val_cols:
            for j, col in enumerate(c for c in val_cols if c in h):
                axes[0, 1].plot(h["epoch"], h[col], ls=styles[j % 4], marker="s", ms=2.5,
                                c=line.get_color(), label=f"{label} {col}")
    loss_ax.set(xlabel="Epoch", ylabel="Training loss", title=title or None)
    loss_ax.legend(fontsize=6)
    if val_cols:
        axes[0, 1].set(xlabel="Epoch", ylabel="Validation metric")
        axes[0, 1].legend(fontsize=6)
    for ax in axes[0]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.subplots_adjust(wspace=0.3)
    return fig


def expression_scatter_figure(folds: dict, title: str = "", xlabel: str = "Observed expression (store target)"):
    """Predicted vs observed expression (or another regression target, named by ``xlabel``),
    one colour per fold, with the y = x line.

    ``folds`` maps a label (``fold 1``) to (observed, predicted) arrays of shape (n,).
    """
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    pooled_obs, pooled_pred = [], []
    for label, (obs, pred) in folds.items():
        obs, pred = np.asarray(obs, np.float64), np.asarray(pred, np.float64)
        pooled_obs.append(obs)
        pooled_pred.append(pred)
        r = np.corrcoef(obs, pred)[0, 1] if obs.size > 1 and obs.std() > 0 and pred.std() > 0 else np.nan
        ax.scatter(obs, pred, s=10, alpha=0.7, label=f"{label} (R {r:.2f}, n {obs.size})")
    if pooled_obs:
        every = np.concatenate(pooled_obs + pooled_pred)
        lo, hi = float(every.min()), float(every.max())
        ax.plot([lo, hi], [lo, hi], ls="--", c="grey", lw=0.8, label="y = x")
    ax.set(xlabel=xlabel, ylabel="Predicted", title=title or None)
    ax.legend(fontsize=6, loc="upper left")
    return fig


def fold_bars_figure(values: pd.DataFrame, metric: str, chance: float | None = None):
    """Bars of ``metric`` per fold, grouped by model (``values``: model, fold, metric)."""
    models = sorted(values["model"].unique())
    folds = sorted(values["fold"].unique())
    width = min(0.8 / max(len(models), 1), 0.35)
    fig, ax = plt.subplots(figsize=(min(max(3.6, 0.4 * len(folds) * len(models) + 1.5), 9.0), 3.2))
    for i, model in enumerate(models):
        sub = values[values["model"] == model].set_index("fold").reindex(folds)
        ax.bar(np.arange(len(folds)) + i * width, sub[metric].to_numpy(np.float64), width, label=model)
    if chance is not None:
        ax.axhline(chance, ls="--", c="grey", lw=0.8, label=f"near-chance bound {chance:g}")
    ax.set_xticks(np.arange(len(folds)) + (len(models) - 1) * width / 2, [str(f) for f in folds])
    ax.set(xlabel="Test fold", ylabel=metric, xlim=(-0.6, len(folds) - 0.4 + (len(models) - 1) * width))
    ax.axhline(0, c="black", lw=0.5)
    ax.legend(fontsize=7, loc="lower right", framealpha=0.8)
    return fig


def save_roc(path, curves: dict) -> None:
    """Write :func:`roc_figure` to ``path`` atomically."""
    save_figure(roc_figure(curves), path)


def save_pr(path, curves: dict) -> None:
    """Write :func:`pr_figure` to ``path`` atomically."""
    save_figure(pr_figure(curves), path)


def save_history(path, history: pd.DataFrame) -> None:
    """Write :func:`history_figure` to ``path`` atomically."""
    save_figure(history_figure(history), path)
