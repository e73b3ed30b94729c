"""GAP dispatch benchmark: as-soon-as-ready against the GAP paper's level barrier, and live makespans over Kafka.

    uv run python -m tests.benchmarks.gap.bench_gap            # both parts
    uv run python -m tests.benchmarks.gap.bench_gap --no-live  # the simulation only

Part 1 runs ParallelQA-shaped plans (b branches of search -> math, some with a second search, then one
aggregate) with log-normal tool latencies through the planner's real state machine on a simulated clock, and
through the level-by-level barrier, side by side on the same plans and durations.
Part 2 starts the system (Kafka, planner, executors), submits a ParallelQA-shaped plan of 1 s sleep tasks several
times and prints each makespan against its critical path and the sequential time.
"""

from __future__ import annotations

import asyncio
import random
import statistics

import typer
from rich.console import Console
from rich.progress import track
from rich.table import Table

from schemas import Plan, RunFinished, Task
from services.planner.core.simulate import simulate

console = Console()


def parallelqa_plan(rng: random.Random) -> tuple[Plan, dict[str, float]]:
    tasks: list[Task] = []
    durations: dict[str, float] = {}
    branch_ends = []
    for branch in range(rng.randint(2, 4)):
        search = f"s{branch}"
        tasks.append(Task(id=search, tool="kb_search", args={"query": f"entity {branch}"}))
        durations[search] = rng.lognormvariate(0.0, 0.6)  # search APIs: about 1 s, long tail
        last = search
        if rng.random() < 0.4:  # a follow-up search that needs the first one's answer
            follow = f"f{branch}"
            tasks.append(Task(id=follow, tool="kb_search", args={"query": {"$ref": last}}, deps=(last,)))
            durations[follow] = rng.lognormvariate(0.0, 0.6)
            last = follow
        math = f"m{branch}"
        tasks.append(Task(id=math, tool="calculator", args={"expression": {"$ref": last}}, deps=(last,)))
        durations[math] = rng.lognormvariate(-1.5, 0.5)  # arithmetic: a fraction of a second
        branch_ends.append(math)
    tasks.append(Task(id="answer", tool="calculator", args={"expression": "0"}, deps=tuple(branch_ends)))
    durations["answer"] = rng.lognormvariate(-1.5, 0.5)
    return Plan(tasks=tuple(tasks)), durations


def simulation(plans: int, seed: int) -> None:
    rng = random.Random(seed)
    ready, barrier, sequential = [], [], []
    for _ in track(range(plans), description="simulating plans", console=console):
        plan, durations = parallelqa_plan(rng)
        ready.append(simulate(plan, durations, barrier=False))
        barrier.append(simulate(plan, durations, barrier=True))
        sequential.append(sum(durations.values()))
    slowdowns = [b / r - 1 for b, r in zip(barrier, ready, strict=True)]
    table = Table(title=f"{plans} ParallelQA-shaped plans, same durations for each policy (seed {seed})")
    for column in ("dispatch", "mean makespan s", "median makespan s", "vs as-soon-as-ready"):
        table.add_column(column)
    table.add_row(
        "as soon as ready (ours)", f"{statistics.mean(ready):.3f}", f"{statistics.median(ready):.3f}", "1.000"
    )
    table.add_row(
        "level barrier (GAP paper)",
        f"{statistics.mean(barrier):.3f}",
        f"{statistics.median(barrier):.3f}",
        f"{statistics.mean(barrier) / statistics.mean(ready):.3f}",
    )
    table.add_row(
        "one task at a time",
        f"{statistics.mean(sequential):.3f}",
        f"{statistics.median(sequential):.3f}",
        f"{statistics.mean(sequential) / statistics.mean(ready):.3f}",
    )
    console.print(table)
    console.print(
        f"the barrier is slower on {sum(s > 1e-9 for s in slowdowns)} of {plans} plans; "
        f"mean slowdown {100 * statistics.mean(slowdowns):.1f}%, "
        f"p90 {100 * statistics.quantiles(slowdowns, n=10)[-1]:.1f}%"
    )


LIVE_PLAN = "\n".join(
    [
        "Task 1: sleep(seconds=1) | Dependencies: none",
        "Task 2: sleep(seconds=1) | Dependencies: none",
        "Task 3: sleep(seconds=1) | Dependencies: none",
        "Task 4: sleep(seconds=1) | Dependencies: Task 1",
        "Task 5: sleep(seconds=1) | Dependencies: Task 2",
        "Task 6: sleep(seconds=1) | Dependencies: Task 3",
        "Task 7: sleep(seconds=1) | Dependencies: Task 4, Task 5, Task 6",
    ]
)


async def submit_live(repeats: int) -> list[RunFinished]:
    from services.client import GenesisClient

    outcomes = []
    async with GenesisClient.connect() as client:
        for _ in range(repeats):
            outcome = await client.run(plan_text=LIVE_PLAN, timeout_s=120)
            assert isinstance(outcome, RunFinished) and outcome.status == "succeeded", outcome
            outcomes.append(outcome)
    return outcomes


def live(repeats: int, executors: int) -> None:
    from services.cli.stack_cli import Stack

    stack = Stack()
    already_up = stack.any_running()
    with console.status("starting Kafka, the planner and the executors"):
        stack.up(executors)
    try:
        outcomes = asyncio.run(submit_live(repeats))
    finally:
        if not already_up:
            stack.down()
    table = Table(title="ParallelQA-shaped plan of 1 s sleeps over Kafka: 3 branches of 2 steps, then 1 aggregate")
    for column in ("run", "makespan s", "critical path s", "overhead ms", "sequential s", "speedup"):
        table.add_column(column)
    for number, outcome in enumerate(outcomes, start=1):
        m = outcome.metrics
        table.add_row(
            str(number),
            f"{m.makespan_s:.3f}",
            f"{m.critical_path_s:.3f}",
            f"{1000 * (m.makespan_s - m.critical_path_s):.0f}",
            f"{m.sequential_s:.3f}",
            f"{m.speedup:.2f}x",
        )
    console.print(table)
    overheads = [1000 * (o.metrics.makespan_s - o.metrics.critical_path_s) for o in outcomes]
    console.print(f"median overhead over the critical path: {statistics.median(overheads):.0f} ms per run")


def main(
    plans: int = typer.Option(2000, help="Simulated plans."),
    seed: int = typer.Option(7),
    live_runs: int = typer.Option(5, "--live-runs", help="Live runs of the 1 s sleep plan."),
    executors: int = typer.Option(3),
    with_live: bool = typer.Option(True, "--live/--no-live", help="Also measure over a real Kafka."),
) -> None:
    simulation(plans, seed)
    if with_live:
        live(live_runs, executors)


if __name__ == "__main__":
    typer.run(main)
