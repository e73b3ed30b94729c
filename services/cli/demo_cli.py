"""genesis demo: the main job. Brings the system up, runs the bundled workload, reports, tears down."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from services.cli.console import console, fail
from services.cli.stack_cli import Stack
from services.demo.questions import ask, demo_questions, print_questions, unavailable
from services.demo.report import print_report
from services.demo.runner import run_workload
from services.executor.tools.workload import DEFAULT_WORKLOAD, WorkloadError, load_workload
from services.llm.settings import load_llm_settings
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
    questions: int = typer.Option(
        3, "--questions", min=0, max=4, help="Plain questions (--query) planned by the model afterwards; 0: none."
    ),
    questions_timeout_s: float = typer.Option(
        30.0, "--questions-timeout", min=1.0, help="Wait this long for all the questions together."
    ),
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
        if questions:
            _question_mode(questions, questions_timeout_s)
    finally:
        if not (already_up or keep_running):
            with console.status("stopping what the demo started"):
                stack.down()
    if summary.succeeded < summary.runs:
        raise typer.Exit(1)


def _question_mode(count: int, timeout_s: float) -> None:
    """A few questions the model plans, shown apart from the workload; one line when no model is available. Their
    answers do not decide the demo's exit status (the shipped model is tiny)."""
    llm = load_llm_settings()
    reason = unavailable(llm)
    console.rule("[bold]question mode: plain questions planned by a language model")
    if reason is not None:
        console.print(f"question mode skipped: {reason}")
        return
    model = llm.model if llm.enabled else f"{llm.local_model} (local, served by genesis up)"
    with console.status(f"asking {count} questions of {model}"):
        asked = asyncio.run(ask(demo_questions(count), timeout_s=timeout_s))
    print_questions(console, asked, str(model), timeout_s)
