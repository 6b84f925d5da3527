"""``epi-report``: results of many runs in one place.

Subcommands: ``html`` (the default: ``epi-report runs/ -o report.html``) gathers every run
under the given folders into one HTML page.
"""

from __future__ import annotations

import click

from epitools.cli._common import command, default_group, out_option


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
