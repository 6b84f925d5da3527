"""``epi-candidates``: candidate elements, genes, element activity and candidate pairs from a
lab's own files (peaks, annotation, BAM/bigWig), as ABC's pipeline makes them."""

from __future__ import annotations

import logging

import click

from epitools.cli._common import command, group, out_option

log = logging.getLogger("epitools.cli.candidates")

_file = click.Path(exists=True, dir_okay=False)


def _chrom_sizes(path):
    if path is None:
        return None
    from epitools.io.tracks import read_chrom_sizes

    return read_chrom_sizes(path)


chrom_sizes_option = click.option(
    "--chrom-sizes", type=_file, default=None,
    help="chrom.sizes/.fai (or a genome FASTA): clips at chromosome ends, orders chromosomes and "
         "drops records on other chromosomes [lexicographic order, no clipping].")


@group(help="Candidate elements (ABC-style) from peaks, genes from an annotation, element activity "
            "from BAM/bigWig, and every element-gene pair within a distance.")
def main():
    pass


@command(help="Peaks (MACS2 narrowPeak or BED) -> candidate elements as ABC's makeCandidateRegions: "
              "the strongest N merged peaks, a fixed window around each summit, merged, minus a "
              "block-list, plus an include-list (e.g. TSS +-250 bp), sorted and merged. The count "
              "after every step is logged.")
@click.option("--peaks", required=True, type=_file, help="narrowPeak (with summits) or BED peaks; may be gzipped.")
@click.option("--signal", type=_file, default=None,
              help="Rank peaks by reads in this BAM/CRAM (indexed) or by this bigWig/bedGraph's signal "
                   "[the peaks' --rank-by column].")
@click.option("--rank-by", type=click.Choice(["signal", "score", "pvalue", "qvalue"]), default="signal",
              help="narrowPeak column ranking the peaks without --signal.")
@click.option("--n-strongest", type=click.IntRange(1), default=150_000, help="ABC's nStrongestPeaks.")
@click.option("--extend", type=click.IntRange(0), default=250, help="bp on each side of the summit.")
@click.option("--min-width", type=click.IntRange(0), default=500,
              help="Minimum width of an extended peak with --ignore-summits.")
@click.option("--ignore-summits", is_flag=True, help="Extend whole peaks instead of summits.")
@click.option("--include", type=_file, default=None, help="BED of regions always included (overrides --block).")
@click.option("--block", type=_file, default=None, help="BED of regions removing any candidate they touch.")
@chrom_sizes_option
@out_option(help="Output BED3 of candidate regions.", file=True)
def regions(peaks, signal, rank_by, n_strongest, extend, min_width, ignore_summits, include, block,
            chrom_sizes, out):
    from epitools.regions import peaks as pk
    from epitools.regions.counts import element_counts
    from epitools.regions.elements import write_regions

    table = pk.read_peaks(peaks)
    strength = (element_counts(table, signal, double_sex=False)[0] if signal is not None
                else pk.peak_column_strength(table, rank_by, peaks))
    result, steps = pk.candidate_regions(
        table, strength, n_strongest=n_strongest, extend=extend, min_width=min_width,
        ignore_summits=ignore_summits, chrom_sizes=_chrom_sizes(chrom_sizes),
        include=pk.read_regions(include) if include else None,
        block=pk.read_regions(block) if block else None)
    write_regions(result, out)


@command(help="Annotation (GTF/GFF3 plain or gz: GENCODE, Ensembl, RefSeq; BED6; or a TSS table) -> "
              "genes table `gene chrom tss strand gene_id symbol biotype start end [expression]` with "
              "one TSS per gene: the 5' end of the gene record (its outermost TSS); genes without a "
              "gene record collapse their transcripts. Readable by `epi-encode genes`.")
@click.option("--annotation", required=True, type=_file,
              help="Gene annotation: GTF/GFF3 (plain or gz; GENCODE, Ensembl, RefSeq), BED6 or a TSS table.")
@click.option("--format", "fmt", type=click.Choice(["auto", "gtf", "gff3", "bed", "table"]), default="auto",
              help="Format of --annotation (auto detects it).")
@click.option("--biotype", "biotypes", multiple=True, default=["protein_coding"],
              help="Keep genes of this biotype (repeatable; `all` keeps every gene).")
@click.option("--expression", type=_file, default=None,
              help="Table `gene expression` joined by gene id (with or without version) or symbol.")
@chrom_sizes_option
@out_option(help="Output genes TSV.", file=True)
def genes(annotation, fmt, biotypes, expression, chrom_sizes, out):
    from epitools.io.atomic import atomic_path
    from epitools.io.genes import read_expression
    from epitools.regions import genes as gn

    table = gn.filter_biotypes(gn.read_annotation(annotation, fmt), biotypes)
    sizes = _chrom_sizes(chrom_sizes)
    if sizes:
        kept = table["chrom"].isin(list(sizes))
        if not kept.all():
            log.info("genes: %d on chromosomes not in --chrom-sizes are dropped", int((~kept).sum()))
        table = table[kept.to_numpy()]
    if expression:
        table, _ = gn.join_expression_by_id_or_symbol(table, read_expression(expression, "none"))
    with atomic_path(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, lineterminator="\n")
    log.info("wrote %d genes to %s", len(table), out)


@command(help="Activity of every element as ABC: DNase or ATAC and H3K27ac reads from BAM/CRAM "
              "(indexed; a paired-end fragment counts once) or signal from bigWig, RPM, optional "
              "quantile normalisation, activity = geometric mean; class promoter/genic/intergenic "
              "from --genes. Writes the elements BED that `epi-encode genes` and "
              "`epi-candidates pairs` read.")
@click.option("--elements", required=True, type=_file, help="Candidate regions BED (epi-candidates regions).")
@click.option("--dnase", type=_file, default=None, help="DNase-seq BAM/CRAM, bigWig or bedGraph.")
@click.option("--atac", type=_file, default=None, help="ATAC-seq BAM/CRAM, bigWig or bedGraph.")
@click.option("--h3k27ac", type=_file, default=None, help="H3K27ac BAM/CRAM, bigWig or bedGraph.")
@click.option("--genes", "genes_path", type=_file, default=None,
              help="Genes table (epi-candidates genes) for the element classes.")
@click.option("--qnorm", type=_file, default=None,
              help="ABC quantile-normalisation reference (EnhancersQNormRef.<cell>.txt).")
@click.option("--tss-slop", type=click.IntRange(0), default=500, help="Promoter class: within this of a TSS.")
@click.option("--double-sex/--no-double-sex", default=True,
              help="Double counts on chrX/chrY as ABC does.")
@chrom_sizes_option
@out_option(help="Output elements BED (with header).", file=True)
def activity(elements, dnase, atac, h3k27ac, genes_path, qnorm, tss_slop, double_sex, chrom_sizes, out):
    from epitools.errors import UsageError
    from epitools.io.genes import read_genes
    from epitools.regions.elements import element_table, write_element_table
    from epitools.regions.pairs import read_element_table

    if (dnase is None) == (atac is None):
        raise UsageError("give exactly one of --dnase and --atac")
    genes_table = read_genes(genes_path, "none") if genes_path else None
    table = element_table(read_element_table(elements), dnase or atac, h3k27ac, genes=genes_table,
                          qnorm=qnorm, tss_slop=tss_slop, chrom_sizes=_chrom_sizes(chrom_sizes),
                          double_sex=double_sex)
    write_element_table(table, out)


@command(help="Every element-gene pair within --max-distance of the gene's TSS (element midpoint), "
              "with distance and the self-promoter flag, streamed one chromosome at a time to a "
              "canonical pairs table (for `epi-prioritize abc`).")
@click.option("--elements", required=True, type=_file, help="Elements BED/table (epi-candidates activity).")
@click.option("--genes", "genes_path", required=True, type=_file, help="Genes table (epi-candidates genes).")
@click.option("--max-distance", type=float, default=5_000_000, help="ABC uses 5 Mb, EPInformer 100 kb.")
@click.option("--tss-slop", type=click.IntRange(0), default=500,
              help="Promoter anchor TSS +- this; self-promoter: a promoter element within this of the TSS.")
@click.option("--format", "fmt", type=click.Choice(["canonical", "bedpe"]), default="canonical",
              help="Output layout: the canonical pairs table or BEDPE.")
@chrom_sizes_option
@out_option(help="Output pairs table (.gz to compress).", file=True)
def pairs(elements, genes_path, max_distance, tss_slop, fmt, chrom_sizes, out):
    from epitools.io.genes import read_genes
    from epitools.regions.pairs import read_element_table, write_all_pairs

    sizes = _chrom_sizes(chrom_sizes)
    write_all_pairs(read_element_table(elements), read_genes(genes_path, "none"), out, max_distance,
                    tss_slop, list(sizes) if sizes else None, fmt)


main.add_command(regions, "regions")
main.add_command(genes, "genes")
main.add_command(activity, "activity")
main.add_command(pairs, "pairs")
