"""The genesis command: one entry point for every user of Genesis GAP."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from importlib.metadata import version as package_version

import click
import typer
from aiokafka.errors import KafkaError

from configs.settings import ConfigError
from services.cli import (
    bench_cli,
    blobs_cli,
    cancel_cli,
    demo_cli,
    dlq_cli,
    docs_cli,
    eval_cli,
    kafka_cli,
    llm_cli,
    plan_cli,
    stack_cli,
    submit_cli,
)
from services.cli.console import console, fail
from services.cli.examples import finish_help
from services.client import KafkaUnreachable
from services.console import cli as console_cli
from services.curator import cli as curator_cli
from services.trainer import cli as trainer_cli
from services.warehouse import cli as warehouse_cli
from streams.connection import KafkaLoginError, KafkaSecurityError

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
app.add_typer(dlq_cli.app, name="dlq")
app.add_typer(docs_cli.app, name="docs")
app.add_typer(bench_cli.app, name="bench")
app.add_typer(blobs_cli.app, name="blobs")
app.add_typer(llm_cli.app, name="llm")
app.add_typer(eval_cli.app, name="eval")
for commands in (demo_cli.app, submit_cli.app, cancel_cli.app, stack_cli.app, console_cli.app):
    app.registered_commands += commands.registered_commands


_debug = False
SERVING = {"serve", "console"}  # commands that run a service in this process
KAFKA_HINT = "start it with genesis up, or point KAFKA_BOOTSTRAP_SERVERS at a running cluster"


def _print_version(value: bool) -> None:
    if value:
        console.print(f"genesis {package_version('genesis-gap')}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="On an unexpected error, print the full traceback."),
) -> None:
    """Genesis GAP: agent plans as parallel DAGs over Kafka, traced in DuckDB, improved with Agent Lightning.

    Exit status: 0 success, 1 failure (a run that did not succeed, a service or Kafka that cannot be reached),
    2 bad input (arguments, files, configuration), 3 not running (docs/CLI.md).
    """
    global _debug
    _debug = debug


def cli() -> click.Command:
    """The click command behind `genesis`, with each command's example in its help (what tests invoke)."""
    command = typer.main.get_command(app)
    finish_help(command)
    return command


def main(argv: Sequence[str] | None = None) -> None:
    try:
        _run(argv)
    except typer.Exit as done:  # fail() outside click's own handling
        sys.exit(done.exit_code)


def _run(argv: Sequence[str] | None) -> None:
    global _debug
    words = list(argv if argv is not None else sys.argv[1:])
    _debug = "--debug" in words  # known before any command runs
    if not _debug and next((word for word in words if not word.startswith("-")), None) not in SERVING:
        # The Kafka client logs each failed connection attempt; the one-line error below says it once, with a hint.
        # Services keep its log: it is how operators see rebalances and broker trouble.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        cli()(args=argv, prog_name="genesis")
    except (ConfigError, KafkaSecurityError) as error:
        fail(str(error), code=2, hint="see configs/genesis.yaml and the configuration table in README.md")
    except KafkaLoginError as error:
        fail(str(error))  # it names the settings to check
    except KafkaUnreachable as error:
        fail(str(error), hint=KAFKA_HINT)
    except KafkaError as error:
        text = str(error)  # aiokafka's messages mostly start with the class name already
        fail(
            f"Kafka: {text if text.startswith(type(error).__name__) else f'{type(error).__name__}: {text}'}",
            hint=KAFKA_HINT,
        )
    except Exception as error:
        if _debug:
            raise
        fail(f"{type(error).__name__}: {error}", hint="run again with --debug for the traceback")


if __name__ == "__main__":
    main()
