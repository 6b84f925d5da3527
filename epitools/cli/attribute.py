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

log = logging.getLogger("epitools.cli.attribute")


@group(help="Explain models: DeepLIFT/SHAP or ISM attributions, TF-MoDISco-lite motifs matched "
            "to JASPAR, attribution/attention tracks, and TF-pair enrichment.")
def main():
    pass


def _load_model(path, device):
    from epitools.io.checkpoint import load_checkpoint, model_from_checkpoint
    from epitools.training.sources import resolve_device

    dev = resolve_device(device)
    return model_from_checkpoint(load_checkpoint(path), device=dev), dev


@command(help="Attributions of each pair's enhancer (given its promoter) or promoter (given its "
              "enhancer) → OUT/attributions.npz (ohe, hyp_scores, scores: N x 4 x L; pair_id). "
              "For EPInformer gene stores, the chosen enhancers of each gene are explained.")
@click.option("--model", "model_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Checkpoint (model.pt) from epi-train.")
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Encoded store (.h5) of the pairs (or genes) to explain.")
@click.option("--method", type=click.Choice(["deep_lift_shap", "ism"]), default="deep_lift_shap",
              help="DeepLIFT/SHAP with dinucleotide-shuffled references, or in-silico mutagenesis.")
@click.option("--n-shuffles", type=click.IntRange(1), default=20, help="References per sequence (DeepLIFT).")
@click.option("--element", type=click.Choice(["enhancer", "promoter"]), default="enhancer",
              help="The element explained.")
@click.option("--max-pairs", type=click.IntRange(1), default=None, help="Explain at most N pairs (random).")
@click.option("--rows", type=click.Choice(["positive", "all"]), default="positive",
              help="Which store rows: interacting pairs (all rows when none is labelled) or all.")
@click.option("--slots-per-gene", type=click.IntRange(1), default=1,
              help="EPInformer: enhancers explained per gene (highest attention first).")
@click.option("--batch-size", type=click.IntRange(1), default=64, help="Sequence(-reference) pairs per pass.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@seed_option()
@out_option(help="Output directory.")
def scores(model_path, data, method, n_shuffles, element, max_pairs, rows, slots_per_gene, batch_size,
           device, seed, out):
    from epitools.interpret.attribution import (attribute_gene_enhancers, attribute_pairs,
                                                save_attributions)

    model, dev = _load_model(model_path, device)
    if getattr(model, "task", "pairs") == "genes":
        result = attribute_gene_enhancers(model, data, slots_per_gene=slots_per_gene, max_genes=max_pairs,
                                          method=method, n_shuffles=n_shuffles, batch_size=batch_size,
                                          device=dev, seed=seed)
    else:
        result = attribute_pairs(model, data, element=element, method=method, n_shuffles=n_shuffles,
                                 max_pairs=max_pairs, rows=rows, batch_size=batch_size, device=dev,
                                 seed=seed)
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
@click.option("--top", type=click.IntRange(1), default=3, help="JASPAR matches reported per pattern.")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False),
              help="Checkpoint whose first-layer filters are also matched.")
@click.option("--data", type=click.Path(exists=True, dir_okay=False),
              help="Pair store whose windows activate the filters (with --model).")
@click.option("--element", type=click.Choice(["enhancer", "promoter"]), default="enhancer",
              help="Branch whose filters are read (with --model).")
@click.option("--max-pairs", type=click.IntRange(1), default=2000, help="Windows read for filter PWMs.")
@out_option(help="Output directory.")
def motifs(attributions, max_seqlets, window, flank, min_metacluster_size, final_min_cluster_size, top, model_path, data,
           element, max_pairs, out):
    from epitools.interpret import motifs as M
    from epitools.interpret.attribution import load_attributions
    from epitools.io.atomic import atomic_path

    if (model_path is None) != (data is None):
        raise UsageError("--model and --data go together (filters need windows to activate them)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    attr = load_attributions(attributions)
    M.run_modisco(attr["ohe"], attr["hyp_scores"], out / "modisco.h5", max_seqlets=max_seqlets,
                  window=window, flank=flank, min_metacluster_size=min_metacluster_size,
                  final_min_cluster_size=final_min_cluster_size)
    patterns = M.read_patterns(out / "modisco.h5")
    trimmed = [p.trimmed() for p in patterns]
    matches = M.match_motifs([p.ppm for p in trimmed], [p.name for p in trimmed], top=top)
    table = M.motifs_table(trimmed, matches, top=top)
    with atomic_path(out / "motifs.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4g")
    logos = M.pattern_logos(trimmed, out / "logos")
    M.write_html(table, logos, out / "motifs.html", top=top)
    log.info("%d patterns -> %s", len(table), out / "motifs.tsv")
    if model_path:
        _filters(model_path, data, element, max_pairs, top, out)


def _filters(model_path, data, element, max_pairs, top, out: Path) -> None:
    import numpy as np

    from epitools.interpret import motifs as M
    from epitools.interpret.attribution import kmer_ids_to_codes, select_rows
    from epitools.io.atomic import atomic_path
    from epitools.io.store import PairStore

    model, _ = _load_model(model_path, "cpu")
    with PairStore(data) as store:
        rows = select_rows(store, max_pairs, rows="all")
        codes = store.read(rows, fields=[element])[element]
    if getattr(model, "encoding", "onehot") == "kmer":
        codes = kmer_ids_to_codes(codes, int(model.hparams["k"]))
    result = M.filter_ppms(model, codes, element=element)
    used = [i for i, n in enumerate(result["n_sites"]) if n > 0]
    matches = M.match_motifs([result["ppms"][i] for i in used], [result["names"][i] for i in used], top=top)
    table = matches.pivot_table(index="pattern", columns="rank", values=["jaspar_id", "tf", "q_value"],
                                aggfunc="first")
    table.columns = [f"match{r}_{c}" for c, r in table.columns]
    table = table.reset_index().rename(columns={"pattern": "filter"})
    table.insert(1, "n_sites", np.asarray(result["n_sites"])[[int(f.split("_")[1]) for f in table["filter"]]])
    with atomic_path(out / "filters.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4g")
    M.write_meme([result["ppms"][i] for i in used], [result["names"][i] for i in used], out / "filters.meme")
    log.info("%d first-layer filters -> %s", len(used), out / "filters.tsv")


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
    import numpy as np

    from epitools.interpret import tracks as T
    from epitools.io.tracks import read_chrom_sizes, write_bedgraph, write_bigwig
    from epitools.interpret.attribution import window_coordinates, load_attributions, select_rows
    from epitools.io.store import PairStore

    if attributions is None and model_path is None:
        raise UsageError("give --attributions and/or --model with --data")
    if (model_path is None) != (data is None):
        raise UsageError("--model and --data go together")
    sizes = read_chrom_sizes(chrom_sizes)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if attributions:
        attr = load_attributions(attributions)
        element = attr.get("element", "enhancer")
        per_base = attr["scores"].sum(axis=1)
        seg = T.window_tracks(per_base, attr["chrom"], attr["window_start"], sizes, attr["reverse_complement"])
        write_bedgraph(seg, out / f"{element}_attribution.bedGraph", f"{element} attribution")
        write_bigwig(seg, out / f"{element}_attribution.bw", sizes)
        table = T.regions_table(per_base, attr["ohe"], attr, element, "attribution", width, n_regions)
        T.write_regions(table, out / f"{element}_top_regions.bed", out / f"{element}_top_regions.tsv")
        log.info("%s attribution track of %d windows -> %s", element, len(per_base), out)
    if model_path:
        from epitools.data.encoding import one_hot

        model, dev = _load_model(model_path, device)
        with PairStore(data) as store:
            idx = select_rows(store, max_pairs, rows, seed)
            lengths = {s: int(store.attrs[f"{s}_length"]) for s in ("enhancer", "promoter")}
            meta = {s: {**window_coordinates(store, idx, s, lengths[s]),
                        **store.read(idx, fields=["pair_id", "label"])} for s in lengths}
            seqs = store.read(idx, fields=["enhancer", "promoter"]) if store.encoding == "onehot" else None
        maps = T.attention_maps(model, data, idx, device=dev)
        for side, length in lengths.items():
            values = T.upsample(maps[side], length)
            seg = T.window_tracks(values, meta[side]["chrom"], meta[side]["window_start"], sizes,
                                  meta[side]["reverse_complement"])
            write_bedgraph(seg, out / f"{side}_attention.bedGraph", f"{side} attention")
            write_bigwig(seg, out / f"{side}_attention.bw", sizes)
            if not attributions or side != attr.get("element"):
                ohe = one_hot(seqs[side]) if seqs is not None else None
                meta[side]["pair_id"] = np.asarray(meta[side]["pair_id"]).astype(str)
                table = T.regions_table(values, ohe, meta[side], side, "attention", width, n_regions)
                T.write_regions(table, out / f"{side}_top_regions.bed", out / f"{side}_top_regions.tsv")
        log.info("attention tracks of %d pairs -> %s", len(idx), out)


@command(name="tf-pairs", help="Enhancer-TF x promoter-TF co-occurrence in interacting vs "
                               "non-interacting pairs (FIMO on top regions, Fisher test, BH) → "
                               "OUT/tf_pairs.tsv and tf_pairs.png.")
@click.option("--enhancer-regions", required=True, type=click.Path(exists=True, dir_okay=False),
              help="enhancer_top_regions.tsv from 'epi-attribute tracks'.")
@click.option("--promoter-regions", required=True, type=click.Path(exists=True, dir_okay=False),
              help="promoter_top_regions.tsv from 'epi-attribute tracks'.")
@click.option("--motifs", "motif_ids", default=None,
              help="Comma-separated JASPAR IDs to scan (default: all CORE vertebrates).")
@click.option("--threshold", type=float, default=1e-4, help="FIMO p-value threshold.")
@click.option("--min-pairs", type=click.IntRange(1), default=3, help="Fewest pairs with a combination to test it.")
@click.option("--top", type=click.IntRange(1), default=20, help="Combinations shown in the heatmap.")
@out_option(help="Output directory.")
def tf_pairs(enhancer_regions, promoter_regions, motif_ids, threshold, min_pairs, top, out):
    from epitools.interpret import tf_pairs as P
    from epitools.interpret.jaspar import load_jaspar
    from epitools.io.atomic import atomic_path

    db = load_jaspar()
    if motif_ids:
        wanted = [m.strip() for m in motif_ids.split(",") if m.strip()]
        try:
            db = db.subset([db.index(m) for m in wanted])
        except KeyError as exc:
            raise UsageError(f"motif {exc.args[0]} is not in JASPAR 2024 CORE vertebrates") from exc
    table = P.tf_pair_enrichment(P.read_regions(enhancer_regions), P.read_regions(promoter_regions), db,
                                 threshold=threshold, min_pairs=min_pairs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "tf_pairs.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4g")
    P.heatmap(table, out / "tf_pairs.png", top=top)
    if len(table):
        best = table.iloc[0]
        log.info("%d TF pairs tested; top: %s x %s (q=%.3g) -> %s", len(table), best["enhancer_tf"],
                 best["promoter_tf"], best["q_value"], out)


main.add_command(scores, "scores")
main.add_command(motifs, "motifs")
main.add_command(tracks, "tracks")
main.add_command(tf_pairs, "tf-pairs")
