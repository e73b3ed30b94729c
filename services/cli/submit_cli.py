"""genesis submit: publish a plan (or a query) as a RunRequested, and optionally wait for its outcome."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from services.cli.console import console, fail, print_json
from services.client import GenesisClient, outcome_as_dict
from streams.reading import MissingTopic

app = typer.Typer()


@app.command()
def submit(
    plan: Path | None = typer.Option(None, "--plan", help="Plan file (any accepted format)."),
    query: str | None = typer.Option(None, "--query", help="A request for the LLM planner (needs the llm section)."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the run's outcome."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with --wait: the RunFinished content)."),
    expected: str | None = typer.Option(None, "--expected", help="The expected answer, for rewards."),
    deadline_s: float | None = typer.Option(None, "--deadline", help="Seconds before the run times out."),
    timeout_s: float = typer.Option(600.0, "--timeout", help="With --wait: give up waiting after this long."),
) -> None:
    """Submit a run to the planner (the services must be up: genesis up)."""
    if (plan is None) == (query is None):
        fail("give exactly one of --plan FILE or --query TEXT", code=2)
    try:
        plan_text = plan.read_text() if plan is not None else None
    except OSError as error:
        fail(f"cannot read plan {plan}: {error.strerror}", code=2)
    try:
        asyncio.run(_submit(plan_text, query, wait, as_json, expected, deadline_s, timeout_s))
    except MissingTopic as error:
        fail(f"{error} (is the system up? genesis up)")
    except TimeoutError:
        fail(f"no outcome within {timeout_s:.0f} s (is the planner running? genesis status)")


async def _submit(plan_text, query, wait, as_json, expected, deadline_s, timeout_s) -> None:
    async with GenesisClient.connect() as client:
        run_id = await client.submit(plan_text=plan_text, query=query, expected_answer=expected, deadline_s=deadline_s)
        if not wait:
            print_json({"run_id": run_id}) if as_json else console.print(f"submitted run {run_id}")
            return
        outcome = outcome_as_dict(await client.wait(run_id, timeout_s=timeout_s))
    if as_json:
        print_json(outcome)
        return
    console.print(f"run {run_id}: [bold]{outcome['status']}[/]")
    if outcome.get("reason"):
        console.print(f"reason: {outcome['reason']}")
    console.print(f"answer: {outcome['answer']!r}")
    metrics = outcome.get("metrics") or {}
    if metrics:
        console.print(
            f"makespan {metrics['makespan_s']:.2f} s, sequential {metrics['sequential_s']:.2f} s, "
            f"critical path {metrics['critical_path_s']:.2f} s, speedup {metrics['speedup']:.2f}x"
        )
    if outcome["status"] not in ("succeeded",):
        raise typer.Exit(1)
