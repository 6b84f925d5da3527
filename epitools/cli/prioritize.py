"""``epi-prioritize``: enhancer prioritization scores and their CRISPRi evaluation.

A click group; each score is a subcommand (``abc``, ``evaluate``; others attach more with
``main.add_command(fn, "name")``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from epitools.cli._common import command, group, out_option
from epitools.errors import UsageError
from epitools.contacts import cooler_contacts as cc

log = logging.getLogger("epitools.cli.prioritize")


@group(help="Prioritize enhancers per gene (ABC; EPInformer attention, attention-ABC, knockout) "
            "and evaluate against CRISPRi benchmarks.")
def main():
    pass


@command(help="Activity-by-Contact score for every pair of a pairs table. Activity comes from an "
              "`activity` column, or from DNase/H3K27ac tracks over the enhancers; contact from a "
              "`contact_norm` column, a Hi-C file, or the power law.")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--dhs", type=click.Path(exists=True, dir_okay=False), default=None,
              help="DNase/ATAC bedGraph (read counts per element, or signal) or bigWig.")
@click.option("--h3k27ac", type=click.Path(exists=True, dir_okay=False), default=None,
              help="H3K27ac bedGraph or bigWig.")
@click.option("--qnorm", type=click.Path(exists=True, dir_okay=False), default=None,
              help="ABC quantile-normalisation reference (EnhancersQNormRef.<cell>.txt).")
@click.option("--hic", type=click.Path(exists=True, dir_okay=False), default=None,
              help=".cool/.mcool (else `contact_norm` column, else power law).")
@click.option("--resolution", type=int, default=None)
@click.option("--balance", type=click.Choice(cc.BALANCE_CHOICES), default="auto")
@click.option("--gamma", type=float, default=None, help="Power-law exponent [ABC's K562 fit].")
@click.option("--scale", type=float, default=None, help="Power-law log-scale [ABC's K562 fit].")
@click.option("--window", type=float, default=5_000_000, help="Candidate elements within this of the TSS.")
@click.option("--self-promoter/--no-self-promoter", default=True,
              help="Score a gene's own promoter element 1 (needs a `class` column).")
@click.option("--threshold", type=float, default=0.02, help="abc_predicted = abc_score >= threshold.")
@out_option(help="Output pairs table with abc_numerator, abc_score, abc_predicted.", file=True)
def abc(pairs_path, dhs, h3k27ac, qnorm, hic, resolution, balance, gamma, scale, window,
        self_promoter, threshold, out):
    import numpy as np

    from epitools.contacts import pair_contacts
    from epitools.errors import InputError
    from epitools.io.pairs import read_pairs, write_pairs
    from epitools.io.tracks import element_signal
    from epitools.prioritize.abc import abc_score, element_activity

    pairs = read_pairs(pairs_path)
    if "gene" not in pairs.columns:
        pairs["gene"] = pairs["promoter_chrom"].astype(str) + ":" + pairs["promoter_start"].astype(str)
    if dhs is not None:
        elements = pairs[["enhancer_chrom", "enhancer_start", "enhancer_end"]].drop_duplicates()
        elements.columns = ["chrom", "start", "end"]
        is_prom = None
        if "class" in pairs.columns:
            cls = pairs.drop_duplicates(["enhancer_chrom", "enhancer_start", "enhancer_end"])["class"]
            is_prom = cls.astype(str).str.lower().isin(["promoter", "tss"]).to_numpy()
        act = element_activity(element_signal(elements, dhs),
                               element_signal(elements, h3k27ac) if h3k27ac else None,
                               is_promoter=is_prom, qnorm_reference=qnorm)
        act.index = elements.index
        elements = elements.join(act[["activity_base"]]).rename(columns={
            "chrom": "enhancer_chrom", "start": "enhancer_start", "end": "enhancer_end",
            "activity_base": "activity"})
        pairs = pairs.drop(columns=["activity"], errors="ignore").merge(
            elements, on=["enhancer_chrom", "enhancer_start", "enhancer_end"], how="left")
    elif "activity" not in pairs.columns:
        raise InputError("no activity: give --dhs (and --h3k27ac) or an `activity` column",
                         path=pairs_path, field="activity")
    if hic is not None or "contact_norm" not in pairs.columns:
        pairs = pair_contacts(pairs, hic, resolution=resolution, balance=balance, gamma=gamma, scale=scale)
    elif "distance" not in pairs.columns:
        from epitools.contacts import pair_geometry

        pairs["distance"] = pair_geometry(pairs)["distance"]
    if "tss" not in pairs.columns:
        from epitools.contacts import pair_geometry

        pairs["tss"] = pair_geometry(pairs)["tss"]
    scored = abc_score(pairs, window=window, self_promoters=self_promoter, threshold=threshold)
    write_pairs(scored, out)
    log.info("ABC: %d pairs, %d at or above %.3g -> %s", len(scored),
             int(np.nansum(scored["abc_predicted"])), threshold, out)


@command(help="Evaluate predictors on a CRISPRi benchmark (ENCODE-rE2G format or the Nasser 2021 "
              "compendium): AUPRC, precision at 70% recall, AUPRC per distance bin, PR curves. "
              "Distance (lower = better) is always evaluated.")
@click.option("--benchmark", "-b", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--predictions", "-p", multiple=True, type=click.Path(exists=True, dir_okay=False),
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
@click.option("--published-column", multiple=True, default=["ABC.ABC.Score"])
@click.option("--activities", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Table of element DHS.RPM/H3K27ac.RPM (ENCODE-rE2G training format): adds our ABC "
                   "from these activities and the power-law contact.")
@click.option("--gamma", type=float, default=None, help="Power law of our ABC [ABC's K562 fit].")
@click.option("--scale", type=float, default=None)
@click.option("--cell-type", default="K562")
@click.option("--all-pairs", is_flag=True, help="Keep pairs the benchmark marks as not for evaluation.")
@click.option("--union/--common", default=False,
              help="Score every pair (missing scores rank last) or only pairs every predictor covers.")
@out_option(help="Output directory (evaluation.tsv, pr_curves.png, matched.tsv).")
def evaluate(benchmark, predictions, score_column, aggregate, columns, published, published_column,
             activities, gamma, scale, cell_type, all_pairs, union, out):
    import numpy as np
    import pandas as pd

    from epitools.errors import InputError
    from epitools.io.atomic import atomic_open
    from epitools.prioritize import crispr

    bench = crispr.read_benchmark(benchmark, cell_type=cell_type, all_pairs=all_pairs)
    scores: dict[str, np.ndarray] = {}
    if published:
        comp = crispr.read_benchmark(published, cell_type=cell_type, all_pairs=True)
        for col in published_column:
            if col not in comp.columns:
                raise InputError(f"no column '{col}'", path=published, field=col)
            lookup = comp.drop_duplicates(["gene", "element_key"]).set_index(["gene", "element_key"])[col]
            idx = pd.MultiIndex.from_arrays([bench["gene"], bench["element_key"]])
            scores[f"published {col}"] = pd.to_numeric(lookup.reindex(idx), errors="coerce").to_numpy()
    for col in columns:
        if col not in bench.columns:
            raise InputError(f"benchmark has no column '{col}'", path=benchmark, field=col)
        scores[col] = pd.to_numeric(bench[col], errors="coerce").to_numpy()
    for path in predictions:
        pred = pd.read_csv(path, sep="\t", low_memory=False)
        col = score_column or next((c for c in ("ABC.Score", "abc_score", "powerlaw.Score", "score")
                                    if c in pred.columns), None)
        if col is None:
            raise InputError("no score column found; use --score-column", path=path, line=1)
        scores[f"{Path(path).name.split('.')[0]}:{col}"] = crispr.match_predictions(bench, pred, col, aggregate)
    if activities:
        scores["ABC (ours: activity x power law)"] = crispr.benchmark_abc(
            bench, crispr.element_activity_table(activities), gamma, scale)
    scores["distance (negated)"] = -bench["distance"].to_numpy(np.float64)

    matched = bench.copy()
    for name, vals in scores.items():
        matched[name] = vals
    if union:
        keep = np.ones(len(bench), bool)
        scores = {k: np.where(np.isnan(v), -np.inf, v) for k, v in scores.items()}
    else:
        keep = np.logical_and.reduce([np.isfinite(v) for v in scores.values()])
        log.info("%d of %d pairs have every predictor (use --union to score all)", int(keep.sum()), len(bench))
    if not keep.any() or bench["label"].to_numpy()[keep].sum() == 0:
        raise InputError("no evaluable pairs with a positive after matching predictors", path=benchmark)
    labels = bench["label"].to_numpy()[keep]
    sub = {k: v[keep] for k, v in scores.items()}
    table = crispr.evaluate_predictors(labels, sub, bench["distance"].to_numpy()[keep])
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    with atomic_open(outdir / "evaluation.tsv") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.4f")
    with atomic_open(outdir / "matched.tsv") as fh:
        matched.assign(evaluated=keep).to_csv(fh, sep="\t", index=False)
    crispr.plot_pr_curves(labels, sub, outdir / "pr_curves.png")
    click.echo(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


@command(help="EPInformer scores for every candidate enhancer of a gene-level store: attention "
              "(promoter query, mean over heads and layers, sums to 1 per gene), ABC, attention-ABC, "
              "in-silico knockout (predicted expression change with the enhancer masked) and "
              "distance, with per-gene ranks (1 = most important). Writes scores.tsv and a locus "
              "plot locus_<gene>.png per --plot gene.")
@click.option("--model", "model_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="EPInformer checkpoint (epi-train --model epinformer).")
@click.option("--data", "store_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Gene-level store (epi-encode --genes ... --elements ...).")
@click.option("--gene", "genes", multiple=True, help="Score only this gene (repeatable) [all genes].")
@click.option("--plot", "plot_genes", multiple=True, help="Draw the locus of this gene (repeatable).")
@click.option("--batch-size", type=click.IntRange(1), default=8, help="Genes per forward pass.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@out_option(help="Output directory (scores.tsv, locus_<gene>.png).")
def epinformer(model_path, store_path, genes, plot_genes, batch_size, device, out):
    # torch is imported here so that `abc` and `evaluate` start without it.
    from epitools.io.checkpoint import load_checkpoint, model_from_checkpoint
    from epitools.prioritize.scores import plot_locus, score_genes, write_scores
    from epitools.training.sources import resolve_device

    ckpt = load_checkpoint(model_path, encoding="onehot")
    if ckpt["model"] != "epinformer":
        raise UsageError(f"{model_path} is a '{ckpt['model']}' checkpoint; attention and knockout "
                         "scores need an EPInformer model")
    model = model_from_checkpoint(ckpt, device=resolve_device(device))
    scores = score_genes(model, store_path, genes=list(genes) or None, batch_size=batch_size)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_scores(scores, out / "scores.tsv")
    for gene in plot_genes:
        plot_locus(scores, gene, out / f"locus_{gene}.png")
    log.info("%d gene-enhancer pairs of %d genes -> %s", len(scores), scores["gene"].nunique(),
             out / "scores.tsv")


main.add_command(abc, "abc")
main.add_command(evaluate, "evaluate")
main.add_command(epinformer, "epinformer")
