"""genesis warehouse sql | genesis runs list | genesis runs show: the warehouse for analysts, while it runs."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import msgspec
import typer
from rich.table import Table

from services.cli.console import console, errors, fail, table
from services.warehouse import gantt
from services.warehouse.core.timeline import title
from services.warehouse.query import BadQuery, QueryResult, WarehouseUnavailable, open_reader
from services.warehouse.runs import RunNotFound, latest_runs, load_timeline, resolve_run_id
from services.warehouse.settings import load_warehouse_settings

app = typer.Typer(help="The trace warehouse: SQL over every event (docs/WAREHOUSE.md).", no_args_is_help=True)
runs_app = typer.Typer(help="Runs as the warehouse recorded them: tasks, attempts, timelines.", no_args_is_help=True)


@app.command()
def sql(
    query: str = typer.Argument(
        ..., help='SQL over the warehouse\'s tables and views, e.g. "SELECT * FROM tool_latency".'
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array of row objects."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV with a header row."),
) -> None:
    """Answer SQL from the snapshots while the warehouse service runs, or from its file when it does not."""
    if as_json and as_csv:
        fail("choose one of --json and --csv", code=2)
    result, source = _answer(lambda reader: reader.query(query))
    if as_json:
        sys.stdout.write(msgspec.json.encode(result.records(), enc_hook=str).decode() + "\n")
    elif as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    else:
        _print_table(result)
        errors.print(f"[dim]{len(result.rows)} rows from {source}[/]", highlight=False)


@runs_app.command("list")
def list_runs(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many of the latest runs."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array of run objects."),
) -> None:
    """The latest runs: status, size, makespan and speedup, each with its whole run id (for runs show)."""
    result, source = _answer(lambda reader: latest_runs(reader, limit))
    if as_json:
        sys.stdout.write(msgspec.json.encode(result.records(), enc_hook=str).decode() + "\n")
        return
    console.print(runs_table(result))
    errors.print(f"[dim]from {source}[/]", highlight=False)


def runs_table(result: QueryResult) -> Table:
    """The runs list for people: the id whole on one line (it is what runs show takes), long words folded."""
    headers = {"run_id": "run id", "status": "status", "tasks": "tasks", "makespan_s": "makespan", "speedup": "speedup"}
    columns = [column for column in (*headers, "job") if column in result.columns]
    runs = table(*(headers.get(column, column) for column in columns), whole=tuple(headers.values()))
    for record in result.records():
        runs.add_row(*("" if record[column] is None else str(record[column]) for column in columns))
    return runs


@runs_app.command("show")
def show_run(
    run_id: str = typer.Argument(..., help="A run id, or the start of one."),
    gantt_file: Path | None = typer.Option(
        None, "--gantt", help="Write the run's timeline to this .png or .html file."
    ),
) -> None:
    """A run's tasks, dependencies and attempts; --gantt draws when each attempt ran, and on which executor."""
    if gantt_file is not None and not gantt_file.parent.is_dir():
        fail(f"--gantt {gantt_file}: no folder {gantt_file.parent}", code=2, hint="create it, or choose another path")
    timeline, _ = _answer(lambda reader: load_timeline(reader, resolve_run_id(reader, run_id)))
    console.print(title(timeline), highlight=False)
    for line in timeline.replans:
        console.print(line, highlight=False)
    critical = timeline.critical_path()
    tasks = table(
        "task", "tool", "needs", "status", "attempts", "executor", "seconds", "critical", whole=("task", "seconds")
    )
    for task in timeline.tasks:
        settling = task.settling
        seconds = ""
        if settling is not None and settling.started_at and settling.finished_at:
            seconds = f"{(settling.finished_at - settling.started_at).total_seconds():.3f}"
        tasks.add_row(
            task.task_id,
            task.tool or "llm",
            ", ".join(task.deps),
            task.status if task.skip_reason is None else f"skipped: {task.skip_reason}",
            str(len(task.attempts)),
            (settling.executor if settling else None) or "",
            seconds,
            "★" if task.task_id in critical else "",
        )
    console.print(tasks)
    if gantt_file is not None:
        try:
            written = gantt.render(timeline, gantt_file)
        except gantt.UnsupportedChartFormat as error:
            fail(str(error), code=2)
        console.print(f"timeline: {written.resolve()}", highlight=False)


def _answer(ask: Any) -> tuple[Any, str]:
    """Run ``ask(reader)`` against the warehouse; failures become one line on stderr (exit 2 for bad input)."""
    try:
        with open_reader(load_warehouse_settings()) as reader:
            return ask(reader), reader.source
    except BadQuery as error:
        fail(f"bad query: {error}", code=2)
    except RunNotFound as error:
        fail(str(error), code=2)
    except WarehouseUnavailable as error:
        fail(str(error))


def _print_table(result: QueryResult) -> None:
    table = Table(*result.columns)
    for row in result.rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    console.print(table)
