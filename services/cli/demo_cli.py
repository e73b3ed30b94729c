"""genesis demo: the main job. Brings the system up, runs the bundled workload, reports, tears down."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from services.cli.console import console, fail
from services.cli.stack_cli import Stack
from services.demo.report import print_report
from services.demo.runner import run_workload
from services.executor.tools.workload import DEFAULT_WORKLOAD, WorkloadError, load_workload
from services.warehouse.digest import print_digest
from services.warehouse.settings import load_warehouse_settings

app = typer.Typer()


@app.command()
def demo(
    executors: int = typer.Option(3, "--executors", "-e", min=1, help="Executor processes to start."),
    workload: Path = typer.Option(DEFAULT_WORKLOAD, "--workload", help="Workload YAML (see configs/demo/)."),
    in_flight: int = typer.Option(4, "--in-flight", min=1, help="Runs submitted and not yet finished, at most."),
    timeout_s: float = typer.Option(300.0, "--timeout", help="Give up on a run after this long."),
    keep_running: bool = typer.Option(False, "--keep-running", help="Leave the services up afterwards."),
) -> None:
    """Run the bundled workload of multi-step jobs as parallel DAGs over Kafka, and report the speedup."""
    try:
        jobs = load_workload(workload)
    except WorkloadError as error:
        fail(str(error), code=2)
    stack = Stack()
    already_up = stack.any_running()
    with console.status("starting Kafka, the planner and the executors"):
        stack.up(executors)
    console.print(f"system up: Kafka at {stack.bootstrap}, planner, {executors} executors")
    try:
        result = asyncio.run(run_workload(jobs, in_flight=in_flight, timeout_s=timeout_s))
        summary = print_report(console, result)
        run_ids = [item.outcome.run_id for item in result.outcomes if item.outcome]
        print_digest(console, load_warehouse_settings(), run_ids)
    finally:
        if not (already_up or keep_running):
            with console.status("stopping what the demo started"):
                stack.down()
    if summary.succeeded < summary.runs:
        raise typer.Exit(1)
