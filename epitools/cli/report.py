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


@command(help="One self-contained HTML page of every epitools output under RUNS (folders are "
              "searched recursively, links followed): pair models (ROC / PR with chance lines, "
              "calibration, training curves, mean ± s.d. per model, cell type and split), EPInformer "
              "(predicted vs observed, R per fold), ABC and enhancer scores (PR against a "
              "simulation's planted drivers when its truth.json is found, or CRISPRi evaluations; "
              "score distributions; locus plots), motifs with logos and JASPAR matches, TF pairs, "
              "Hi-C distance decay with its power law, and versions.yml. Sections of absent "
              "outputs are left out; e.g. epi-report results/ -o results/report.html.")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--title", default="epitools report", help="Page title.")
@click.option("--no-figures", is_flag=True, help="Tables only (and the images the commands wrote).")
@click.option("--summary", type=click.Path(dir_okay=False, writable=True),
              help="Also write the training-run summary table (mean ± s.d.) as TSV.")
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


@command(help="Print the held-out results of a results folder (as `make demo` writes it): each "
              "pair model's test AUROC/AUPRC next to ABC and distance on the same pairs, each "
              "expression model's Pearson R next to ABC and distance baselines on the same genes, "
              "the planted-driver AUPRC of every prioritisation score (truth.json), and a warning "
              "for every model near chance. Writes summary.tsv and summary.json to --out.")
@click.argument("results", type=click.Path(exists=True, file_okay=False))
@out_option(help="Directory for summary.tsv and summary.json [default: RESULTS].", required=False)
def summary(results, out):
    from epitools.report.summary import write_summary

    _, text = write_summary(results, out)
    click.echo(text)


main.add_command(summary, "summary")


@command(help="Genome-browser files of a pairs or links table (epi-prioritize abc/links, "
              "epi-predict): links.bedpe (IGV), links.interact (UCSC interact, bed5+13; "
              "bigInteract.sh turns it into links.bb with bedToBigBed), element bigWigs, tracks.txt "
              "(track-hub stanzas) and igv_session.xml. Score and colour scale with --score-column "
              "(larger = stronger).")
@click.option("--links", "links_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Pairs table with a score column.")
@click.option("--score-column", required=True, help="Column that scores the links, e.g. abc_score.")
@click.option("--score-threshold", "threshold", type=float, default=None, help="Keep links with score >= this [all].")
@click.option("--bigwig-column", "bigwig_columns", multiple=True,
              help="Element column written as <column>.bw (repeatable) [activity, when present].")
@click.option("--chrom-sizes", type=click.Path(exists=True, dir_okay=False), default=None,
              help="chrom.sizes / .fai / genome FASTA [largest coordinate seen per chromosome].")
@click.option("--name", default="epitools", show_default=True, help="Track label prefix.")
@click.option("--genome", default="hg38", show_default=True, help="Genome of the IGV session.")
@out_option(help="Output directory.")
def tracks(links_path, score_column, threshold, bigwig_columns, chrom_sizes, name, genome, out):
    import logging

    from epitools.io.pairs import read_pairs
    from epitools.io.tracks import read_chrom_sizes
    from epitools.report.browser import write_tracks

    table = read_pairs(links_path)
    sizes = read_chrom_sizes(chrom_sizes) if chrom_sizes else None
    result = write_tracks(table, out, score_column, threshold=threshold,
                          bigwig_columns=list(bigwig_columns) or None, chrom_sizes=sizes,
                          name=name, genome=genome)
    logging.getLogger("epitools.cli.report").info("%d links -> %s (%s)", result["links"], out,
                                                  ", ".join(result["files"]))


main.add_command(tracks, "tracks")
