"""The genesis command: one entry point for every user of Genesis GAP."""

from __future__ import annotations

import typer

from configs.settings import ConfigError
from services.cli import demo_cli, kafka_cli, plan_cli, stack_cli, submit_cli
from services.cli.console import fail
from services.curator import cli as curator_cli
from services.trainer import cli as trainer_cli
from services.warehouse import cli as warehouse_cli

app = typer.Typer(
    help="Genesis GAP: agent plans as parallel DAGs over Kafka, traced in DuckDB, improved with Agent Lightning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(kafka_cli.app, name="kafka")
app.add_typer(plan_cli.app, name="plan")
app.add_typer(curator_cli.app, name="data")
app.add_typer(trainer_cli.app, name="trainer")
app.add_typer(warehouse_cli.app, name="warehouse")
app.add_typer(warehouse_cli.runs_app, name="runs")
for commands in (demo_cli.app, submit_cli.app, stack_cli.app):
    app.registered_commands += commands.registered_commands


def main() -> None:
    try:
        app()
    except ConfigError as error:
        fail(str(error), code=2)


if __name__ == "__main__":
    main()
