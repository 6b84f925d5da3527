"""Is a trained model worth interpreting? A warning from a checkpoint's held-out metrics.

Attributions, motifs, attention and knockouts of a model at chance look as confident as those
of a model that learnt (motif q-values, ranked enhancers), so every command that explains or
uses a checkpoint asks :func:`model_warning` first and shows its answer. The thresholds are
deliberately low: a model below them is indistinguishable from chance for these purposes,
not merely weaker than the papers' figures.
"""

from __future__ import annotations

import math
from pathlib import Path

#: Held-out AUROC (pair models) below which a model is called near chance.
MIN_AUROC = 0.6
#: Held-out Pearson R (expression models) below which a model is called near chance.
MIN_PEARSON_R = 0.2


def held_out_metrics(ckpt: dict) -> tuple[dict, str]:
    """(metrics, which rows) of a checkpoint: the test fold's, else the validation rows'.

    Returns ``({}, "")`` when the checkpoint records neither (e.g. ``last.pt`` of a
    training that stopped before its test evaluation, or weights saved by other code).
    """
    metrics = ckpt.get("metrics") or {}
    test = metrics.get("test")
    if isinstance(test, dict):
        # epi-train stores the test metrics per negative ratio; "stored" is the fold as it is.
        stored = test.get("stored", test)
        if isinstance(stored, dict) and _finite(stored):
            return stored, "test"
    val = metrics.get("val")
    if isinstance(val, dict) and _finite(val):
        return val, "validation"
    return {}, ""


def _finite(metrics: dict) -> bool:
    return any(_number(metrics.get(k)) is not None for k in ("auroc", "pearson_r"))


def _number(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def model_warning(ckpt: dict, name: str = "the model") -> str | None:
    """A one-line warning when ``ckpt`` is near chance on held-out rows, or has no held-out
    metrics; ``None`` when it cleared the thresholds.

    Parameters
    ----------
    ckpt : dict
        A checkpoint as :func:`epitools.io.checkpoint.load_checkpoint` returns it.
    name : str
        How the message names the model (e.g. the checkpoint's path).
    """
    metrics, rows = held_out_metrics(ckpt)
    model = ckpt.get("model", "model")
    if not metrics:
        return (f"{name} ({model}) has no held-out metrics (no test or validation evaluation in "
                "the checkpoint): its attributions and scores may be meaningless")
    auroc, pearson = _number(metrics.get("auroc")), _number(metrics.get("pearson_r"))
    n = metrics.get("n")
    rows_text = f"{rows} rows" + (f", n = {n}" if n is not None else "")
    if auroc is not None and auroc < MIN_AUROC:
        return (f"{name} ({model}) is near chance: held-out AUROC {auroc:.3f} < {MIN_AUROC} "
                f"({rows_text}); its attributions, motifs and scores are not evidence of anything")
    if auroc is None and pearson is not None and pearson < MIN_PEARSON_R:
        return (f"{name} ({model}) is near chance: held-out Pearson R {pearson:.3f} < {MIN_PEARSON_R} "
                f"({rows_text}); its attention, knockout and motif scores are not evidence of anything")
    return None


def checkpoint_warning(path) -> str | None:
    """:func:`model_warning` of the checkpoint file ``path`` (named by its path)."""
    from epitools.io.checkpoint import load_checkpoint

    return model_warning(load_checkpoint(path), name=str(Path(path)))


def log_checkpoint_warning(path, logger) -> str | None:
    """:func:`checkpoint_warning` of ``path``, logged by ``logger`` at WARNING level between
    rule lines so that it stands out of a command's progress output; returns it."""
    warning = checkpoint_warning(path)
    if warning:
        rule = "!" * 78
        logger.warning("\n%s\nWARNING: %s\n%s", rule, warning, rule)
    return warning


#: Key of the warning in an ``attributions.npz``, and column of it in tables derived from one.
WARNING_KEY = "model_warning"


def attribution_warning(path, logger) -> str | None:
    """The model warning that ``epi-attribute scores`` stored in an ``attributions.npz``
    (``None`` when it stored none, or the file predates it), logged like
    :func:`log_checkpoint_warning`."""
    import numpy as np

    from epitools.errors import InputError

    try:
        with np.load(path, allow_pickle=False) as npz:  # lazy: only this entry is read
            warning = str(npz[WARNING_KEY]) if WARNING_KEY in npz.files else ""
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read attributions: {exc}", path=path) from exc
    if warning:
        rule = "!" * 78
        logger.warning("\n%s\nWARNING: %s (from %s)\n%s", rule, warning, path, rule)
    return warning or None


def write_warning_column(table, warning: str, path) -> None:
    """Rewrite table ``path`` (tab-separated, as written from ``table``) with a first column
    :data:`WARNING_KEY` holding ``warning`` on every row, so the warning travels with it."""
    from epitools.io.atomic import atomic_path

    table = table.copy()
    table.insert(0, WARNING_KEY, warning)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4g")
