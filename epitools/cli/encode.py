"""``epi-encode``: pairs (+ genome or inline sequences) -> encoded HDF5 store.

With ``--genes`` and ``--elements`` it builds the gene-level store of EPInformer instead.
"""

from __future__ import annotations

import click

from epitools.cli._common import command, out_option, seed_option
from epitools.errors import UsageError


@command(help="Encode enhancer-promoter pairs into an HDF5 store of windows centred on each "
              "element (base codes expanded to one-hot on the fly, or k-mer ids). With --genes "
              "and --elements, build the gene-level store of EPInformer instead.")
@click.option("--pairs", "pairs_path", type=click.Path(exists=True, dir_okay=False),
              help="Pairs table (TSV, BEDPE, TargetFinder, BENGI/TransEPI, inline sequences).")
@click.option("--format", "fmt", default="auto", help="Format of the pairs table (auto detects it).")
@click.option("--promoter-bed", type=click.Path(exists=True, dir_okay=False),
              help="Promoter window BED, same row order; --pairs is then the enhancer window BED.")
@click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False),
              help="Labels file (one 0/1 per line) for window BEDs.")
@click.option("--cell-type", help="Cell type filling the table's cell_type column.")
@click.option("--genome", type=click.Path(exists=True, dir_okay=False),
              help="Genome FASTA (plain or bgzip) or 2bit; not needed for tables with inline sequences.")
@out_option(help="Output store (.h5).", file=True)
@click.option("--enhancer-length", type=click.IntRange(1), default=None,
              help="Enhancer window (bp) [default: 3000 for pairs, 2000 for genes].")
@click.option("--promoter-length", type=click.IntRange(1), default=2000, help="Promoter window (bp).")
@click.option("--encoding", type=click.Choice(["onehot", "kmer"]), default="onehot",
              help="Base codes (one-hot when read) or k-mer token ids.")
@click.option("--k", "k", type=click.IntRange(1, 7), default=6, help="k-mer length for --encoding kmer.")
@click.option("--reverse-complement", is_flag=True, help="Add the reverse complement of every row.")
@click.option("--augment-copies", type=click.IntRange(0), default=0,
              help="Extra randomly shifted copies of each positive (EPIPAM 10, EPIANN 20).")
@click.option("--max-shift", type=click.IntRange(0), default=100,
              help="Largest shift (bp) of an augmented copy's windows.")
@click.option("--chunk-size", type=click.IntRange(1), default=10_000, help="Pairs encoded per step.")
@click.option("--compression", type=click.Choice(["lzf", "gzip", "blosc", "none"]), default="blosc",
              help="HDF5 compression: blosc (LZ4 + bit shuffle: fastest and smallest; other HDF5 "
                   "readers need the hdf5plugin filters), lzf (built into h5py), gzip level 1 "
                   "(any HDF5 reader).")
@click.option("--genes", "genes_path", type=click.Path(exists=True, dir_okay=False),
              help="Genes/TSS table: build the EPInformer gene-level store.")
@click.option("--elements", "elements_path", type=click.Path(exists=True, dir_okay=False),
              help="Candidate elements BED (with --genes).")
@click.option("--hic", type=click.Path(exists=True, dir_okay=False),
              help="Hi-C .cool/.mcool for gene-level contacts (with --genes; power law when absent).")
@click.option("--max-enhancers", type=click.IntRange(1), default=60, help="Candidate slots per gene (with --genes).")
@click.option("--max-distance", type=click.IntRange(1), default=100_000,
              help="Largest element-TSS distance (bp) of a candidate (with --genes).")
@click.option("--expression", "expression_path", type=click.Path(exists=True, dir_okay=False),
              help="Measured expression table `gene expression` (TSV/CSV with header; other columns "
                   "ignored), joined by gene name onto --genes, replacing its expression column; genes "
                   "without a value get NaN and are not trained on.")
@click.option("--expression-transform", type=click.Choice(["log1p", "none"]), default="log1p",
              help="Transform of the genes' expression (with --genes; 'none' for log-scale values).")
@seed_option()
def main(pairs_path, fmt, promoter_bed, labels_path, cell_type, genome, out, enhancer_length, promoter_length, encoding, k,
         reverse_complement, augment_copies, max_shift, chunk_size, compression, genes_path,
         elements_path, hic, max_enhancers, max_distance, expression_path, expression_transform, seed):
    if expression_path and not genes_path:
        raise UsageError("--expression goes with --genes (it sets the genes' expression)")
    if genes_path or elements_path:
        if not (genes_path and elements_path):
            raise UsageError("--genes and --elements go together")
        if pairs_path:
            raise UsageError("give either --pairs or --genes/--elements, not both")
        if genome is None:
            raise UsageError("--genes needs --genome")
        from epitools.data.gene_store import build_gene_store

        build_gene_store(genes_path, elements_path, genome, out, hic=hic,
                         promoter_length=promoter_length,
                         enhancer_length=enhancer_length or 2000,
                         max_enhancers=max_enhancers, max_distance=max_distance,
                         expression_transform=expression_transform, expression=expression_path)
        return
    if not pairs_path:
        raise UsageError("give --pairs (or --genes with --elements)")
    from epitools.io.store import build_pair_store

    build_pair_store(
        pairs_path, out, genome, format=fmt, enhancer_length=enhancer_length or 3000,
        promoter_length=promoter_length, encoding=encoding, k=k,
        reverse_complement=reverse_complement, augment_copies=augment_copies,
        max_shift=max_shift, chunk_size=chunk_size, seed=seed,
        compression=None if compression == "none" else compression,
        promoter_bed=promoter_bed, labels=labels_path, cell_type=cell_type)
