"""The end of a run: test evaluation with the best weights and the run's final files.

Writes into the run directory ``model.pt`` (the best epoch, now with its test metrics),
``predictions.tsv`` (the un-augmented test rows with ``score``, ``model`` and ``fold``) and
``metrics.json`` (the dict :func:`finish` returns). Figures are drawn by the caller
(``epi-train`` draws ``roc.png`` and ``pr.png`` from ``predictions.tsv``).
"""

from __future__ import annotations

import json

from epitools import __version__
from epitools.errors import UsageError
from epitools.io.atomic import atomic_open, write_text
from epitools.io.checkpoint import load_checkpoint, save_checkpoint
from epitools.training.evaluation import evaluate, predict_rows
from epitools.training.prepare import Run
from epitools.training.state import json_safe


def run_summary(run: Run, test_metrics: dict, val_metrics: dict) -> dict:
    """The ``metrics.json`` dict of a run (JSON-safe): what ran and its test metrics, flat
    at the stored ratio and under ``"test"`` at every ratio."""
    config, split, state = run.config, run.split, run.state
    result = {
        "model": config.model, "task": run.source.task, "split": config.split, "fold": config.fold,
        "folds": split.info.get("n_folds"), "seed": config.seed,
        "cell_types": run.source.cell_types(split.test),
        "train_cells": config.train_cells, "test_cells": config.test_cells,
        **test_metrics["stored"], "test": test_metrics,
        "val": val_metrics,
        "epochs": len(state.history), "best_epoch": state.best_epoch, "time_s": state.elapsed,
        "n_train": int(len(split.train)), "n_val": int(len(run.val_rows)), "n_test": int(len(run.test_rows)),
        "batch_size": run.batch_size, "max_epochs": run.epochs, "patience": state.patience,
        "store": str(config.data), "split_info": split.info,
        "frozen": run.frozen, "class_weight": run.pos_weight,
        "negatives_per_positive": config.negatives_per_positive,
        "adversarial": config.adversarial,
        "tool_version": __version__,
    }
    return json_safe(result)


def finish(run: Run) -> dict:
    """Score the test rows with the best epoch's weights, write the run's final files and
    close the data source; returns the ``metrics.json`` dict."""
    if not run.best_path.exists():
        raise UsageError("no epoch was trained (check --epochs)")
    config, source = run.config, run.source
    best = load_checkpoint(run.best_path)
    run.model.load_state_dict(best["state_dict"])
    test_pred = predict_rows(run.model, source, run.test_rows, run.batch_size, run.device, config.amp,
                             desc="test")
    test_metrics = evaluate(source.task, source.targets(run.test_rows), test_pred, seed=config.seed)
    result = run_summary(run, test_metrics, best["metrics"].get("val", {}))
    best["metrics"] = {**best["metrics"], "test": result["test"]}
    save_checkpoint(best, run.best_path)
    table = source.prediction_table(run.test_rows)
    table["score"] = test_pred
    table["model"] = config.model
    table["fold"] = config.fold
    with atomic_open(run.out / "predictions.tsv", "w") as fh:
        table.to_csv(fh, sep="\t", index=False)
    write_text(run.out / "metrics.json", json.dumps(result, indent=2) + "\n")
    source.close()
    return result
