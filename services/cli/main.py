"""The genesis command: one entry point for every user of Genesis GAP."""

from __future__ import annotations

import typer

from configs.settings import ConfigError
from services.cli import kafka_cli
from services.cli.console import fail

app = typer.Typer(
    help="Genesis GAP: agent plans as parallel DAGs over Kafka, traced in DuckDB, improved with Agent Lightning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(kafka_cli.app, name="kafka")


def main() -> None:
    try:
        app()
    except ConfigError as error:
        fail(str(error), code=2)
