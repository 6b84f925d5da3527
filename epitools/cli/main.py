"""The ``epi`` group: every ``epi-<name>`` console script is also ``epi <name>``."""

from __future__ import annotations

import importlib

import click

from epitools import __version__
from epitools.cli._common import CONTEXT_SETTINGS

# name -> module under epitools.cli exposing ``main`` (a click command or group).
COMMANDS = {
    "fetch": "fetch",
    "simulate": "simulate",
    "contacts": "contacts",
    "encode": "encode",
    "train": "train",
    "predict": "predict",
    "attribute": "attribute",
    "prioritize": "prioritize",
    "report": "report",
}


class LazyGroup(click.Group):
    """Import a subcommand's module only when it is used, so ``epi --help`` stays fast."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"epitools.cli.{COMMANDS[name]}")
        cmd = module.main
        cmd.name = name
        return cmd


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="epitools")
def cli():
    """epitools: enhancer–promoter interactions, gene expression and enhancer
    prioritization from DNA sequence, Hi-C and epigenomic signals."""
