"""genesis submit: publish a plan (or a query) as a RunRequested, and optionally wait for its outcome."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer

from services.cli.console import console, errors, fail, print_json
from services.client import GenesisClient, outcome_as_dict
from services.planner.settings import load_planner_settings
from streams.reading import MissingTopic

app = typer.Typer()

PLANNER_POLL_S = 0.5


class NoPlanner(RuntimeError):
    pass


@app.command()
def submit(
    plan: Path | None = typer.Option(None, "--plan", help="Plan file (any accepted format)."),
    query: str | None = typer.Option(None, "--query", help="A request for the LLM planner (needs the llm section)."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the run's outcome."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with --wait: the RunFinished content)."),
    expected: str | None = typer.Option(None, "--expected", help="The expected answer, for rewards."),
    deadline_s: float | None = typer.Option(None, "--deadline", help="Seconds before the run times out."),
    timeout_s: float = typer.Option(600.0, "--timeout", help="With --wait: give up waiting after this long."),
    planner_timeout_s: float = typer.Option(
        10.0, "--planner-timeout", min=0, help="Seconds to wait for a planner to be consuming before giving up."
    ),
) -> None:
    """Submit a run to the planner (the services must be up: genesis up).

    Exit status 0 when the run succeeded (or, without --wait, was submitted), 1 when it failed, was rejected or
    timed out, or no planner runs; the same with or without --json.
    """
    if (plan is None) == (query is None):
        fail("give exactly one of --plan FILE or --query TEXT", code=2)
    try:
        plan_text = plan.read_text() if plan is not None else None
    except OSError as error:
        fail(f"cannot read plan {plan}: {error.strerror}", code=2)
    request = dict(plan_text=plan_text, query=query, expected_answer=expected, deadline_s=deadline_s)
    try:
        outcome = asyncio.run(_submit(request, wait, timeout_s, planner_timeout_s))
    except MissingTopic as error:
        fail(str(error), hint="is the system up? genesis up")
    except NoPlanner as error:
        fail(str(error), hint="start the services: genesis up; see them: genesis status")
    except TimeoutError:
        fail(f"no outcome within {timeout_s:g} s", hint="is the planner running? genesis status")
    if not wait:
        print_json({"run_id": outcome["run_id"]}) if as_json else console.print(f"submitted run {outcome['run_id']}")
        return
    if as_json:
        print_json(outcome)
    else:
        _print_outcome(outcome)
    raise typer.Exit(outcome_exit_code(outcome["status"]))


def outcome_exit_code(status: str) -> int:
    """0 for a run that succeeded; 1 for every other end (failed, partial, timed_out, cancelled, rejected)."""
    return 0 if status == "succeeded" else 1


async def _submit(request: dict, wait: bool, timeout_s: float, planner_timeout_s: float) -> dict:
    group = load_planner_settings().group_id
    async with GenesisClient.connect() as client:
        planners = await _planners(client, group, planner_timeout_s)
        if not planners and wait:
            raise NoPlanner(
                f"no planner is consuming runs (consumer group {group} has no members after {planner_timeout_s:g} s); "
                "nothing was submitted"
            )
        run_id = await client.submit(**request)
        if not wait:
            if not planners:
                errors.print(
                    f"[yellow]warning:[/] no planner is consuming runs (group {group}); run {run_id} waits in Kafka "
                    "until one starts (genesis up)",
                    highlight=False,
                )
            return {"run_id": run_id}
        return outcome_as_dict(await client.wait(run_id, timeout_s=timeout_s))


async def _planners(client: GenesisClient, group: str, within_s: float) -> int:
    """Members of the planner's consumer group; polls up to ``within_s`` (a planner may be joining right now)."""
    deadline = time.monotonic() + within_s
    while True:
        members = await client.group_members(group)
        if members or time.monotonic() >= deadline:
            return members
        await asyncio.sleep(PLANNER_POLL_S)


def _print_outcome(outcome: dict) -> None:
    console.print(f"run {outcome['run_id']}: [bold]{outcome['status']}[/]")
    if outcome.get("reason"):
        console.print(f"reason: {outcome['reason']}", highlight=False)
    console.print(f"answer: {outcome['answer']!r}", highlight=False)
    metrics = outcome.get("metrics") or {}
    if metrics:
        console.print(
            f"makespan {metrics['makespan_s']:.2f} s, sequential {metrics['sequential_s']:.2f} s, "
            f"critical path {metrics['critical_path_s']:.2f} s, speedup {metrics['speedup']:.2f}x"
        )
