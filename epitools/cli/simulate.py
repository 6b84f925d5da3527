"""``epi-simulate``: a deterministic synthetic data set with planted, known biology."""

from __future__ import annotations

import json

import click

from epitools.cli._common import command, out_option, seed_option
from epitools.data.simulate import SimulationConfig, simulate
from epitools.data.simulate_config import DRIVER_RULES


def _cell_types(ctx, param, value):
    if value is None:
        return None
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    if not names:
        raise click.BadParameter("give at least one cell type name")
    return names


@command(help="Write a synthetic genome, enhancer-promoter pairs, Hi-C, activity tracks, gene "
              "expression and truth.json (planted JASPAR motifs, interactions, driver enhancers) "
              "into --out. Options left unset take the --preset value.")
@out_option(help="Output directory (must not exist or be empty unless --force).")
@seed_option()
@click.option("--preset", type=click.Choice(["tiny", "small", "medium", "default"]), default="small",
              help="Size preset: tiny (unit tests), small (training tests, demo), medium (driver "
              "recovery), default (model acceptance).")
@click.option("--n-chroms", type=click.IntRange(min=1), default=None,
              help="Number of chromosomes chr1..chrN. [preset: default 12]")
@click.option("--chrom-size", type=click.IntRange(min=10_000), default=None,
              help="Length of each chromosome in bp. [preset: default 4000000]")
@click.option("--n-genes", type=click.IntRange(min=1), default=None,
              help="Number of genes (promoters), spread evenly over chromosomes. [preset: default 1440]")
@click.option("--motif-strength", type=click.FloatRange(min=0, min_open=True), default=None,
              help="PWM sharpening exponent of planted instances (1 = sample the PWM). [default 3.0]")
@click.option("--motif-copies", type=click.IntRange(min=1), default=None,
              help="Planted motif instances of its family per element. [default 4]")
@click.option("--motif-copies-min", type=click.IntRange(min=1), default=None,
              help="Vary the planted copies per element uniformly from this number to "
                   "--motif-copies; activity scales with them (motif dosage). [default: unset, "
                   "every element carries --motif-copies]")
@click.option("--activity-library", type=click.IntRange(min=0), default=None,
              help="Also write an activity library of this many 256-bp windows (rounded up to a multiple of 12, "
                   "as many on each of its 12 contigs) with varied and "
                   "broken motif copies (activity_library.fa/.bed), to pre-train EPInformer's "
                   "sequence encoder on with epi-encode activity. [default 0: none]")
@click.option("--library-break-fraction", type=click.FloatRange(0, 1), default=None,
              help="Probability that a library window's motif copy is broken by one base. [default 0.3]")
@click.option("--noise", type=click.FloatRange(0, 1), default=None,
              help="Decoy-motif probability per element and background motif density. [default 0.15]")
@click.option("--unclean-fraction", type=click.FloatRange(0, 1), default=None,
              help="Fraction of interactions without a compatible motif pair. [default 0.02]")
@click.option("--inactive-fraction", type=click.FloatRange(0, 1), default=None,
              help="Fraction of candidate enhancers without any planted motif (never interacting). "
                   "[default 0.3]")
@click.option("--drivers", type=click.Choice(DRIVER_RULES), default=None,
              help="Which candidates drive a gene: 'sampled' (a random few, as in CRISPRi screens) or "
                   "'compatible' (every bound candidate of the gene's motif family: expression "
                   "follows from sequence). [default sampled]")
@click.option("--negatives-per-positive", type=click.IntRange(min=1), default=None,
              help="Distance-matched negatives per positive (TargetFinder: 20). [default 20]")
@click.option("--cell-types", callback=_cell_types, default=None,
              help="Comma-separated cell type names; interactions differ between them. [default SIM]")
@click.option("--force", is_flag=True, help="Replace a non-empty --out directory.")
def main(out, seed, preset, n_chroms, chrom_size, n_genes, motif_strength, motif_copies, motif_copies_min, activity_library,
         library_break_fraction, noise,
         unclean_fraction, inactive_fraction, drivers, negatives_per_positive, cell_types, force):
    overrides = {k: v for k, v in {
        "n_chroms": n_chroms, "chrom_size": chrom_size, "n_genes": n_genes,
        "motif_strength": motif_strength, "motif_copies": motif_copies,
        "motif_copies_min": motif_copies_min, "activity_library": activity_library,
        "library_break_fraction": library_break_fraction, "noise": noise, "unclean_fraction": unclean_fraction,
        "inactive_fraction": inactive_fraction, "drivers": drivers,
        "negatives_per_positive": negatives_per_positive, "cell_types": cell_types,
    }.items() if v is not None}
    base = SimulationConfig.preset(preset)
    if chrom_size is not None:
        overrides.setdefault("hic_max_distance", min(chrom_size, 2_000_000))
    if n_genes is None and (n_chroms is not None or chrom_size is not None):
        # Keep the preset's gene density when only the genome size changes.
        density = base.n_genes / (base.n_chroms * base.chrom_size)
        chroms = n_chroms or base.n_chroms
        overrides["n_genes"] = max(chroms, round(density * chroms * (chrom_size or base.chrom_size)))
    config = SimulationConfig.preset(preset, **overrides)
    summary = simulate(out, seed=seed, config=config, overwrite=force)
    click.echo(json.dumps(summary["pairs"]))
