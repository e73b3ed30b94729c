"""genesis cancel: ask the planner to end a run as cancelled; tasks that have not started are skipped."""

from __future__ import annotations

import asyncio

import typer

from services.cli.console import console, fail, print_json
from services.client import GenesisClient, outcome_as_dict
from streams.reading import MissingTopic

app = typer.Typer()


@app.command()
def cancel(
    run_id: str = typer.Argument(..., help="The run to cancel (as genesis submit printed it)."),
    reason: str = typer.Option("", "--reason", help="Why; RunFinished.reason carries it."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the run's outcome."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    timeout_s: float = typer.Option(60.0, "--timeout", help="With --wait: give up waiting after this long."),
) -> None:
    """Cancel a run: it finishes as cancelled, and tasks not yet started are skipped.

    Exit status 0 when the request was sent (with --wait: when the run ended as cancelled), 1 otherwise (with
    --wait, a run that had already finished keeps its own status, and it is printed).
    """
    try:
        outcome = asyncio.run(_cancel(run_id, reason, wait, timeout_s))
    except MissingTopic as error:
        fail(str(error), hint="is the system up? genesis up")
    except TimeoutError:
        fail(f"no outcome for run {run_id} within {timeout_s:g} s", hint="is the planner running? genesis status")
    if as_json:
        print_json(outcome)
    elif wait:
        console.print(
            f"run {run_id}: [bold]{outcome['status']}[/]" + (f" ({outcome['reason']})" if outcome.get("reason") else "")
        )
    else:
        console.print(f"cancel requested for run {run_id}")
    if wait and outcome["status"] != "cancelled":
        raise typer.Exit(1)


async def _cancel(run_id: str, reason: str, wait: bool, timeout_s: float) -> dict:
    async with GenesisClient.connect() as client:
        await client.cancel(run_id, reason=reason)
        if not wait:
            return {"run_id": run_id, "cancel_requested": True}
        return outcome_as_dict(await client.wait(run_id, timeout_s=timeout_s))
