"""Score enhancer–gene predictions against CRISPRi benchmarks (``epi-prioritize evaluate``).

Each predictor gets AUPRC, precision at 70 % recall and AUPRC per distance bin, in each cell
type of the benchmark and pooled over them. Reading benchmarks and matching predictions to
their pairs is :mod:`epitools.prioritize.benchmark`.

Missing scores are explicit: ``--common`` evaluates only the pairs every predictor scores,
``--union`` every pair, a predictor's missing scores ranking below all of its others
(``nan="lowest"``) or leaving that predictor's evaluation (``nan="drop"``). Every choice
logs how many pairs and positives it removed or re-ranked.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_open
from epitools.prioritize.benchmark import (benchmark_abc, element_activity_table, prediction_scores,
                                           published_scores, read_benchmark)
from epitools.report.plots import save_figure
from epitools.training.metrics import auprc, precision_at_recall

log = logging.getLogger(__name__)

DISTANCE_BINS = ((0, 10_000, "0-10kb"), (10_000, 100_000, "10-100kb"), (100_000, np.inf, ">100kb"))
NAN_POLICIES = ("lowest", "drop")
POOLED = "pooled"
DISTANCE_PREDICTOR = "distance (negated)"
OUR_ABC = "ABC (ours: activity x power law)"


def evaluate_predictors(labels, scores: dict[str, np.ndarray], distance,
                        recall: float = 0.7) -> pd.DataFrame:
    """AUPRC, precision at ``recall`` and AUPRC per distance bin for each predictor.

    ``scores`` maps predictor name to scores (n,) where higher means more likely
    regulatory. A predictor is evaluated over its finite scores only: ``n`` and
    ``positives`` are the pairs it was evaluated on.
    """
    labels = np.asarray(labels, dtype=np.float64)
    distance = np.asarray(distance, dtype=np.float64)
    rows = []
    for name, score in scores.items():
        score = np.asarray(score, dtype=np.float64)
        ok = np.isfinite(score)
        y, s, d = labels[ok], score[ok], distance[ok]
        row = {"predictor": name, "n": int(ok.sum()), "positives": int(y.sum()),
               "AUPRC": auprc(y, s) if y.size else float("nan"),
               f"precision_at_{int(recall * 100)}pct_recall":
                   precision_at_recall(y, s, recall) if y.size else float("nan")}
        for lo, hi, tag in DISTANCE_BINS:
            sel = (d >= lo) & (d < hi)
            row[f"AUPRC_{tag}"] = auprc(y[sel], s[sel]) if sel.any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def plot_pr_curves(labels, scores: dict[str, np.ndarray], path, title: str = "CRISPRi benchmark") -> None:
    """Precision–recall curve of every predictor (over its finite scores) in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    fig, ax = plt.subplots(figsize=(5.5, 5))
    labels = np.asarray(labels)
    for name, score in scores.items():
        score = np.asarray(score, dtype=np.float64)
        ok = np.isfinite(score)
        if not labels[ok].any():
            continue
        precision, rec, _ = precision_recall_curve(labels[ok], score[ok])
        ax.plot(rec, precision, label=f"{name} (AUPRC {auprc(labels[ok], score[ok]):.3f})")
    ax.axhline(labels.mean(), color="grey", ls=":", lw=1, label=f"baseline {labels.mean():.3f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def rank_missing_lowest(score) -> np.ndarray:
    """Scores (n,) with every non-finite value set just below the lowest finite one (0 if none)."""
    score = np.asarray(score, dtype=np.float64)
    ok = np.isfinite(score)
    floor = score[ok].min() - 1.0 if ok.any() else 0.0
    return np.where(ok, score, floor)


@dataclass
class BenchmarkEvaluation:
    """What :func:`evaluate_benchmark` found.

    ``table``: one row per (``cell_type``, predictor), the cell types first and ``pooled``
    last when there are several; ``matched``: the benchmark pairs (N rows) with each
    predictor's raw score and ``evaluated``; ``groups``: per evaluated cell type (and
    pooled), the (labels, {predictor: scores as evaluated}) behind its curves.
    """

    table: pd.DataFrame
    matched: pd.DataFrame
    groups: dict = field(default_factory=dict)


def benchmark_scores(bench: pd.DataFrame, *, predictions=(), score_column: str | None = None,
                     aggregate: str = "max", columns=(), published=None,
                     published_columns=("ABC.ABC.Score",), activities=None, gamma: float | None = None,
                     scale: float | None = None, benchmark_path=None) -> dict[str, np.ndarray]:
    """Every predictor's score (n,) of the benchmark pairs, NaN where it has none; distance last."""
    scores: dict[str, np.ndarray] = {}
    if published:
        scores.update(published_scores(bench, published, published_columns))
    for column in columns:
        if column not in bench.columns:
            raise InputError(f"benchmark has no column '{column}'", path=benchmark_path, line=1, field=column)
        scores[column] = pd.to_numeric(bench[column], errors="coerce").to_numpy(np.float64)
    for path in predictions:
        name, values = prediction_scores(bench, path, score_column, aggregate)
        scores[name] = values
    if activities:
        scores[OUR_ABC] = benchmark_abc(bench, element_activity_table(activities), gamma, scale)
    scores[DISTANCE_PREDICTOR] = -bench["distance"].to_numpy(np.float64)
    return scores


def _select_pairs(bench: pd.DataFrame, scores: dict, union: bool, nan: str,
                  path=None) -> tuple[np.ndarray, dict]:
    """(pairs evaluated (n,) bool, scores as evaluated), logging every pair and positive left out."""
    labels = bench["label"].to_numpy()
    n, positives = len(labels), int(labels.sum())
    missing = {k: ~np.isfinite(v) for k, v in scores.items()}
    for name, miss in missing.items():
        if miss.any():
            log.warning("%s: no score for %d of %d pairs (%d of %d positives)", name, int(miss.sum()), n,
                        int(labels[miss].sum()), positives)
    if not union:
        keep = ~np.logical_or.reduce(list(missing.values()))
        lost = int(labels[~keep].sum())
        (log.warning if lost else log.info)(
            "--common: %d of %d pairs (%d of %d positives) dropped for lacking a score from some "
            "predictor (--union keeps them)", n - int(keep.sum()), n, lost, positives)
        if not keep.any():
            worst = max(missing, key=lambda k: missing[k].sum())
            raise InputError(f"no pair is scored by every predictor ('{worst}' scores "
                             f"{n - int(missing[worst].sum())} of {n}); use --union", path=path)
        return keep, scores
    log.info("--union: all %d pairs (%d positives) kept", n, positives)
    if nan == "lowest":
        for name, miss in missing.items():
            if miss.any():
                log.warning("--nan lowest: %s ranks its %d unscored pairs (%d positives) below all others",
                            name, int(miss.sum()), int(labels[miss].sum()))
        scores = {k: rank_missing_lowest(v) for k, v in scores.items()}
    else:
        for name, miss in missing.items():
            if miss.any():
                log.warning("--nan drop: %s is evaluated without its %d unscored pairs (%d positives)",
                            name, int(miss.sum()), int(labels[miss].sum()))
    return np.ones(n, bool), scores


def evaluate_benchmark(benchmark, *, cell_types=None, all_pairs: bool = False, union: bool = False,
                       nan: str = "lowest", recall: float = 0.7, **predictors) -> BenchmarkEvaluation:
    """Evaluate predictors on a CRISPRi benchmark, per cell type and pooled.

    Parameters
    ----------
    benchmark : path
        ENCODE-rE2G benchmark or Nasser 2021 compendium (:func:`read_benchmark`).
    cell_types : sequence of str, optional
        Cell types to evaluate (default every one present).
    all_pairs : bool
        Keep pairs the benchmark marks as not for evaluation.
    union : bool
        Evaluate every pair (``nan`` says how a missing score counts) instead of the pairs
        every predictor scores.
    nan : {"lowest", "drop"}
        With ``union``: a missing score ranks below all others, or the pair leaves that
        predictor's evaluation.
    **predictors
        ``predictions``, ``score_column``, ``aggregate``, ``columns``, ``published``,
        ``published_columns``, ``activities``, ``gamma``, ``scale``, as for
        :func:`benchmark_scores`.

    Returns
    -------
    BenchmarkEvaluation
    """
    if nan not in NAN_POLICIES:
        raise UsageError(f"--nan must be one of {', '.join(NAN_POLICIES)}, got {nan!r}")
    bench = read_benchmark(benchmark, cell_types=cell_types, all_pairs=all_pairs)
    scores = benchmark_scores(bench, benchmark_path=benchmark, **predictors)
    matched = bench.copy()
    for name, values in scores.items():
        matched[name] = values
    keep, evaluated = _select_pairs(bench, scores, union, nan, path=benchmark)
    matched["evaluated"] = keep
    labels = bench["label"].to_numpy()
    distance = bench["distance"].to_numpy(np.float64)
    cells = bench["cell_type"].to_numpy()
    groups = {c: cells == c for c in sorted(set(cells))}
    # Pooled only adds a table when pairs of two or more cell types are evaluated.
    if sum(bool((rows & keep).any()) for rows in groups.values()) > 1:
        groups[POOLED] = np.ones(len(bench), bool)
    result = BenchmarkEvaluation(table=pd.DataFrame(), matched=matched)
    tables = []
    for name, candidates in groups.items():
        rows = candidates & keep
        if not labels[rows].any() or labels[rows].all():
            log.warning("%s: %d of its %d pairs evaluated, %d positive: a table needs positives and "
                        "negatives", name, int(rows.sum()), int(candidates.sum()), int(labels[rows].sum()))
            continue
        sub = {k: v[rows] for k, v in evaluated.items()}
        table = evaluate_predictors(labels[rows], sub, distance[rows], recall)
        table.insert(0, "cell_type", name)
        # Unscored pairs of this cell type, before --common/--union and --nan.
        table.insert(4, "missing", [int((~np.isfinite(scores[k][candidates])).sum()) for k in sub])
        tables.append(table)
        result.groups[name] = (labels[rows], sub)
    if not tables:
        raise InputError("no evaluable pairs with positives and negatives after matching predictors",
                         path=benchmark)
    result.table = pd.concat(tables, ignore_index=True)
    return result


def _file_tag(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def write_evaluation(result: BenchmarkEvaluation, out) -> Path:
    """``evaluation.tsv``, ``matched.tsv`` and PR curves into directory ``out``.

    ``pr_curves.png`` shows the pooled pairs (or the one cell type); with several cell types
    each also gets ``pr_curves_<cell type>.png``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "evaluation.tsv") as fh:
        result.table.to_csv(fh, sep="\t", index=False, float_format="%.4f")
    with atomic_open(out / "matched.tsv") as fh:
        result.matched.to_csv(fh, sep="\t", index=False)
    single = len(result.groups) == 1
    for name, (labels, scores) in result.groups.items():
        path = out / ("pr_curves.png" if single or name == POOLED else f"pr_curves_{_file_tag(name)}.png")
        plot_pr_curves(labels, scores, path, title=f"CRISPRi benchmark: {name}")
    return out


def format_evaluation(result: BenchmarkEvaluation) -> str:
    """One text table per evaluated cell type (and pooled), each under a heading."""
    parts = []
    for name, rows in result.table.groupby("cell_type", sort=False):
        labels = result.groups[name][0]
        parts.append(f"== {name}: {labels.size} pairs, {int(labels.sum())} positive ==\n"
                     + rows.drop(columns="cell_type").to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return "\n\n".join(parts)
