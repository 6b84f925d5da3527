"""ROC, precision–recall and training-history figures (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
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
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=7)
    return fig


def pr_figure(curves: dict):
    """Precision–recall curves; ``curves`` maps a label to (y_true, y_score)."""
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    for label, (y, s) in curves.items():
        y = np.asarray(y)
        if y.sum() == 0:
            continue
        precision, recall, _ = skm.precision_recall_curve(y, s)
        ax.plot(recall, precision, lw=1.5,
                label=f"{label} (AUPRC {skm.average_precision_score(y, s):.3f})")
        ax.axhline(y.mean(), ls="--", c="grey", lw=0.8)
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower left", fontsize=7)
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


def save_roc(path, curves: dict) -> None:
    """Write :func:`roc_figure` to ``path`` atomically."""
    save_figure(roc_figure(curves), path)


def save_pr(path, curves: dict) -> None:
    """Write :func:`pr_figure` to ``path`` atomically."""
    save_figure(pr_figure(curves), path)


def save_history(path, history: pd.DataFrame) -> None:
    """Write :func:`history_figure` to ``path`` atomically."""
    save_figure(history_figure(history), path)
