"""One name per concept across every command (README, Commands).

Walks every command and subcommand of every console script and checks their click
parameters: help text on every option, ``-h`` everywhere, the shared concepts spelled one
way (``--dnase``, ``--atac``, ``--h3k27ac``, ``--hic``, ``--genome``, ``-o/--out``, ``--seed``,
``--model``), no ambiguous names (``--threshold`` and ``--top`` must say what they threshold or
count) and no short flags beyond the shared ``-o -v -q -h``.
"""

from __future__ import annotations

import importlib

import click
import pytest

from epitools.cli.main import COMMANDS

# spelling -> the one the project uses
SYNONYMS = {
    "--dhs": "--dnase", "--accessibility": "--dnase", "--output": "--out", "--outdir": "--out",
    "--output-dir": "--out", "--fasta": "--genome", "--reference": "--genome", "--cool": "--hic",
    "--hic-file": "--hic", "--checkpoint": "--model", "--ckpt": "--model", "--random-seed": "--seed",
    "--random-state": "--seed", "--atac-seq": "--atac", "--h3k27ac-signal": "--h3k27ac",
    "--n-threads": "--threads", "--jobs": "--threads",
}
AMBIGUOUS = {"--threshold", "--top", "--n", "--cutoff"}
SHARED_SHORT = {"-o", "-v", "-q", "-h"}


def _walk(cmd: click.Command, path: str):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from _walk(sub, f"{path} {name}")


def all_commands():
    out = []
    for name, (module, _) in COMMANDS.items():
        main = importlib.import_module(f"epitools.cli.{module}").main
        out.extend(_walk(main, f"epi-{name}"))
    return out


COMMAND_LIST = all_commands()
IDS = [path for path, _ in COMMAND_LIST]


def _options(cmd):
    return [p for p in cmd.params if isinstance(p, click.Option)]


@pytest.mark.parametrize("path,cmd", COMMAND_LIST, ids=IDS)
def test_every_option_has_help_text(path, cmd):
    missing = [p.opts[0] for p in _options(cmd) if not (p.help or "").strip()]
    assert not missing, f"{path}: options without help text: {missing}"


@pytest.mark.parametrize("path,cmd", COMMAND_LIST, ids=IDS)
def test_help_with_h(path, cmd):
    names = cmd.get_help_option_names(click.Context(cmd, **cmd.context_settings))
    assert "-h" in names and "--help" in names, path


@pytest.mark.parametrize("path,cmd", COMMAND_LIST, ids=IDS)
def test_shared_concepts_have_one_name(path, cmd):
    problems = []
    for p in _options(cmd):
        for opt in p.opts + p.secondary_opts:
            if opt in SYNONYMS:
                problems.append(f"{opt} (use {SYNONYMS[opt]})")
            if opt in AMBIGUOUS:
                problems.append(f"{opt} (say what it thresholds or counts, e.g. --abc-threshold)")
            if not opt.startswith("--") and opt not in SHARED_SHORT:
                problems.append(f"short flag {opt} (only {sorted(SHARED_SHORT)} are shared)")
        if "--out" in p.opts and "-o" not in p.opts:
            problems.append("--out without -o")
    assert not problems, f"{path}: {problems}"


def test_out_and_seed_mean_the_same_everywhere():
    for path, cmd in COMMAND_LIST:
        for p in _options(cmd):
            if "--seed" in p.opts:
                assert p.type == click.INT or isinstance(p.type, click.types.IntParamType), path
            if "--out" in p.opts:
                assert p.opts[:2] in (["-o", "--out"], ["--out", "-o"]), path
