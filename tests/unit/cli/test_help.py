"""Every command's help: an example that names the command, and no stray space before punctuation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.cli.examples import walk
from services.cli.main import cli

COMMANDS = [path for path, _ in walk(cli())]
CLI_DOC = Path(__file__).resolve().parents[3] / "docs" / "CLI.md"


@pytest.mark.parametrize("path", COMMANDS)
def test_help_shows_an_example_of_the_command_when_asked(genesis, path: str) -> None:
    shown = genesis(*path.split(), "--help")
    assert shown.exit_code == 0, shown.output
    example = re.search(r"Example: (genesis[^\n]*)", shown.output)
    assert example, f"`genesis {path} --help` has no example"
    assert example.group(1).startswith(f"genesis {path}".strip()) or not path, example.group(1)


@pytest.mark.parametrize("path", COMMANDS)
def test_help_has_no_space_before_a_full_stop_when_rendered(genesis, path: str) -> None:
    # Rich used to read "[default: ...]" in a help text as markup and drop it, leaving "Search episodes ."
    shown = genesis(*path.split(), "--help", columns=300)
    assert not re.search(r"\w \.( |$)", shown.output, re.MULTILINE), shown.output


def test_every_command_is_in_the_cli_guide_when_documented() -> None:
    guide = CLI_DOC.read_text()
    missing = [path for path in COMMANDS if path and f"genesis {path}" not in guide]
    assert not missing, f"docs/CLI.md does not mention: {missing}"


def test_version_is_the_package_version_when_asked(genesis) -> None:
    from importlib.metadata import version

    shown = genesis("--version")
    assert shown.exit_code == 0 and shown.output.strip() == f"genesis {version('genesis-gap')}"


def test_shell_completion_script_is_printed_when_asked(genesis) -> None:
    shown = genesis("--show-completion", "bash")
    assert shown.exit_code == 0 and "_GENESIS_COMPLETE" in shown.output


def test_help_paragraphs_flow_to_the_terminal_width_when_rendered(genesis) -> None:
    # A docstring's own line breaks used to survive, so "rejected or" ended a line on any terminal width.
    shown = genesis("submit", "--help", columns=300)
    assert "was rejected or timed out" in shown.output, shown.output
