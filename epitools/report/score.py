"""Evaluate an external pair-level prediction table (``epi-report score``).

Any table :func:`epitools.io.pairs.read_pairs` reads (canonical, BEDPE, TargetFinder, BENGI,
...) or a plain TSV/CSV that only has a label and a score column (e.g. a published
TargetFinder prediction file). Metrics are those of a training run's test fold
(:func:`epitools.training.evaluation.evaluate`): AUROC, AUPRC, F1 (score >= 0.5), n and
positives at the table's own ratio and re-sampled, with a seed, to 1:1 and 1:10 negatives
per positive; optionally per value of a grouping column (``--by cell_type``) plus pooled.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_open, write_text
from epitools.training.evaluation import evaluate
from epitools.training.state import json_safe

log = logging.getLogger(__name__)

POOLED = "all"
METRIC_COLUMNS = ("auroc", "auprc", "f1", "n", "positives")


def read_prediction_table(path, score_column: str, label_column: str) -> pd.DataFrame:
    """The prediction table at ``path``: a pairs table, else a plain TSV/CSV.

    A file :func:`~epitools.io.pairs.read_pairs` cannot read as pairs is read as a plain
    table (tab-separated unless its first line has commas and no tabs; gzip by suffix), which
    must then have both columns; the pairs reader's error is raised when it is not a table.
    """
    from epitools.io.pairs import read_pairs

    try:
        return read_pairs(path)
    except InputError as pairs_error:
        try:
            plain = _read_plain(path)
        except (OSError, ValueError, pd.errors.ParserError):
            raise pairs_error from None
        log.info("%s is not a pairs table (%s): read as a plain table", path, pairs_error.message)
        for name, option in ((score_column, "--score-column"), (label_column, "--label-column")):
            _column(plain, name, option, path)
        return plain


def _read_plain(path) -> pd.DataFrame:
    import gzip

    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        first = fh.readline()
    sep = "," if "," in first and "\t" not in first else "\t"
    return pd.read_csv(path, sep=sep, comment=None, low_memory=False)


def _column(table: pd.DataFrame, name: str, option: str, path) -> pd.Series:
    if name not in table.columns:
        shown = ", ".join(map(str, table.columns[:20]))
        raise UsageError(f"{option} '{name}' is not a column of {path}; columns: {shown}")
    return table[name]


def labels_and_scores(table: pd.DataFrame, score_column: str = "prediction",
                      label_column: str = "label", path=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """0/1 labels, float scores and the mask of usable rows, each shape (n,).

    Rows whose label or score is missing (or the score non-finite) are not usable; a label
    other than 0/1 (or true/false) or a non-numeric score is an :class:`InputError` naming
    the first bad row (1-based data row).
    """
    raw_label = _column(table, label_column, "--label-column", path)
    raw_score = _column(table, score_column, "--score-column", path)
    words = {"true": 1.0, "false": 0.0}
    label = pd.to_numeric(raw_label.map(lambda v: words.get(str(v).lower(), v)), errors="coerce")
    label = label.to_numpy(np.float64)
    score = pd.to_numeric(raw_score, errors="coerce").to_numpy(np.float64)
    for name, values, raw, ok in (
            (label_column, label, raw_label, np.isnan(label) | np.isin(label, (0, 1))),
            (score_column, score, raw_score, ~(np.isnan(score) & raw_score.notna().to_numpy()))):
        if not ok.all():
            row = int(np.flatnonzero(~ok)[0])
            kind = "0/1" if name == label_column else "a number"
            raise InputError(f"data row {row + 1}: expected {kind}, got {raw.iloc[row]!r}",
                             path=path, field=name)
    usable = np.isfinite(label) & np.isfinite(score)
    return label, score, usable


def is_binary_score(score: np.ndarray) -> bool:
    """True when the scores take at most two distinct values (a hard call, not a ranking)."""
    return np.unique(score[np.isfinite(score)]).size <= 2


@dataclass
class ScoreResult:
    """Metrics of one prediction table and the curves behind them.

    Attributes
    ----------
    summary : dict
        ``groups`` (group -> {"stored", "1:1", "1:10"} -> metrics dict), ``binary_score``,
        ``rows``, ``dropped`` (rows without a label or score) and the arguments; JSON-ready.
    curves : dict
        group -> (labels, scores), float arrays of shape (n_group,), for the ROC/PR plots.
    """

    summary: dict
    curves: dict = field(default_factory=dict)


def score_predictions(table: pd.DataFrame, score_column: str = "prediction",
                      label_column: str = "label", by: str | None = None, seed: int = 0,
                      path=None) -> ScoreResult:
    """Metrics of one prediction table, pooled and per ``by`` group.

    Parameters
    ----------
    table : pandas.DataFrame
        (N, ...) rows with a label and a score column.
    score_column, label_column : str
        Column names (``--score-column``, ``--label-column``).
    by : str, optional
        Grouping column (``--by``); each value is evaluated on its own besides the pooled rows.
    seed : int
        Seed of the 1:1 and 1:10 re-sampling.

    Returns
    -------
    ScoreResult
    """
    label, score, usable = labels_and_scores(table, score_column, label_column, path)
    dropped = int((~usable).sum())
    if dropped:
        log.warning("%d of %d rows lack a label or a score and are not evaluated", dropped, len(table))
    if not usable.any():
        raise InputError("no row has both a label and a score", path=path)
    binary = is_binary_score(score[usable])
    if binary:
        log.warning("the score column '%s' takes at most two values: it is a hard call, not a "
                    "ranking, so its ROC and PR curves are degenerate (one operating point)",
                    score_column)
    groups = {POOLED: usable}
    if by is not None:
        values = _column(table, by, "--by", path).astype(str).to_numpy()
        for value in sorted(pd.unique(values[usable])):
            groups[str(value)] = usable & (values == value)
    result = {}
    for name, rows in groups.items():
        result[name] = evaluate("pairs", label[rows], score[rows], seed=seed)
        stored = result[name]["stored"]
        if stored["positives"] in (0, stored["n"]):
            log.warning("group '%s' has a single class (%d rows): AUROC undefined", name, stored["n"])
    summary = {"predictions": None if path is None else os.fspath(path),
               "score_column": score_column, "label_column": label_column, "by": by,
               "seed": int(seed), "binary_score": bool(binary), "rows": int(len(table)),
               "dropped": dropped, "groups": result}
    return ScoreResult(summary, {name: (label[rows], score[rows]) for name, rows in groups.items()})


def metrics_table(summary: dict) -> pd.DataFrame:
    """One row per (group, ratio) of :attr:`ScoreResult.summary`: ``group ratio auroc auprc f1 n
    positives``."""
    rows = [{"group": group, "ratio": ratio, **{k: m[k] for k in METRIC_COLUMNS}}
            for group, by_ratio in summary["groups"].items() for ratio, m in by_ratio.items()]
    return pd.DataFrame(rows, columns=["group", "ratio", *METRIC_COLUMNS])


def write_score_report(result: ScoreResult, out, figures: bool = True) -> dict[str, Path]:
    """Write ``score_metrics.json``, ``score_metrics.tsv`` and ``roc.png``/``pr.png`` to ``out``.

    Returns the written paths by kind (``json``, ``tsv``, ``roc``, ``pr``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "score_metrics.json", "tsv": out / "score_metrics.tsv"}
    if figures:
        paths["roc"], paths["pr"] = out / "roc.png", out / "pr.png"
    result.summary["files"] = {k: os.fspath(v) for k, v in paths.items()}
    write_text(paths["json"], json.dumps(json_safe(result.summary), indent=2) + "\n")
    with atomic_open(paths["tsv"], "w") as fh:
        metrics_table(result.summary).to_csv(fh, sep="\t", index=False, float_format="%.6g")
    if figures:
        from epitools.report.plots import save_pr, save_roc

        save_roc(paths["roc"], result.curves)
        save_pr(paths["pr"], result.curves)
    return paths


def score_file(path, out, score_column: str = "prediction", label_column: str = "label",
               by: str | None = None, seed: int = 0, figures: bool = True) -> ScoreResult:
    """Read, evaluate and write the report of one prediction table (``epi-report score``)."""
    table = read_prediction_table(path, score_column, label_column)
    result = score_predictions(table, score_column, label_column, by=by, seed=seed, path=path)
    write_score_report(result, out, figures)
    return result
