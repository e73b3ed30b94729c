"""Shared terminal output for the CLI: rich on stdout for people, errors as one line on stderr."""

from __future__ import annotations

import sys
from typing import NoReturn

import msgspec
import typer
from rich.console import Console

console = Console()
errors = Console(stderr=True)


def fail(message: str, *, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(value: object) -> None:
    sys.stdout.write(msgspec.json.encode(value).decode() + "\n")
