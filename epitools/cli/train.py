"""``epi-train``: train a registered model on an encoded store with a chosen split."""

from __future__ import annotations

import logging

import click
import yaml

from epitools.cli._common import command, out_option, seed_option
from epitools.errors import InputError

log = logging.getLogger("epitools.cli.train")


def _read_config(path) -> dict:
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise InputError(f"not valid YAML: {exc}", path=path, line=None if line is None else line + 1) from exc
    if not isinstance(data, dict):
        raise InputError("expected a mapping of hyperparameter names to values", path=path)
    return _as_hparams(data)


def _as_hparams(data: dict) -> dict:
    # Lists in YAML mean tuples in the models' hyperparameters (kernels, pools, ...).
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


def _parse_hparams(values, model: str) -> dict:
    """``NAME=VALUE`` strings → hyperparameters of ``model``.

    A ``MODEL.NAME`` item applies to that registered model only, so one argument list can
    tune several models (a pipeline's ``ext.args``). VALUE is read as YAML; a bare
    comma-separated VALUE is a list (``kernels=11,5,3``).
    """
    from epitools.models.registry import available_models

    parsed = {}
    for item in values:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got '{item}'", param_hint="--hparam")
        scope, dot, key = name.rpartition(".")
        if dot:
            if scope not in available_models():
                raise click.BadParameter(f"'{scope}' in '{item}' is not a registered model "
                                         f"({', '.join(available_models())})", param_hint="--hparam")
            if scope != model:
                continue
            name = key
        text = value.strip()
        if "," in text and not text.startswith(("[", "{", "'", '"')):
            text = f"[{text}]"
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise click.BadParameter(f"value of '{name}' is not valid YAML: {exc}",
                                     param_hint="--hparam") from exc
        parsed[name] = [_number(v) for v in value] if isinstance(value, list) else _number(value)
    return _as_hparams(parsed)


def _number(value):
    # YAML 1.1 reads "2e-3" (no dot) as a string; on a command line it means a float.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _cells(value: str | None):
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


def _save_test_curves(run_dir, label: str) -> None:
    """``roc.png`` and ``pr.png`` of the test predictions a pair run wrote (``predictions.tsv``)."""
    from pathlib import Path

    import pandas as pd

    from epitools.report.plots import save_pr, save_roc

    run_dir = Path(run_dir)
    pred = pd.read_csv(run_dir / "predictions.tsv", sep="\t", usecols=["label", "score"])
    curves = {label: (pred["label"].to_numpy(), pred["score"].to_numpy())}
    save_roc(run_dir / "roc.png", curves)
    save_pr(run_dir / "pr.png", curves)


def _print_models(ctx, fmt: str) -> None:
    import json

    from epitools.models.registry import MODEL_TABLE_COLUMNS, model_table

    rows = model_table()
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif fmt == "tsv":
        click.echo("\n".join(["\t".join(MODEL_TABLE_COLUMNS)]
                              + ["\t".join(str(row[c]) for c in MODEL_TABLE_COLUMNS) for row in rows]))
    else:
        width = max(len(row["name"]) for row in rows)

        def paper(row):
            data = f"x{row['augment_copies']} +-{row['max_shift']} bp" if row["augment_copies"] else "unaugmented"
            split = f"{row['paper_split']} ({row['paper_folds']} folds)" if row["paper_split"] else "-"
            return f"{data:<18}  {split}"

        click.echo("\n".join(f"{row['name']:<{width}}  {row['encoding']:<6}  {row['task']:<8}  {paper(row)}"
                              for row in rows))
    ctx.exit()


def _list_models_callback(ctx, param, value):
    # Both options are eager and processed in command-line order; whichever comes second
    # sees both values, so `--format tsv --list-models` and `--list-models --format tsv` agree.
    if ctx.resilient_parsing:
        return
    ctx.meta[f"epi_train.{param.name}"] = value
    listing, fmt = ctx.meta.get("epi_train.list_models"), ctx.meta.get("epi_train.list_format")
    if listing and fmt is not None:
        _print_models(ctx, fmt)


def _list_models_options(f):
    """``--list-models [--format text|tsv|json]``: print every registered model (name, store
    encoding, task, then its paper's data: augment_copies, max_shift, paper_split, paper_folds)
    and exit; the pipeline reads the TSV to choose each model's store and paper split."""
    f = click.option("--format", "list_format", type=click.Choice(["text", "tsv", "json"]), default="text",
                     is_eager=True, expose_value=False, callback=_list_models_callback,
                     help="Format of --list-models.")(f)
    return click.option("--list-models", is_flag=True, is_eager=True, expose_value=False,
                        callback=_list_models_callback,
                        help="Print every registered model (name, store encoding, task, and its paper's "
                             "augmentation and split) and exit.")(f)


# options that only some --split schemes read; giving one to another scheme is an error
_SPLIT_OPTIONS = {"folds": ("chrom", "chrom_inner", "random", "naive"), "train_cells": ("cell",),
                  "test_cells": ("cell",)}


def _refuse_unused_options(split: str) -> None:
    from epitools.data.splits import FIXED_FOLDS

    ctx = click.get_current_context()
    for name, schemes in _SPLIT_OPTIONS.items():
        if name == "folds" and ctx.params.get("folds") == FIXED_FOLDS.get(split):
            continue  # chrom12 has 12 folds, stratified 10: saying so is not a contradiction
        if split not in schemes and ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            option = "--" + name.replace("_", "-")
            raise click.UsageError(f"{option} is not used by --split {split} (only by "
                                   f"{', '.join(schemes)}); leave it out", ctx=ctx)


@command(help="Train a model on an encoded store (epi-encode) and evaluate it on the test fold. "
              "Writes model.pt (best epoch), last.pt, metrics.json, predictions.tsv, history.tsv, "
              "roc.png and pr.png to --out.")
@_list_models_options
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Encoded store (.h5): pairs, or genes for EPInformer.")
@click.option("--model", "model_name", required=True, help="Registered model name (epipam, epiann, ...).")
@click.option("--split", type=click.Choice(["chrom", "chrom_inner", "chrom12", "random", "naive", "stratified",
                                           "cell"]),
              default="chrom",
              help="chrom: chromosome k-fold (folds fixed by chromosome name; the next fold "
                   "validates); chrom_inner: EPIPAM's, the same test fold, training on the other k-1 "
                   "folds with validation drawn from within them; chrom12: EPInformer 12-fold; "
                   "random: overlap-aware groups; naive: plain random (leaks); stratified: EPIANN's "
                   "stratified random 90/10; cell: --train-cells vs --test-cells.")
@click.option("--folds", type=int, default=8, help="Number of folds (chrom, chrom_inner, random, naive).")
@click.option("--fold", type=int, default=1, help="Test fold, 1-based.")
@click.option("--train-cells", help="Comma-separated training cell types (--split cell).")
@click.option("--test-cells", help="Comma-separated test cell types (--split cell).")
@click.option("--val-fraction", type=float, default=0.1,
              help="Share of training groups held out for validation (random, naive, stratified, "
                   "chrom_inner, cell).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="YAML file of hyperparameters over the model's paper defaults.")
@click.option("--hparam", "hparam_items", multiple=True, metavar="NAME=VALUE",
              help="One hyperparameter over the defaults and --config (repeatable): "
                   "NAME=VALUE, or MODEL.NAME=VALUE for that model only, e.g. --hparam dropout=0 "
                   "--hparam epipam.kernels=11,5,3.")
@click.option("--epochs", type=click.IntRange(1), help="Maximum epochs [default: the model's "
              "paper value, else 20].")
@click.option("--batch-size", type=click.IntRange(1), help="Batch size [default: the model's paper "
              "value (EPInformer 64, EPIPAM 100, EPIANN 32), else 64].")
@click.option("--lr", type=float, help="Learning rate [default: the paper's].")
@click.option("--weight-decay", type=float, help="L2 penalty [default: the paper's].")
@click.option("--patience", type=click.IntRange(1), help="Early stopping: epochs without a better "
              "validation AUPRC (pairs) or MSE (genes) [default: the model's paper value "
              "(EPInformer 6), else 5].")
@click.option("--class-weight", is_flag=True, help="Weight positives by negatives/positives in the loss "
              "(instead of, or on top of, augmented positives in the store).")
@click.option("--negatives-per-positive", type=click.IntRange(1), help="Each epoch, train on every "
              "training positive and N times as many negatives, drawn afresh (seeded); validation and "
              "test keep every row. With --class-weight the positive weight becomes N.")
@click.option("--init-from", type=click.Path(exists=True, dir_okay=False),
              help="Start from this checkpoint's weights (fine-tuning).")
@click.option("--freeze", multiple=True, help="Parameter name prefix to freeze (repeatable), "
              "e.g. enhancer_blocks.")
@click.option("--adversarial", type=click.Choice(["pgd"]), help="Adversarial training on token "
              "embeddings (k-mer models).")
@click.option("--resume", is_flag=True, help="Continue from --out/last.pt if it exists.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@click.option("--workers", type=int, default=0, help="DataLoader worker processes.")
@click.option("--no-amp", is_flag=True, help="Disable mixed precision on CUDA.")
@click.option("--strategy", type=click.Choice(["single", "pretrain-finetune"]), default="single",
              show_default=True, help="pretrain-finetune (EPIPDLF): pre-train on --data (pooled cell "
              "lines) for the pretrain_epochs hparam into --out/pretrain, then fine-tune on "
              "--finetune-data for finetune_epochs at finetune_lr into --out (paper: 15, 10, 1e-3).")
@click.option("--finetune-data", type=click.Path(exists=True, dir_okay=False),
              help="Store of the target cell line (--strategy pretrain-finetune).")
@seed_option()
@out_option(help="Run directory.")
def main(data, model_name, split, folds, fold, train_cells, test_cells, val_fraction, config_path, hparam_items, epochs,
         batch_size, lr, weight_decay, patience, class_weight, negatives_per_positive, init_from, freeze, adversarial, resume,
         device, workers, no_amp, strategy, finetune_data, seed, out):
    from epitools.training.loop import TrainConfig, train

    _refuse_unused_options(split)
    hparams = {**(_read_config(config_path) if config_path else {}), **_parse_hparams(hparam_items, model_name)}
    config = TrainConfig(
        data=data, model=model_name, out=out, split=split, folds=folds, fold=fold, seed=seed,
        epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, hparams=hparams,
        patience=patience, val_fraction=val_fraction, train_cells=_cells(train_cells),
        test_cells=_cells(test_cells), class_weight=class_weight,
        negatives_per_positive=negatives_per_positive, init_from=init_from,
        freeze=list(freeze), adversarial=adversarial, resume=resume, device=device, workers=workers,
        amp=not no_amp)
    if strategy == "pretrain-finetune":
        from epitools.training.strategy import train_pretrain_finetune

        if not finetune_data:
            raise click.BadParameter("--strategy pretrain-finetune needs --finetune-data", param_hint="--finetune-data")
        result = train_pretrain_finetune(config, finetune_data)
    elif finetune_data:
        raise click.BadParameter("--finetune-data is for --strategy pretrain-finetune", param_hint="--finetune-data")
    else:
        result = train(config)
    if result["task"] == "pairs":
        _save_test_curves(out, f"{model_name} fold {fold}")
        log.info("test fold %d: AUROC %.4f, AUPRC %.4f, F1 %.4f (n=%d, positives=%d) -> %s",
                 fold, result["auroc"] or float("nan"), result["auprc"] or float("nan"),
                 result["f1"] or float("nan"), result["n"], result["positives"], out)
    else:
        log.info("test fold %d: Pearson R %.4f, MSE %.4f (n=%d) -> %s", fold,
                 result["pearson_r"] or float("nan"), result["mse"] or float("nan"), result["n"], out)
