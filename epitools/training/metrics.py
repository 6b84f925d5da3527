"""Evaluation metrics for pair classification, expression regression and enhancer ranking.

Plain functions over 1-d arrays. Degenerate inputs (a single class, constant vectors)
return NaN rather than raising, so a fold without positives does not stop a run.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def _as_arrays(y_true, y_score):
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_score = np.asarray(y_score, dtype=np.float64).ravel()
    if y_true.shape != y_score.shape:
        raise ValueError(f"labels {y_true.shape} and scores {y_score.shape} differ in shape")
    return y_true, y_score


def _two_classes(y_true) -> bool:
    return np.unique(y_true).size == 2


def auroc(y_true, y_score) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    y_true, y_score = _as_arrays(y_true, y_score)
    return float(skm.roc_auc_score(y_true, y_score)) if _two_classes(y_true) else float("nan")


def auprc(y_true, y_score) -> float:
    """Area under the precision–recall curve (average precision); NaN without positives."""
    y_true, y_score = _as_arrays(y_true, y_score)
    if y_true.sum() == 0:
        return float("nan")
    return float(skm.average_precision_score(y_true, y_score))


def f1(y_true, y_score, threshold: float = 0.5) -> float:
    """F1 of ``y_score >= threshold`` against ``y_true``."""
    y_true, y_score = _as_arrays(y_true, y_score)
    return float(skm.f1_score(y_true.astype(int), (y_score >= threshold).astype(int), zero_division=0))


def precision_at_recall(y_true, y_score, recall: float = 0.7) -> float:
    """Highest precision among thresholds whose recall is at least ``recall``."""
    y_true, y_score = _as_arrays(y_true, y_score)
    if y_true.sum() == 0:
        return float("nan")
    precision, rec, _ = skm.precision_recall_curve(y_true, y_score)
    ok = rec >= recall
    return float(precision[ok].max()) if ok.any() else float("nan")


def pearson_r(x, y) -> float:
    """Pearson correlation; NaN when either vector is constant."""
    x, y = _as_arrays(x, y)
    if x.size < 2 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def spearman_r(x, y) -> float:
    """Spearman rank correlation; NaN when either vector is constant."""
    from scipy.stats import spearmanr

    x, y = _as_arrays(x, y)
    if x.size < 2 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def classification_metrics(y_true, y_score, threshold: float = 0.5) -> dict:
    """AUROC, AUPRC, F1, n and positives of one set of predictions."""
    y_true, y_score = _as_arrays(y_true, y_score)
    return {
        "auroc": auroc(y_true, y_score),
        "auprc": auprc(y_true, y_score),
        "f1": f1(y_true, y_score, threshold),
        "n": int(y_true.size),
        "positives": int(y_true.sum()),
    }


def regression_metrics(y_true, y_pred) -> dict:
    """Pearson R, Spearman R, MSE and n of expression predictions."""
    y_true, y_pred = _as_arrays(y_true, y_pred)
    return {
        "pearson_r": pearson_r(y_true, y_pred),
        "spearman_r": spearman_r(y_true, y_pred),
        "mse": float(np.mean((y_true - y_pred) ** 2)) if y_true.size else float("nan"),
        "n": int(y_true.size),
    }
