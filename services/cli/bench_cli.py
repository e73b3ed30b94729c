"""genesis bench gap: the same plans through every way of running them, side by side (docs/BENCHMARKS.md)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec
import typer
from rich.progress import Progress
from rich.table import Table

from services.bench.gap import SYSTEM_MODES, ModeResult, executor_slots, plot_efficiency, run_workload, warm_up
from services.bench.stack import IsolatedStack, system_stack
from services.bench.workloads import WORKLOADS, bench_plans
from services.cli.console import console, fail

GUARANTEES = tuple(SYSTEM_MODES)  # planner.dispatch_guarantee's values

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
    guarantees: str = typer.Option(
        ",".join(GUARANTEES), help="The system's dispatch guarantees (planner.dispatch_guarantee): a mode each."
    ),
    plot: Path = typer.Option(Path("docs/benchmarks/gap_efficiency.png"), help="Where the efficiency plot goes."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Sequential, level barrier, as-soon-as-ready, LangGraph and the system over Kafka on the same DAGs."""
    chosen = _choices(workloads, WORKLOADS, "workload")
    try:
        spreads = [float(cv) for cv in cvs.split(",")]
    except ValueError:
        fail(f"--cv {cvs!r} is not a comma-separated list of numbers", code=2, hint="e.g. --cv 0,0.5,1.0")
    if not plot.parent.is_dir():
        fail(f"--plot {plot}: folder {plot.parent} does not exist", code=2, hint="create it first")
    chosen_guarantees = _choices(guarantees, GUARANTEES, "dispatch guarantee") if system else []
    with_langgraph = importlib.util.find_spec("langgraph") is not None
    if not with_langgraph:
        console.print("LangGraph is not installed (uv sync --extra bench): its column is left out")

    slots = executor_slots(
        bench_plans(workload, plans, cv=cv, scale=scale, seed=seed) for workload in chosen for cv in spreads
    )
    results: list[ModeResult] = []
    with _system_stacks(chosen_guarantees, executors, executor_concurrency=slots) as systems:
        for mode, stack in systems.items():
            with console.status(f"{mode}: warming up with one batch of each workload"):
                asyncio.run(warm_up(stack, chosen, plans=plans, seed=seed))
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
                            systems=systems,
                        )
                    )
                    progress.advance(job)
    picture = plot_efficiency(results, plot)
    if as_json:
        print(json.dumps({"results": msgspec.to_builtins(results), "plot": str(picture)}, indent=2))
        return
    _print_tables(results, plans=plans, scale=scale, seed=seed, executors=executors)
    console.print(f"efficiency plot: {picture}", soft_wrap=True)


@contextlib.contextmanager
def _broker() -> Iterator[str]:
    """The configured broker's address; the local one is started here if it is not running, and then stopped."""
    from deploy.local_kafka import LocalKafka, load_local_kafka_settings
    from streams.connection import bootstrap_servers, uses_local_broker
    from streams.settings import load_kafka_settings

    kafka, local = load_kafka_settings(), load_local_kafka_settings()
    started_kafka = uses_local_broker(kafka) and not LocalKafka(local).status().running
    try:
        if started_kafka:
            with console.status("starting Kafka"):
                LocalKafka(local).up()
        yield str(bootstrap_servers(kafka, local))
    finally:
        if started_kafka:
            LocalKafka(local).down()


def _choices(value: str, allowed: Sequence[str], what: str) -> list[str]:
    """The comma-separated names in ``value``; exit 2 naming the first that is not one of ``allowed``."""
    chosen = [name.strip() for name in value.split(",") if name.strip()]
    if unknown := [name for name in chosen if name not in allowed]:
        fail(f"unknown {what} {unknown[0]!r}", code=2, hint=f"choose from {', '.join(allowed)}")
    return chosen


@contextlib.contextmanager
def _system_stacks(
    guarantees: list[str], executors: int, *, executor_concurrency: int
) -> Iterator[dict[str, IsolatedStack]]:
    """Per dispatch guarantee, the planner, ``executors`` executors (each with ``executor_concurrency`` slots), the
    warehouse and the console in a namespace of their own on the local broker (started here if it is not running),
    by mode name; stopped afterwards."""
    if not guarantees:
        yield {}
        return
    stacks: dict[str, IsolatedStack] = {}
    with _broker() as bootstrap, tempfile.TemporaryDirectory(prefix="genesis-bench-gap-") as folder:
        try:
            for guarantee in guarantees:
                stack = system_stack(
                    bootstrap, Path(folder) / guarantee, guarantee=guarantee, executor_concurrency=executor_concurrency
                )
                stacks[SYSTEM_MODES[guarantee]] = stack
                with console.status(f"starting the planner ({guarantee}) and {executors} executors"):
                    stack.up(executors)  # inside: services started before a failure are stopped too
            yield stacks
        finally:
            for stack in stacks.values():
                stack.down()


def _print_tables(results: list[ModeResult], *, plans: int, scale: float, seed: int, executors: int) -> None:
    for cv in dict.fromkeys(result.cv for result in results):
        table = Table(
            title=f"latency CV {cv:g}: {plans} plans per workload in flight together, mean lookup {scale:g} s, "
            f"seed {seed}, {executors} executors for the system"
        )
        for column in ("workload", "mode", "mean makespan s", "efficiency", "speedup vs sequential"):
            table.add_column(column, overflow="fold")
        for result in (r for r in results if r.cv == cv):
            mode = f"[bold]{result.mode}[/bold]" if result.mode in SYSTEM_MODES.values() else result.mode
            table.add_row(
                result.workload,
                mode,
                f"{result.mean_makespan_s:.3f}",
                f"{result.efficiency:.3f}",
                f"{result.speedup:.2f}x",
            )
        console.print(table)


@app.command("load")
def load(
    executors: str = typer.Option("1,2,4", help="Executor counts, comma-separated."),
    in_flight: str = typer.Option("400,4000,10000", "--in-flight", help="Tasks in flight, comma-separated."),
    guarantees: str = typer.Option(
        ",".join(GUARANTEES), help="The planner's dispatch guarantees (planner.dispatch_guarantee) to measure."
    ),
    minimum_runs: int = typer.Option(300, help="Runs per level at least (3x what is in flight, if more)."),
    plot: Path = typer.Option(Path("docs/benchmarks/load_throughput.png"), help="Where the throughput plot goes."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Zero-latency tools through the whole system: tasks/s, run latency, per-hop overhead, planner CPU, RSS."""
    from services.bench.load import collect, plot_throughput

    try:
        counts = [int(value) for value in executors.split(",")]
        levels = [int(value) for value in in_flight.split(",")]
    except ValueError:
        fail("--executors and --in-flight take comma-separated whole numbers", code=2, hint="e.g. --in-flight 400,4000")
    if not plot.parent.is_dir():
        fail(f"--plot {plot}: folder {plot.parent} does not exist", code=2, hint="create it first")
    chosen_guarantees = _choices(guarantees, GUARANTEES, "dispatch guarantee")
    with (
        _broker() as bootstrap,
        tempfile.TemporaryDirectory(prefix="genesis-bench-load-") as folder,
        console.status("") as status,
    ):
        results, chains, busy = collect(
            bootstrap,
            lambda guarantee, count: Path(folder) / f"{guarantee}-executors-{count}",
            guarantees=chosen_guarantees,
            executor_counts=counts,
            levels=levels,
            minimum_runs=minimum_runs,
            on_phase=status.update,
        )
    picture = plot_throughput(results, plot)
    if as_json:
        print(
            json.dumps(
                {
                    "chains": msgspec.to_builtins(chains),
                    "busy": msgspec.to_builtins(busy),
                    "results": msgspec.to_builtins(results),
                    "plot": str(picture),
                },
                indent=2,
            )
        )
        return
    floor = Table(title="latency floor: chains of 20 zero-latency tasks, one run at a time")
    for column in (
        "dispatch",
        "executors",
        "hop p50/p99 ms (result -> dependent started)",
        "of which dispatch p50 ms",
        "per task ms",
    ):
        floor.add_column(column)
    for chain in chains:
        floor.add_row(
            chain.guarantee,
            str(chain.executors),
            f"{chain.hop_p50_ms:.1f}/{chain.hop_p99_ms:.1f}",
            f"{chain.dispatch_p50_ms:.1f}",
            f"{chain.per_task_ms:.1f}",
        )
    console.print(floor)
    waiting = Table(title="what the runtime adds to a hop while tasks wait on their tools (not saturated)")
    for column in (
        "dispatch",
        "executors",
        "tasks in flight",
        "tool latency s",
        "tasks/s",
        "hop p50/p99 ms",
        "dispatch p50/p99 ms",
    ):
        waiting.add_column(column)
    for hop in busy:
        waiting.add_row(
            hop.guarantee,
            str(hop.executors),
            str(hop.tasks_in_flight),
            f"{hop.tool_latency_s:g}",
            f"{hop.tasks_per_s:.0f}",
            f"{hop.hop_p50_ms:.1f}/{hop.hop_p99_ms:.1f}",
            f"{hop.dispatch_p50_ms:.1f}/{hop.dispatch_p99_ms:.1f}",
        )
    console.print(waiting)
    table = Table(title="zero-latency tools, fan-out of 10 + join per run, broker and warehouse on this machine")
    for column in (
        "dispatch", "executors", "in flight", "tasks/s", "runs/s", "run p50/p99 s", "dispatch hop p50/p99 ms",
        "start hop p50/p99 ms", "planner CPU ms/task",
    ):  # fmt: skip
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(
            r.guarantee,
            str(r.executors),
            str(r.tasks_in_flight),
            f"{r.tasks_per_s:.0f}",
            f"{r.runs_per_s:.1f}",
            f"{r.run_latency_p50_s:.2f}/{r.run_latency_p99_s:.2f}",
            f"{r.dispatch_hop_p50_ms:.1f}/{r.dispatch_hop_p99_ms:.1f}",
            f"{r.start_hop_p50_ms:.1f}/{r.start_hop_p99_ms:.1f}",
            f"{r.planner_cpu_ms_per_task:.2f}",
        )
    console.print(table)
    for r in results:
        rss = ", ".join(f"{name} {mib:.0f}" for name, mib in r.peak_rss_mib.items())
        setup = f"{r.guarantee}, {r.executors} executors, {r.tasks_in_flight} in flight"
        console.print(f"peak RSS MiB, {setup}: {rss}", soft_wrap=True)
    console.print(f"throughput plot: {picture}", soft_wrap=True)
