"""Pick the best of several training runs by one metric of their ``metrics.json``.

The pipeline attributes (pairs) or prioritizes with (genes) one model per sample; which one
is decided here, not in Groovy. A run is a folder holding ``metrics.json`` (``epi-train``);
folders are searched recursively, symlinks followed (Nextflow stages runs as links).

The metric is read from the chosen rows of each run:

- ``on="val"``: ``metrics.json["val"]``, the validation rows at the best epoch (the choice
  never looks at a test fold);
- ``on="test"``: the top-level test-fold metrics (the stored class ratio).

Higher is better except for :data:`LOWER_IS_BETTER` (``mse``). A run whose value is null
(e.g. AUROC of a set without positives) ranks last; ties go to the run first in
``(model, fold, path)`` order, so the choice does not depend on the order runs are given.

The selection folder holds ``selection.json`` (the chosen run and every candidate, ranked),
``selection.tsv`` (one header line and one row: run, model, fold, metric, on, value; read by
the pipeline with ``splitCsv``) and ``model.pt``, a copy of the chosen checkpoint: a copy, not
a link, so the folder stays usable when it is published or the run's work directory is removed.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path

from epitools.errors import InputError, UsageError
from epitools.io.atomic import atomic_path
from epitools.report.html import find_metrics

log = logging.getLogger(__name__)

SETS = ("val", "test")
LOWER_IS_BETTER = frozenset({"mse"})
TSV_COLUMNS = ("run", "model", "fold", "metric", "on", "value")


def _read_metrics(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read metrics: {exc}", path=path) from exc
    for key in ("model", "fold"):
        if key not in data:
            raise InputError("not an epi-train metrics.json", path=path, field=key)
    return data


def metric_value(metrics: dict, metric: str, on: str, path=None) -> float | None:
    """``metric`` of one run on the ``on`` rows; None when the run recorded it as null.

    Raises
    ------
    InputError
        The run has no such metric on those rows (names the file and the field).
    """
    rows = metrics.get("val") if on == "val" else metrics
    field = f"val.{metric}" if on == "val" else metric
    if not isinstance(rows, dict) or metric not in rows:
        raise InputError(f"no metric '{metric}' on the {on} rows", path=path, field=field)
    value = rows[metric]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"metric '{metric}' is not a number: {value!r}", path=path, field=field)
    return None if math.isnan(value) else float(value)


def rank_runs(run_dirs, metric: str = "auroc", on: str = "val") -> list[dict]:
    """Every run under ``run_dirs``, best first (see the module docstring for the order).

    Returns
    -------
    list of dict
        ``run`` (folder), ``model``, ``fold``, ``value`` (float or None), one per metrics.json.
    """
    if on not in SETS:
        raise UsageError(f"--on must be one of {', '.join(SETS)}, not '{on}'")
    files = find_metrics(run_dirs)
    if not files:
        raise InputError(f"no metrics.json found under {', '.join(map(str, run_dirs))}")
    runs = []
    for path in files:
        data = _read_metrics(path)
        runs.append({"run": str(path.parent), "model": str(data["model"]), "fold": data["fold"],
                     "value": metric_value(data, metric, on, path)})
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    # Python's sort is stable, so the (model, fold, path) order decides among equal values.
    runs.sort(key=lambda r: (r["model"], (0, r["fold"], "") if isinstance(r["fold"], int) else (1, 0, str(r["fold"])),
                             r["run"]))
    runs.sort(key=lambda r: (r["value"] is None, sign * r["value"] if r["value"] is not None else 0.0))
    return runs


def select_run(run_dirs, metric: str = "auroc", on: str = "val", out=None) -> dict:
    """The best run under ``run_dirs`` by ``metric`` on the ``on`` rows; written to ``out``.

    Parameters
    ----------
    run_dirs : sequence of path
        Run folders, folders of runs, or metrics.json files.
    metric : str
        A numeric field of metrics.json (``auroc``, ``auprc``, ``f1``, ``pearson_r``, ``mse``...).
    on : {"val", "test"}
        Which rows' metrics decide.
    out : path, optional
        Selection folder to write (replaced atomically): selection.json, selection.tsv, model.pt.

    Returns
    -------
    dict
        The chosen run (``run``, ``run_name``, ``model``, ``fold``, ``metric``, ``on``, ``value``)
        and ``candidates`` (every run, ranked).
    """
    ranked = rank_runs(run_dirs, metric, on)
    best = ranked[0]
    if best["value"] is None:
        raise InputError(f"no run has a value of '{metric}' on the {on} rows "
                         f"({len(ranked)} runs under {', '.join(map(str, run_dirs))})")
    selection = {**best, "run_name": Path(best["run"]).name, "metric": metric, "on": on,
                 "higher_is_better": metric not in LOWER_IS_BETTER, "candidates": ranked}
    log.info("selected %s (%s fold %s): %s on %s = %.4g of %d runs", selection["run_name"], best["model"],
             best["fold"], metric, on, best["value"], len(ranked))
    if out is not None:
        write_selection(selection, out)
    return selection


def write_selection(selection: dict, out) -> None:
    """Write the selection folder (see the module docstring) atomically."""
    checkpoint = Path(selection["run"]) / "model.pt"
    if not checkpoint.is_file():
        raise InputError("the selected run has no model.pt", path=checkpoint.parent)
    with atomic_path(out, is_dir=True) as tmp:
        shutil.copyfile(checkpoint, tmp / "model.pt")
        (tmp / "selection.json").write_text(json.dumps(selection, indent=2) + "\n")
        row = {**selection, "run": selection["run_name"]}
        (tmp / "selection.tsv").write_text("\t".join(TSV_COLUMNS) + "\n"
                                           + "\t".join(str(row[c]) for c in TSV_COLUMNS) + "\n")
