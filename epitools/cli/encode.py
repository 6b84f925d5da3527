"""``epi-encode``: encoded HDF5 stores for training and prediction.

``epi-encode pairs`` encodes a pairs table (+ genome or inline sequences) into a pair store;
``epi-encode genes`` builds EPInformer's gene-level store; ``epi-encode activity`` the
enhancer-activity store its sequence encoder is pre-trained on. The old form ``epi-encode --pairs
...`` (or ``--genes ...``) still works for one release and logs a deprecation note.
"""

from __future__ import annotations

import click

from epitools.cli._common import command, default_group, out_option, seed_option

_COMPRESSION_HELP = ("HDF5 compression: blosc (LZ4 + bit shuffle: fastest and smallest; other HDF5 "
                     "readers need the hdf5plugin filters), lzf (built into h5py), gzip level 1 "
                     "(any HDF5 reader).")


def _legacy_subcommand(args: list[str]) -> str | None:
    """The subcommand an old-style ``epi-encode --pairs/--genes ...`` call means."""
    name = "genes" if any(a in ("--genes", "--elements") or a.startswith(("--genes=", "--elements="))
                          for a in args) else "pairs"
    # printed, not logged: logging is configured by the subcommand, after this runs
    click.echo(f"Note: `epi-encode {args[0]} ...` without a subcommand is deprecated and will be "
               f"removed in the next release; use `epi-encode {name} {args[0]} ...`", err=True)
    return name


@default_group(_legacy_subcommand,
               help="Encode pairs (`pairs`), genes with their candidate enhancers (`genes`) or "
                    "elements with their activity (`activity`) into an HDF5 store. Unset window options take the defaults of the store kind.")
def main():
    pass


def _window_options(kind: str):
    from epitools.data.windows import DEFAULT_WINDOWS

    defaults = DEFAULT_WINDOWS[kind]

    def decorator(f):
        f = click.option("--promoter-length", type=click.IntRange(1), default=None,
                         help=f"Promoter window (bp) [default: {defaults[1]}].")(f)
        f = click.option("--enhancer-length", type=click.IntRange(1), default=None,
                         help=f"Enhancer window (bp) [default: {defaults[0]}].")(f)
        return f

    return decorator


def _compression_option(f):
    return click.option("--compression", type=click.Choice(["lzf", "gzip", "blosc", "none"]),
                        default="blosc", help=_COMPRESSION_HELP)(f)


@command(help="Encode enhancer-promoter pairs into an HDF5 store of windows centred on each "
              "element (base codes expanded to one-hot on the fly, or k-mer ids).")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(exists=True, dir_okay=False),
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
@_window_options("pairs")
@click.option("--encoding", type=click.Choice(["onehot", "kmer"]), default=None,
              help="Base codes (one-hot when read) or k-mer token ids [default: onehot].")
@click.option("--k", "k", type=click.IntRange(1, 7), default=None,
              help="k-mer length for --encoding kmer [default: 6].")
@click.option("--reverse-complement", is_flag=True, help="Add the reverse complement of every row.")
@click.option("--augment-copies", type=click.IntRange(0), default=0,
              help="Extra randomly shifted copies of each positive (EPIPAM 10, EPIANN 20).")
@click.option("--max-shift", type=click.IntRange(0), default=100,
              help="Largest shift (bp) of an augmented copy's windows.")
@click.option("--chunk-size", type=click.IntRange(1), default=10_000, help="Pairs encoded per step.")
@click.option("--signal", "signal_items", multiple=True, metavar="NAME=FILE",
              help="Epigenomic track (bigWig or bedGraph), repeatable: each window's mean signal "
                   "is stored as enhancer_signal/promoter_signal for EPIPDLF's genomic branch "
                   "(paper: CTCF, DNase, H3K4me1, H3K4me3, H3K27ac, H3K27me3, H3K36me3).")
@click.option("--signal-bins", type=click.IntRange(1), default=1, show_default=True,
              help="Bins per window for --signal (1: the mean over the whole window).")
@_compression_option
@seed_option()
def pairs(pairs_path, fmt, promoter_bed, labels_path, cell_type, genome, out, enhancer_length,
          promoter_length, encoding, k, reverse_complement, augment_copies, max_shift, chunk_size,
          signal_items, signal_bins, compression, seed):
    from epitools.data.pair_store import build_pair_store
    from epitools.errors import UsageError

    if k is not None and encoding != "kmer":
        raise UsageError("--k goes with --encoding kmer")
    build_pair_store(
        pairs_path, out, genome, format=fmt, enhancer_length=enhancer_length,
        promoter_length=promoter_length, encoding=encoding, k=k,
        reverse_complement=reverse_complement, augment_copies=augment_copies,
        max_shift=max_shift, chunk_size=chunk_size, seed=seed,
        compression=None if compression == "none" else compression,
        promoter_bed=promoter_bed, labels=labels_path, cell_type=cell_type,
        signals=_signals(signal_items), signal_bins=signal_bins)


def _signals(items) -> dict:
    """``NAME=FILE`` items of ``--signal`` → {name: file}, in the given order."""
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise click.BadParameter(f"expected NAME=FILE, got '{item}'", param_hint="--signal")
        if name.strip() in out:
            raise click.BadParameter(f"track '{name.strip()}' given twice", param_hint="--signal")
        out[name.strip()] = path.strip()
    return out


@command(help="Build EPInformer's gene-level store: each gene's promoter window and up to "
              "--max-enhancers candidate elements within --max-distance of its TSS, with their "
              "activity, distance and Hi-C contact, and the gene's expression.")
@click.option("--genes", "genes_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Genes/TSS table (gene chrom tss [strand] [expression] [hl_1..hl_8]).")
@click.option("--elements", "elements_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Candidate elements BED (chrom start end name dnase h3k27ac).")
@click.option("--genome", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Genome FASTA (plain or bgzip) or 2bit.")
@click.option("--hic", type=click.Path(exists=True, dir_okay=False),
              help="Hi-C .cool/.mcool for gene-level contacts (power law when absent).")
@out_option(help="Output store (.h5).", file=True)
@_window_options("genes")
@click.option("--max-enhancers", type=click.IntRange(1), default=60, help="Candidate slots per gene.")
@click.option("--max-distance", type=click.IntRange(1), default=100_000,
              help="Largest element-TSS distance (bp) of a candidate.")
@click.option("--expression", "expression_path", type=click.Path(exists=True, dir_okay=False),
              help="Measured expression table `gene expression` (TSV/CSV with header; other columns "
                   "ignored), joined by gene name onto --genes, replacing its expression column; genes "
                   "without a value get NaN and are not trained on.")
@click.option("--expression-transform", type=click.Choice(["log1p", "none"]), default="log1p",
              help="Transform of the genes' expression ('none' for log-scale values).")
@click.option("--enhancer-context", type=click.Choice(["genome", "own"]), default="genome",
              help="Enhancer slots hold the genome window centred on each element ('genome') or the "
                   "element's own sequence N-padded to the window ('own', as the EPInformer paper).")
@click.option("--chunk-size", type=click.IntRange(1), default=64, help="Genes encoded per step.")
@_compression_option
def genes(genes_path, elements_path, genome, hic, out, enhancer_length, promoter_length, max_enhancers,
          max_distance, expression_path, expression_transform, enhancer_context, chunk_size, compression):
    from epitools.data.gene_store import build_gene_store

    build_gene_store(genes_path, elements_path, genome, out, hic=hic,
                     promoter_length=promoter_length, enhancer_length=enhancer_length,
                     max_enhancers=max_enhancers, max_distance=max_distance,
                     expression_transform=expression_transform, expression=expression_path,
                     enhancer_context=enhancer_context, chunk_genes=chunk_size, compression=None if compression == "none" else compression)


@command(help="Build the enhancer-activity store EPInformer's sequence encoder is pre-trained on "
              "(epi-train --model epinformer_encoder): a window centred on each element with its "
              "activity, log1p(sqrt(dnase x h3k27ac)), as target.")
@click.option("--elements", "elements_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Candidate elements BED (chrom start end name dnase h3k27ac), e.g. from "
                   "epi-candidates activity.")
@click.option("--genome", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Genome FASTA (plain or bgzip) or 2bit.")
@out_option(help="Output store (.h5).", file=True)
@click.option("--enhancer-length", type=click.IntRange(16), default=None,
              help="Window (bp), a multiple of 16 [default: 256, the paper's].")
@click.option("--reverse-complement/--no-reverse-complement", default=True, show_default=True,
              help="Add each element's reverse complement as a row (the paper's augmentation).")
@_compression_option
def activity(elements_path, genome, out, enhancer_length, reverse_complement, compression):
    from epitools.data.activity_store import build_activity_store

    build_activity_store(elements_path, genome, out, length=enhancer_length,
                         reverse_complement=reverse_complement,
                         compression=None if compression == "none" else compression)


main.add_command(pairs, "pairs")
main.add_command(genes, "genes")
main.add_command(activity, "activity")
