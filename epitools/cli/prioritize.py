"""``epi-prioritize``: enhancer prioritization scores and their CRISPRi evaluation.

A click group; each score is a subcommand (``abc``, ``evaluate``; others attach more with
``main.add_command(fn, "name")``).
"""

from __future__ import annotations

import logging

import click

from epitools.cli._common import command, group, out_option
from epitools.cli.contacts import divisive_weights_option
from epitools.contacts import cooler_contacts as cc

log = logging.getLogger("epitools.cli.prioritize")


@group(help="Prioritize enhancers per gene (ABC; EPInformer attention, attention-ABC, knockout) "
            "and evaluate against CRISPRi benchmarks.")
def main():
    pass


@command(help="Activity-by-Contact score for every pair of a pairs table. Activity comes from an "
              "`activity` column, or from DNase/H3K27ac tracks over the enhancers; contact from a "
              "`contact_norm` column, a Hi-C file, or the power law.")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Pairs table (any format epitools reads), e.g. epi-candidates pairs or epi-contacts output.")
@click.option("--dnase", "dhs", type=click.Path(exists=True, dir_okay=False), default=None,
              help="DNase-seq or ATAC-seq bedGraph (read counts per element, or signal) or bigWig.")
@click.option("--h3k27ac", type=click.Path(exists=True, dir_okay=False), default=None,
              help="H3K27ac bedGraph or bigWig.")
@click.option("--merge-overlaps", is_flag=True, help="Merge overlapping bedGraph intervals (their values "
              "add up) instead of refusing the track.")
@click.option("--qnorm", type=click.Path(exists=True, dir_okay=False), default=None,
              help="ABC quantile-normalisation reference (EnhancersQNormRef.<cell>.txt).")
@click.option("--hic", type=click.Path(exists=True, dir_okay=False), default=None,
              help=".hic/.cool/.mcool (else `contact_norm` column, else power law).")
@click.option("--resolution", type=int, default=None, help="Hi-C resolution (bp) [the finest in the file].")
@click.option("--balance", type=click.Choice(cc.BALANCE_CHOICES), default="auto",
              help="Hi-C balancing column/normalisation (auto: the file's own).")
@divisive_weights_option
@click.option("--gamma", type=float, default=None, help="Power-law exponent [ABC's K562 fit].")
@click.option("--scale", type=float, default=None, help="Power-law log-scale [ABC's K562 fit].")
@click.option("--window", type=float, default=5_000_000, help="Candidate elements within this of the TSS.")
@click.option("--self-promoter/--no-self-promoter", default=True,
              help="Score a gene's own promoter element 1 (needs a `class` column).")
@click.option("--abc-threshold", "threshold", type=float, default=0.02,
              help="abc_predicted = abc_score >= this cutoff.")
@click.option("--summaries", type=click.Path(file_okay=False), default=None,
              help="Also write ABC's EnhancerPredictionsFull/EnhancerPredictions (score > --abc-threshold; "
                   "promoter elements only as their gene's self-promoter) and GenePredictionStats here.")
@out_option(help="Output pairs table with abc_numerator, abc_score, abc_predicted. Without --dnase the "
                 "table is scored one chromosome at a time (memory: one chromosome).", file=True)
def abc(pairs_path, dhs, h3k27ac, qnorm, hic, resolution, balance, divisive_weights, gamma, scale, window,
        self_promoter, threshold, summaries, out, merge_overlaps):
    from epitools.prioritize.abc_genome import score_pairs_file

    stats = score_pairs_file(pairs_path, out, summaries=summaries, dnase=dhs, h3k27ac=h3k27ac, qnorm=qnorm,
                             hic=hic, resolution=resolution, balance=balance,
                             divisive_weights=divisive_weights, gamma=gamma, scale=scale,
                             window=window, self_promoters=self_promoter, threshold=threshold,
                             merge_overlaps=merge_overlaps)
    log.info("ABC: %d pairs, %d at or above %.3g -> %s", stats["pairs"], stats["predicted"], threshold, out)


@command(help="Evaluate predictors on a CRISPRi benchmark (ENCODE-rE2G format or the Nasser 2021 "
              "compendium): AUPRC, precision at 70% recall, AUPRC per distance bin, PR curves; one "
              "table per cell type of the benchmark, plus pooled when there are several. Distance "
              "(lower = better) is always evaluated. Pairs without a TSS take the benchmark's own "
              "distance; every pair or positive left out is logged with its count.")
@click.option("--benchmark", required=True, type=click.Path(exists=True, dir_okay=False),
              help="CRISPRi benchmark table (ENCODE-rE2G format or the Nasser 2021 compendium).")
@click.option("--predictions", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Prediction table(s), matched to tested elements of the same gene by overlap.")
@click.option("--score-column", default=None,
              help="Score column of --predictions [first of ABC.Score, abc_score, powerlaw.Score, score].")
@click.option("--aggregate", type=click.Choice(["max", "sum"]), default="max",
              help="Combine several predicted elements overlapping one tested element.")
@click.option("--column", "columns", multiple=True,
              help="Predictor column carried by the benchmark itself (e.g. ABC.ABC.Score).")
@click.option("--published", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Nasser 2021 compendium: attach its published scores (--published-column) by "
                   "gene and hg19 element.")
@click.option("--published-column", multiple=True, default=["ABC.ABC.Score"],
              help="Column(s) of --published to attach (repeatable).")
@click.option("--activities", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Table of element DHS.RPM/H3K27ac.RPM (ENCODE-rE2G training format): adds our ABC "
                   "from these activities and the power-law contact.")
@click.option("--gamma", type=float, default=None, help="Power law of our ABC [ABC's K562 fit].")
@click.option("--scale", type=float, default=None, help="Power-law log-scale of our ABC [ABC's K562 fit].")
@click.option("--cell-type", "cell_types", multiple=True,
              help="Evaluate only this cell type of the benchmark (repeatable) [every one present].")
@click.option("--all-pairs", is_flag=True, help="Keep pairs the benchmark marks as not for evaluation.")
@click.option("--union/--common", default=False,
              help="Score every pair (see --nan) or only pairs every predictor covers.")
@click.option("--nan", "nan_policy", type=click.Choice(["lowest", "drop"]), default="lowest",
              help="With --union: a predictor's missing scores rank below all its others, or those "
                   "pairs leave its evaluation.")
@out_option(help="Output directory (evaluation.tsv, matched.tsv, pr_curves.png and, with several "
                 "cell types, pr_curves_<cell type>.png).")
def evaluate(benchmark, predictions, score_column, aggregate, columns, published, published_column,
             activities, gamma, scale, cell_types, all_pairs, union, nan_policy, out):
    from epitools.prioritize import crispr

    result = crispr.evaluate_benchmark(
        benchmark, cell_types=cell_types or None, all_pairs=all_pairs, union=union, nan=nan_policy,
        predictions=predictions, score_column=score_column, aggregate=aggregate, columns=columns,
        published=published, published_columns=published_column, activities=activities,
        gamma=gamma, scale=scale)
    crispr.write_evaluation(result, out)
    click.echo(crispr.format_evaluation(result))
    log.info("%d predictor(s) in %d table(s) -> %s", result.table["predictor"].nunique(),
             len(result.groups), out)


@command(help="EPInformer scores for every candidate enhancer of a gene-level store: attention "
              "(promoter query, mean over heads and layers, sums to 1 per gene), ABC, attention-ABC "
              "(the paper's: a PE-Activity model's attention x activity x contact, renormalised per "
              "gene; see --attention-model), model_attention_abc (the same from --model's own "
              "attention, e.g. the Hi-C variant's), in-silico knockout (predicted expression change "
              "with the enhancer masked) and distance, with per-gene ranks (1 = most important). "
              "Several --model (or --runs) score strictly held out: each gene by the fold model "
              "whose test chromosomes hold it (fold_model column). Writes scores.tsv and a locus "
              "plot locus_<gene>.png per --plot gene.")
@click.option("--model", "model_paths", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="EPInformer checkpoint (epi-train --model epinformer); repeatable, one per fold, "
                   "each beside its run's metrics.json.")
@click.option("--runs", "runs_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Directory of fold runs: every model.pt under it is a --model.")
@click.option("--held-out", is_flag=True,
              help="With one --model, score only the genes on its run's test chromosomes "
                   "[on with several models or --runs].")
@click.option("--attention-model", "attention_paths", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="EPInformer-PE-Activity checkpoint whose attention makes attention_abc (the "
                   "paper's definition); repeatable, matched to --model runs by their test "
                   "chromosomes [--model itself, with a warning unless it is PE-Activity].")
@click.option("--data", "store_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Gene-level store (epi-encode genes --genes ... --elements ...).")
@click.option("--gene", "genes", multiple=True, help="Score only this gene (repeatable) [all genes].")
@click.option("--plot", "plot_genes", multiple=True, help="Draw the locus of this gene (repeatable).")
@click.option("--batch-size", type=click.IntRange(1), default=8, help="Genes per forward pass.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@out_option(help="Output directory (scores.tsv, locus_<gene>.png).")
def epinformer(model_paths, runs_dir, held_out, attention_paths, store_path, genes, plot_genes, batch_size,
               device, out):
    # torch is imported here so that `abc` and `evaluate` start without it.
    from epitools.errors import UsageError
    from epitools.prioritize.held_out import load_fold_models, run_checkpoints, score_genes_held_out
    from epitools.prioritize.scores import load_epinformer, score_genes, write_gene_scores
    from epitools.training.quality import log_checkpoint_warning

    paths = list(model_paths) + (run_checkpoints(runs_dir) if runs_dir else [])
    if not paths:
        raise UsageError("give --model (repeatable) or --runs")
    for path in paths:
        log_checkpoint_warning(path, log)
    if len(paths) > 1 or runs_dir or held_out:
        folds = load_fold_models(paths, attention_paths, device)
        scores = score_genes_held_out(folds, store_path, genes=list(genes) or None, batch_size=batch_size)
    else:
        if len(attention_paths) > 1:
            raise UsageError("one --model takes at most one --attention-model")
        attention = load_epinformer(attention_paths[0], device) if attention_paths else None
        scores = score_genes(load_epinformer(paths[0], device), store_path, genes=list(genes) or None,
                             batch_size=batch_size, attention_model=attention)
    path = write_gene_scores(scores, out, plot_genes)
    log.info("%d gene-enhancer pairs of %d genes -> %s", len(scores), scores["gene"].nunique(), path)


@command(help="Join score tables by (element, gene) into one links table: every score, per-gene "
              "ranks of each (rank_<score>, 1 = most important) and ABC's abc_predicted at "
              "--abc-threshold. Streamed one chromosome at a time (memory: one chromosome).")
@click.option("--abc", "abc_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="epi-prioritize abc output (abc_score; gene column).")
@click.option("--epinformer", "epinformer_path", type=click.Path(exists=True, dir_okay=False),
              default=None, help="epi-prioritize epinformer scores.tsv.")
@click.option("--pairs-scores", "pairs_scores", multiple=True, metavar="[NAME=]TABLE",
              help="epi-predict output (score column), repeatable; its column is NAME_score "
                   "[NAME: the file name's stem]. Without a gene column, genes come from the ABC "
                   "row with the same promoter.")
@click.option("--abc-threshold", "threshold", type=float, default=0.02, show_default=True,
              help="abc_predicted = abc_score >= this cutoff.")
@out_option(help="Output links table (TSV).", file=True)
def links(abc_path, epinformer_path, pairs_scores, threshold, out):
    from epitools.prioritize.links import build_links

    stats = build_links(abc_path, out, epinformer=epinformer_path, pairs_scores=pairs_scores,
                        threshold=threshold)
    log.info("links: %d element-gene links of %d genes on %d chromosome(s), %d ABC-predicted at "
             "%g; ranked %s -> %s", stats["links"], stats["genes"], stats["chromosomes"],
             stats["predicted"], threshold, ", ".join(stats["scores"]), out)


main.add_command(abc, "abc")
main.add_command(evaluate, "evaluate")
main.add_command(epinformer, "epinformer")
main.add_command(links, "links")
