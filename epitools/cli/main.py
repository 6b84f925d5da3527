"""The ``epi`` group: every ``epi-<name>`` console script is also ``epi <name>``."""

from __future__ import annotations

import importlib
import importlib.util

import click

from epitools import __version__
from epitools.cli._common import CONTEXT_SETTINGS

# name -> (module under epitools.cli exposing ``main``, one-line help).
COMMANDS = {
    "fetch": ("fetch", "Download genomes, benchmark pair sets, ENCODE and 4DN files (resumable, verified)."),
    "simulate": ("simulate", "Write a synthetic genome, pairs, Hi-C, tracks and genes with planted truth."),
    "candidates": ("candidates", "Candidate elements, genes, element activity and pairs from peaks, GTF and BAM/bigWig."),
    "contacts": ("contacts", "Hi-C contact for each pair from .cool/.mcool, or the power-law fallback."),
    "encode": ("encode", "Encode pairs (or genes) and a genome into an HDF5 store."),
    "train": ("train", "Train a registered model on an encoded store with a chosen split."),
    "predict": ("predict", "Score pairs or genes with a trained checkpoint."),
    "attribute": ("attribute", "Attributions, motifs, tracks and TF-pair enrichment from a model."),
    "prioritize": ("prioritize", "ABC, attention and knockout scores per gene; CRISPRi evaluation."),
    "variants": ("variants", "Effects of a VCF's variants on pair scores, expression and enhancer ranks."),
    "report": ("report", "Collect metrics and plots of runs into one HTML report."),
}


def available_commands() -> list[str]:
    """Commands whose module is part of this installation."""
    return [name for name, (module, _) in COMMANDS.items()
            if importlib.util.find_spec(f"epitools.cli.{module}") is not None]


class LazyGroup(click.Group):
    """Import a subcommand's module only when it runs, so ``epi --help`` does not import torch."""

    def list_commands(self, ctx):
        return available_commands()

    def get_command(self, ctx, name):
        if name not in COMMANDS or name not in available_commands():
            return None
        module = importlib.import_module(f"epitools.cli.{COMMANDS[name][0]}")
        cmd = module.main
        cmd.name = name
        return cmd

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="epitools")
def cli():
    """epitools: enhancer–promoter interactions, gene expression and enhancer
    prioritization from DNA sequence, Hi-C and epigenomic signals.

    Every command is also installed as ``epi-<command>``."""
