"""``epi-contacts``: Hi-C (or power-law) contact for every enhancer–promoter pair."""

from __future__ import annotations

import json
import logging

import click

from epitools.cli._common import command, out_option
from epitools.contacts import cooler_contacts as cc
from epitools.contacts.powerlaw import DEFAULT_GAMMA_REFERENCE

POSITIVE = click.FloatRange(min=0, min_open=True)
NON_NEGATIVE = click.FloatRange(min=0)

#: ``--divisive-weights/--multiplicative-weights``, shared with every command offering --balance.
divisive_weights_option = click.option(
    "--divisive-weights/--multiplicative-weights", "divisive_weights", default=None,
    show_default=False,
    help="Divide or multiply the counts by the balancing column [.cool: KR, SCALE, VC, VC_SQRT "
         "divisive, others multiplicative, unless the column's divisive_weights attribute says "
         "otherwise; .hic: divisive, as Juicer defines its vectors].")

log = logging.getLogger("epitools.cli.contacts")


@command(help="Add Hi-C contacts (`contact`, `contact_norm`, `powerlaw_contact`) to a pairs table. "
              "Without --hic, contacts come from the power law.")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Pairs table (TSV, BEDPE, ...).")
@click.option("--hic", type=click.Path(exists=True, dir_okay=False), default=None,
              help=".hic (Juicer v8/v9, read with hictkpy), .cool or .mcool file (omit for power-law "
                   "contacts only).")
@click.option("--resolution", type=click.IntRange(min=1), default=None,
              help="Resolution of an .mcool or .hic [default: 5 kb or the coarsest finer one, else finest].")
@click.option("--balance", type=click.Choice(cc.BALANCE_CHOICES), default="auto",
              help="Balancing column (.cool) or normalisation (.hic; weight = ICE); auto: .cool weight, "
                   "else KR/VC/VC_SQRT; .hic SCALE, else KR/ICE/VC_SQRT/VC; else raw counts (none/NONE).")
@divisive_weights_option
@click.option("--gamma", type=POSITIVE, default=None, help="Power-law exponent [ABC's K562 fit].")
@click.option("--scale", type=float, default=None, help="Power-law log-scale [ABC's K562 fit].")
@click.option("--fit-powerlaw", "fit", is_flag=True, help="Fit gamma and scale on the Hi-C.")
@click.option("--fit-window", type=(click.IntRange(min=0), click.IntRange(min=1)),
              default=(5000, 1_000_000), metavar="MIN MAX", help="Distances (bp, MIN MAX) the power law is fitted on.")
@click.option("--gamma-reference", type=POSITIVE, default=DEFAULT_GAMMA_REFERENCE,
              help="Exponent of the reference power law contacts are scaled to.")
@click.option("--pseudocount-distance", type=NON_NEGATIVE, default=5000,
              help="Distance whose power-law contact caps the pseudocount (bp).")
@click.option("--tss-hic-contribution", type=NON_NEGATIVE, default=100,
              help="Same-bin contact as a percentage of the larger neighbouring bin.")
@click.option("--no-powerlaw-scaling", is_flag=True, help="Do not scale Hi-C to the reference power law.")
@out_option(help="Output pairs table (TSV); choices made go to <out>.json.", file=True)
def main(pairs_path, hic, resolution, balance, divisive_weights, gamma, scale, fit, fit_window,
         gamma_reference, pseudocount_distance, tss_hic_contribution, no_powerlaw_scaling, out):
    from epitools.contacts.pair_stream import write_pair_contacts
    from epitools.io.atomic import write_text

    # one promoter chromosome at a time when the table is grouped by chromosome
    info = write_pair_contacts(pairs_path, out, hic, resolution=resolution, balance=balance,
                               divisive_weights=divisive_weights, gamma=gamma, scale=scale, fit=fit,
                               fit_window=tuple(fit_window), gamma_reference=gamma_reference,
                               pseudocount_distance=pseudocount_distance,
                               tss_hic_contribution=tss_hic_contribution,
                               scale_to_powerlaw=not no_powerlaw_scaling)
    write_text(f"{out}.json", json.dumps(info, indent=2, default=str) + "\n")
    log.info("contacts for %d pairs written to %s (resolution %s, balance %s, divisive %s)",
             info["pairs"], out, info.get("resolution"), info.get("balance"),
             info.get("divisive_weights"))
