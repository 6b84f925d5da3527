"""``epi-report``: results of many runs in one place.

Subcommands: ``html`` (the default: ``epi-report runs/ -o report.html``) gathers every run
under the given folders into one HTML page; ``select`` picks the best run by one metric.
"""

from __future__ import annotations

import click

from epitools.cli._common import command, default_group, out_option, seed_option


@default_group("html", help="Reports over training runs and prediction tables. Without a "
                            "subcommand, `html` runs: epi-report RUNS... -o report.html.")
def main():
    pass


@command(help="Collect metrics.json of training runs (directories are searched recursively) into "
              "one self-contained HTML page: mean ± s.d. per model, cell type and split, every run, "
              "and pooled ROC / PR curves.")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--title", default="epitools report", help="Page title.")
@click.option("--no-figures", is_flag=True, help="Tables only.")
@click.option("--summary", type=click.Path(dir_okay=False, writable=True),
              help="Also write the summary table as TSV.")
@out_option(help="Output HTML file.", file=True)
def html(runs, title, no_figures, summary, out):
    from epitools.io.atomic import atomic_open
    from epitools.report.html import write_report

    table = write_report(runs, out, title=title, figures=not no_figures)
    if summary:
        with atomic_open(summary, "w") as fh:
            table.to_csv(fh, sep="\t", index=False, float_format="%.6g")


main.add_command(html, "html")


@command(help="Pick the best training run by one metrics.json metric on the validation rows "
              "(--on val, best epoch) or the test fold (--on test); ties go to the first run in "
              "(model, fold, path) order. Writes --out/selection.json (chosen run and every "
              "candidate, ranked), selection.tsv (one row: run model fold metric on value) and "
              "model.pt (a copy of the chosen checkpoint).")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--metric", default="auroc", help="Numeric metrics.json field: auroc, auprc, f1, "
              "pearson_r, spearman_r, mse (lower is better for mse; higher for the others).")
@click.option("--on", "on", type=click.Choice(["val", "test"]), default="val",
              help="Rows whose metric decides: validation (best epoch) or test fold.")
@out_option(help="Selection directory.")
def select(runs, metric, on, out):
    from epitools.report.select import select_run

    select_run(runs, metric=metric, on=on, out=out)


main.add_command(select, "select")


@command(help="Evaluate an external pair-level prediction table: AUROC, AUPRC, F1 (score >= 0.5) "
              "at the table's own ratio and re-sampled to 1:1 and 1:10 negatives per positive, "
              "pooled and per --by group, with ROC and PR plots. Reads any pairs table the "
              "project reads, or a plain TSV/CSV with the label and score columns. Writes "
              "--out/score_metrics.json, score_metrics.tsv, roc.png and pr.png.")
@click.option("--predictions", "predictions", required=True,
              type=click.Path(exists=True, dir_okay=False), help="Prediction table.")
@click.option("--score-column", default="prediction", help="Column of scores (higher = interacting).")
@click.option("--label-column", default="label", help="Column of 0/1 labels.")
@click.option("--by", default=None, help="Also evaluate each value of this column (e.g. cell_type).")
@click.option("--no-figures", is_flag=True, help="Tables only.")
@seed_option()
@out_option(help="Output directory.")
def score(predictions, score_column, label_column, by, no_figures, seed, out):
    from epitools.report.score import metrics_table, score_file

    result = score_file(predictions, out, score_column=score_column, label_column=label_column,
                        by=by, seed=seed, figures=not no_figures)
    click.echo(metrics_table(result.summary).to_string(index=False, float_format="%.4f"))


main.add_command(score, "score")
