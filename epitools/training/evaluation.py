"""Scoring rows of a data source with a model, and the validation and test metrics of a run."""

from __future__ import annotations

import math

import numpy as np
import torch

from epitools.progress import progress
from epitools.training import metrics as M
from epitools.training.device import autocast
from epitools.training.sampling import positives_and_negatives

# Negatives per positive of the re-sampled test metrics (the ratios of the EPI literature).
RATIOS = (1, 10)


@torch.no_grad()
def predict_rows(model, source, rows: np.ndarray, batch_size: int, device, amp: bool = True,
                 desc: str | None = None) -> np.ndarray:
    """Model outputs for ``rows`` of a data source, in row order.

    Returns sigmoid probabilities (pairs) or predicted values (genes), shape (len(rows),).
    """
    model.eval()
    out = np.empty(len(rows), dtype=np.float64)
    starts = range(0, len(rows), batch_size)
    for lo in progress(starts, total=len(starts), desc=desc, unit="batch"):
        batch = source.batch(rows[lo:lo + batch_size], device)
        with autocast(device, amp):
            result = source.forward(model, batch)
        value = (result["logit"] if "logit" in result else result["prediction"]).float()
        if source.task == "pairs":
            value = torch.sigmoid(value)
        out[lo:lo + len(value)] = value.cpu().numpy().ravel()
    return out


def evaluate(task: str, y_true, y_pred, seed: int = 0) -> dict:
    """Test metrics: classification at the stored ratio and re-sampled to 1:1 and 1:10, or
    regression metrics for genes.

    Returns
    -------
    dict
        ``"stored"`` and, for pairs, ``"1:1"`` and ``"1:10"`` -> metrics dict.
    """
    if task != "pairs":
        return {"stored": M.regression_metrics(y_true, y_pred)}
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    result = {"stored": M.classification_metrics(y_true, y_pred)}
    for ratio in RATIOS:
        idx = np.sort(positives_and_negatives(y_true, ratio, np.random.default_rng(seed)))
        result[f"1:{ratio}"] = M.classification_metrics(y_true[idx], y_pred[idx])
    return result


def validation_score(task: str, y_true, y_pred) -> tuple[float, dict]:
    """(score to maximise, metrics) of a validation pass: AUPRC for pairs, minus MSE for genes."""
    if task == "pairs":
        m = M.classification_metrics(y_true, y_pred)
        score = m["auprc"]
        return (-math.inf if math.isnan(score) else score), m
    m = M.regression_metrics(y_true, y_pred)
    return -m["mse"], m
