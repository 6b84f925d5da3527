"""The `epi` group exposes every command, and each command follows the shared conventions."""

import tomllib

import pytest
from click.testing import CliRunner

from epitools.cli.main import COMMANDS, available_commands, cli


def test_every_command_is_installed_and_a_console_script(repo_root):
    assert available_commands() == list(COMMANDS)
    scripts = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["epi"] == "epitools.cli.main:cli"
    for name, (module, _) in COMMANDS.items():
        assert scripts[f"epi-{name}"] == f"epitools.cli.{module}:main"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_shows_defaults_and_shared_options(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    cmd = cli.get_command(None, name)
    commands = list(cmd.commands.values()) if hasattr(cmd, "commands") else [cmd]
    for sub in commands:
        options = {opt for p in sub.params for opt in p.opts}
        assert {"-v", "--verbose", "-q", "--quiet"} <= options, sub.name
        assert {"-o", "--out"} <= options, sub.name


def test_unknown_command_is_a_usage_error():
    assert CliRunner().invoke(cli, ["nope"]).exit_code == 2
