"""genesis bench gap: the same plans through every way of running them, side by side (docs/BENCHMARKS.md)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path

import msgspec
import typer
from rich.progress import Progress
from rich.table import Table

from services.bench.gap import SYSTEM_MODE, ModeResult, plot_efficiency, run_workload
from services.bench.workloads import WORKLOADS
from services.cli.console import console, fail

app = typer.Typer(help="Benchmarks that print their figures side by side (docs/BENCHMARKS.md).", no_args_is_help=True)


@app.command("gap")
def gap(
    plans: int = typer.Option(16, help="Plans per workload, all in flight together."),
    cvs: str = typer.Option("0,0.5,1.0", "--cv", help="Coefficients of variation of the tool latencies."),
    scale: float = typer.Option(0.25, help="Mean lookup latency in seconds (arithmetic is a fifth of it)."),
    seed: int = typer.Option(7, help="Same seed, same plans and latencies."),
    workloads: str = typer.Option(",".join(WORKLOADS), help="Workloads to run, comma-separated."),
    executors: int = typer.Option(2, help="Executors for the system over Kafka."),
    system: bool = typer.Option(True, "--system/--no-system", help="Also run the plans over Kafka."),
    plot: Path = typer.Option(Path("docs/benchmarks/gap_efficiency.png"), help="Where the efficiency plot goes."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Sequential, level barrier, as-soon-as-ready, LangGraph and the system over Kafka on the same DAGs."""
    chosen = [name.strip() for name in workloads.split(",") if name.strip()]
    if unknown := [name for name in chosen if name not in WORKLOADS]:
        fail(f"unknown workload {unknown[0]!r}", code=2, hint=f"choose from {', '.join(WORKLOADS)}")
    try:
        spreads = [float(cv) for cv in cvs.split(",")]
    except ValueError:
        fail(f"--cv {cvs!r} is not a comma-separated list of numbers", code=2, hint="e.g. --cv 0,0.5,1.0")
    if not plot.parent.is_dir():
        fail(f"--plot {plot}: folder {plot.parent} does not exist", code=2, hint="create it first")
    with_langgraph = importlib.util.find_spec("langgraph") is not None
    if not with_langgraph:
        console.print("LangGraph is not installed (uv sync --extra bench): its column is left out")

    stack = None
    if system:
        from services.cli.stack_cli import Stack

        stack = Stack()
        already_up = stack.any_running()
        with console.status(f"starting Kafka, the planner and {executors} executors"):
            stack.up(executors)
    results: list[ModeResult] = []
    try:
        with Progress(console=console, transient=True) as progress:
            job = progress.add_task("workloads", total=len(chosen) * len(spreads))
            for cv in spreads:
                for workload in chosen:
                    progress.update(job, description=f"{workload}, CV {cv:g}")
                    results += asyncio.run(
                        run_workload(
                            workload,
                            cv,
                            plans=plans,
                            scale=scale,
                            seed=seed,
                            with_langgraph=with_langgraph,
                            with_system=system,
                        )
                    )
                    progress.advance(job)
    finally:
        if stack is not None and not already_up:
            stack.down()
    picture = plot_efficiency(results, plot)
    if as_json:
        print(json.dumps({"results": msgspec.to_builtins(results), "plot": str(picture)}, indent=2))
        return
    _print_tables(results, plans=plans, scale=scale, seed=seed, executors=executors)
    console.print(f"efficiency plot: {picture}", soft_wrap=True)


def _print_tables(results: list[ModeResult], *, plans: int, scale: float, seed: int, executors: int) -> None:
    for cv in dict.fromkeys(result.cv for result in results):
        table = Table(
            title=f"latency CV {cv:g}: {plans} plans per workload in flight together, mean lookup {scale:g} s, "
            f"seed {seed}, {executors} executors for the system"
        )
        for column in ("workload", "mode", "mean makespan s", "efficiency", "speedup vs sequential"):
            table.add_column(column, overflow="fold")
        for result in (r for r in results if r.cv == cv):
            mode = f"[bold]{result.mode}[/bold]" if result.mode == SYSTEM_MODE else result.mode
            table.add_row(
                result.workload,
                mode,
                f"{result.mean_makespan_s:.3f}",
                f"{result.efficiency:.3f}",
                f"{result.speedup:.2f}x",
            )
        console.print(table)
