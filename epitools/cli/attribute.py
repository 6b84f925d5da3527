"""``epi-attribute``: attributions, motifs, genome tracks and TF-pair enrichment.

Each subcommand reads the previous one's files, so a pipeline runs them as separate steps:
``scores`` → ``attributions.npz``; ``motifs`` → ``modisco.h5``, ``motifs.tsv``,
``motifs.html``, ``logos/``; ``tracks`` → bedGraph/bigWig tracks and ``*_top_regions``;
``tf-pairs`` → ``tf_pairs.tsv`` and ``tf_pairs.png``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from epitools.cli._common import command, group, out_option, seed_option
from epitools.errors import UsageError
from epitools.training.quality import attribution_warning, log_checkpoint_warning, write_warning_column

log = logging.getLogger("epitools.cli.attribute")


@group(help="Explain models: DeepLIFT/SHAP or ISM attributions, TF-MoDISco-lite motifs matched "
            "to JASPAR, attribution/attention tracks, and TF-pair enrichment.")
def main():
    pass


@command(help="Attributions of each pair's enhancer (given its promoter) or promoter (given its "
              "enhancer) → OUT/attributions.npz (ohe, hyp_scores, scores: N x 4 x L; pair_id). "
              "For EPInformer gene stores, the chosen enhancers of each gene are explained; for an "
              "epinformer_encoder run on its activity store (epi-encode activity), each window "
              "against its predicted activity.")
@click.option("--model", "model_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Checkpoint (model.pt) from epi-train.")
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Encoded store (.h5) of the pairs (or genes, or activity windows) to explain.")
@click.option("--method", type=click.Choice(["deep_lift_shap", "ism"]), default="deep_lift_shap",
              help="DeepLIFT/SHAP with dinucleotide-shuffled references, or in-silico mutagenesis.")
@click.option("--n-shuffles", type=click.IntRange(1), default=20, help="References per sequence (DeepLIFT).")
@click.option("--element", type=click.Choice(["enhancer", "promoter"]), default="enhancer",
              help="The element explained.")
@click.option("--max-pairs", type=click.IntRange(1), default=None,
              help="Explain at most N pairs (random; genes for EPInformer; for an activity store "
                   "with --rows positive, the N most active windows).")
@click.option("--rows", type=click.Choice(["positive", "all"]), default="positive",
              help="Which store rows: interacting pairs (all rows when none is labelled) or all; "
                   "for an activity store, the windows of at least median activity or all.")
@click.option("--slots-per-gene", type=click.IntRange(1), default=1,
              help="EPInformer: enhancers explained per gene (highest attention first).")
@click.option("--batch-size", type=click.IntRange(1), default=64, help="Sequence(-reference) pairs per pass.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@seed_option()
@out_option(help="Output directory.")
def scores(model_path, data, method, n_shuffles, element, max_pairs, rows, slots_per_gene, batch_size,
           device, seed, out):
    from epitools.interpret.attribution import attribute, load_model, save_attributions

    model, dev = load_model(model_path, device)
    warning = log_checkpoint_warning(model_path, log)
    result = attribute(model, data, element=element, max_pairs=max_pairs, rows=rows,
                       slots_per_gene=slots_per_gene, method=method, n_shuffles=n_shuffles,
                       batch_size=batch_size, device=dev, seed=seed)
    # Carried to `epi-attribute motifs`, which writes it into motifs.tsv (model_warning column).
    result["model_warning"] = warning or ""
    Path(out).mkdir(parents=True, exist_ok=True)
    path = save_attributions(result, Path(out) / "attributions.npz")
    log.info("%d %s attributions (%s) -> %s", len(result["pair_id"]), result["element"], method, path)


@command(help="TF-MoDISco-lite patterns from attributions, matched to JASPAR 2024 CORE vertebrates "
              "with Tomtom → OUT/modisco.h5, motifs.tsv, motifs.html, logos/. With --model and "
              "--data, also first-layer filters as PWMs → filters.tsv, filters.meme.")
@click.option("--attributions", required=True, type=click.Path(exists=True, dir_okay=False),
              help="attributions.npz from 'epi-attribute scores'.")
@click.option("--max-seqlets", type=click.IntRange(1), default=2000, help="Seqlets per metacluster.")
@click.option("--window", type=click.IntRange(5), default=21, help="Seqlet core width (bp).")
@click.option("--flank", type=click.IntRange(0), default=10, help="Seqlet flank (bp).")
@click.option("--min-metacluster-size", type=click.IntRange(1), default=50,
              help="Fewest seqlets of a sign to cluster them.")
@click.option("--final-min-cluster-size", type=click.IntRange(1), default=20,
              help="Fewest seqlets of a reported pattern.")
@click.option("--matches-per-pattern", "top", type=click.IntRange(1), default=3,
              help="JASPAR matches reported per pattern.")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False),
              help="Checkpoint whose first-layer filters are also matched.")
@click.option("--data", type=click.Path(exists=True, dir_okay=False),
              help="Pair store whose windows activate the filters (with --model; pair models only).")
@click.option("--element", type=click.Choice(["enhancer", "promoter"]), default="enhancer",
              help="Branch whose filters are read (with --model).")
@click.option("--max-pairs", type=click.IntRange(1), default=2000, help="Windows read for filter PWMs.")
@out_option(help="Output directory.")
def motifs(attributions, max_seqlets, window, flank, min_metacluster_size, final_min_cluster_size, top, model_path, data,
           element, max_pairs, out):
    from epitools.interpret.motifs import discover_motifs, filter_motifs

    if (model_path is None) != (data is None):
        raise UsageError("--model and --data go together (filters need windows to activate them)")
    warnings = [attribution_warning(attributions, log)]
    model = None
    if model_path:
        from epitools.interpret.attribution import load_model

        warnings.append(log_checkpoint_warning(model_path, log))
        model, _ = load_model(model_path, "cpu")
        if getattr(model, "task", "pairs") != "pairs":  # before minutes of TF-MoDISco, not after
            raise UsageError(f"--model: first-layer filters are read from pair models; {model_path} is a "
                             f"'{model.task}' model (leave out --model and --data for its attributions)")
    table = discover_motifs(attributions, out, max_seqlets=max_seqlets, window=window, flank=flank,
                            min_metacluster_size=min_metacluster_size,
                            final_min_cluster_size=final_min_cluster_size, top=top)
    if any(warnings):
        write_warning_column(table, "; ".join(filter(None, warnings)), Path(out) / "motifs.tsv")
    log.info("%d patterns -> %s", len(table), Path(out) / "motifs.tsv")
    if model is not None:
        filter_motifs(model, data, out, element=element, max_pairs=max_pairs, top=top)


@command(help="Per-base attribution and per-position attention as bedGraph + bigWig in genome "
              "coordinates, and the top regions of each element as BED/TSV.")
@click.option("--attributions", type=click.Path(exists=True, dir_okay=False),
              help="attributions.npz from 'epi-attribute scores'.")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False),
              help="Checkpoint with attention maps (epiann, epipam, epipdlf) for attention tracks.")
@click.option("--data", type=click.Path(exists=True, dir_okay=False), help="Pair store (with --model).")
@click.option("--chrom-sizes", required=True, type=click.Path(exists=True, dir_okay=False),
              help="chrom.sizes / .fai file, or the genome FASTA/2bit.")
@click.option("--width", type=click.IntRange(1), default=45, help="Top region width (bp).")
@click.option("--n-regions", type=click.IntRange(1), default=5, help="Top regions per element.")
@click.option("--max-pairs", type=click.IntRange(1), default=None, help="Pairs for attention tracks.")
@click.option("--rows", type=click.Choice(["positive", "all"]), default="all",
              help="Store rows for attention tracks.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@seed_option()
@out_option(help="Output directory.")
def tracks(attributions, model_path, data, chrom_sizes, width, n_regions, max_pairs, rows, device, seed,
           out):
    from epitools.interpret.tracks import write_tracks

    model, dev = None, "cpu"
    if attributions:
        attribution_warning(attributions, log)
    if model_path:
        from epitools.interpret.attribution import load_model

        model, dev = load_model(model_path, device)
        log_checkpoint_warning(model_path, log)
    write_tracks(out, chrom_sizes, attributions=attributions, model=model, store=data, width=width,
                 n_regions=n_regions, max_pairs=max_pairs, rows=rows, device=dev, seed=seed)


@command(name="tf-pairs", help="Enhancer-TF x promoter-TF co-occurrence in interacting vs "
                               "non-interacting pairs (FIMO on top regions, Fisher test, BH) → "
                               "OUT/tf_pairs.tsv and tf_pairs.png.")
@click.option("--enhancer-regions", required=True, type=click.Path(exists=True, dir_okay=False),
              help="enhancer_top_regions.tsv from 'epi-attribute tracks'.")
@click.option("--promoter-regions", required=True, type=click.Path(exists=True, dir_okay=False),
              help="promoter_top_regions.tsv from 'epi-attribute tracks'.")
@click.option("--motifs", "motif_ids", default=None,
              help="Comma-separated JASPAR IDs to scan (default: all CORE vertebrates).")
@click.option("--fimo-p-value", "threshold", type=float, default=1e-4, help="FIMO p-value threshold of a motif hit.")
@click.option("--min-pairs", type=click.IntRange(1), default=3, help="Fewest pairs with a combination to test it.")
@click.option("--heatmap-pairs", "top", type=click.IntRange(1), default=20, help="TF combinations shown in the heatmap.")
@out_option(help="Output directory.")
def tf_pairs(enhancer_regions, promoter_regions, motif_ids, threshold, min_pairs, top, out):
    from epitools.interpret.tf_pairs import write_tf_pairs

    table = write_tf_pairs(enhancer_regions, promoter_regions, out, motif_ids=motif_ids,
                           threshold=threshold, min_pairs=min_pairs, top=top)
    if len(table):
        best = table.iloc[0]
        log.info("%d TF pairs tested; top: %s x %s (q=%.3g) -> %s", len(table), best["enhancer_tf"],
                 best["promoter_tf"], best["q_value"], out)


main.add_command(scores, "scores")
main.add_command(motifs, "motifs")
main.add_command(tracks, "tracks")
main.add_command(tf_pairs, "tf-pairs")
