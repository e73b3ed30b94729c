"""Shared terminal output for the CLI: rich on stdout for people, errors as one line on stderr.

``soft_wrap``: a long line (a file's path) is written whole and the terminal wraps it, so it stays one string a
person can copy; rich would otherwise break it at the console width, mid-name, when the output is piped.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str, *, code: int = 1, hint: str | None = None) -> NoReturn:
    """One line on stderr (the hint after the message), then exit with ``code`` (docs/CLI.md lists them)."""
    line = " ".join(message.split())  # one line even when a library's message has several
    if hint:
        line += f" ({hint})"
    errors.print(f"[bold red]error:[/] {escape(line)}", highlight=False)
    raise typer.Exit(code)


def print_json(value: object) -> None:
    sys.stdout.write(msgspec.json.encode(value, enc_hook=str).decode() + "\n")


def table(*columns: str, whole: tuple[str, ...] = (), **options: object) -> Table:
    """A table whose cells are never cut off with an ellipsis on a narrow terminal: long words fold onto the next
    line, and the ``whole`` columns (identifiers people copy) keep their full width on one line."""
    # No rules between columns: two spaces apart, so a 32-digit run id and five more columns fit 80 characters.
    options.setdefault("box", None)
    options.setdefault("pad_edge", False)
    options.setdefault("header_style", "bold underline")
    result = Table(**options)  # type: ignore[arg-type]
    for name in columns:
        if name in whole:
            result.add_column(name, no_wrap=True, overflow="ignore", min_width=1)
        else:
            result.add_column(name, overflow="fold", min_width=min(len(name), 10))
    return result
