"""`genesis bench gap`: the same plans and latencies through every mode, side by side, in one run.

The in-process modes (``services.bench.peers``) and the system over Kafka (planner + K executors, each task a
``sleep`` of its latency) get the same seeded plans; all plans of a workload are in flight together. Per mode:
mean makespan, efficiency (critical path / makespan, 1.0 is ideal) and speedup over sequential.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import msgspec

from services.bench.peers import SEQUENTIAL, PlanTiming, in_process_modes, run_all
from services.bench.stack import IsolatedStack
from services.bench.workloads import WORKLOADS, BenchPlan, as_seed_plan, bench_plans

# The system over Kafka, by the planner's dispatch guarantee (planner.dispatch_guarantee).
SYSTEM_MODES = {"exactly_once": "system (exactly once)", "at_least_once": "system (at least once)"}


class ModeResult(msgspec.Struct, frozen=True):
    workload: str
    cv: float
    mode: str
    plans: int
    mean_makespan_s: float
    efficiency: float  # mean over plans of critical path / makespan
    speedup: float  # the sequential mode's mean makespan / this mode's


def summarise(
    workload: str, cv: float, makespans: dict[str, list[float]], plans: Sequence[BenchPlan]
) -> list[ModeResult]:
    """``makespans`` per mode, plan by plan; speedups are against the measured sequential mode."""
    sequential = statistics.mean(makespans[SEQUENTIAL])
    results = []
    for mode, times in makespans.items():
        efficiency = statistics.mean(
            plan.critical_path_s() / makespan for plan, makespan in zip(plans, times, strict=True) if makespan > 0
        )
        mean = statistics.mean(times)
        results.append(ModeResult(workload, cv, mode, len(plans), mean, efficiency, sequential / mean))
    return results


def executor_slots(batches: Iterable[Sequence[BenchPlan]]) -> int:
    """Slots per executor so that every task of a batch of plans in flight together can run at once, as in the
    in-process modes (the tools are sleeps). tasks.ready spreads tasks over executors by the hash of their ids,
    unevenly, so each executor gets room for a whole batch; never fewer than its default."""
    from services.executor.settings import ExecutorSettings

    widest = max((sum(len(plan.tasks) for plan in batch) for batch in batches), default=0)
    return max(ExecutorSettings().concurrency, widest)


async def system_makespans(stack: IsolatedStack, plans: Sequence[BenchPlan], timeout_s: float) -> list[float]:
    """Every plan submitted at once through the client; each run's makespan as the planner measured it."""
    from schemas import RunFinished
    from services.client import GenesisClient
    from streams.settings import KafkaSettings

    async with GenesisClient(stack.bootstrap, stack.catalogue, KafkaSettings()) as client:
        run_ids = [
            await client.submit(plan_text=as_seed_plan(plan), strategy="parallel", labels={"bench": "gap"})
            for plan in plans
        ]
        outcomes = await asyncio.gather(*(client.wait(run_id, timeout_s=timeout_s) for run_id in run_ids))
    makespans = []
    for plan, outcome in zip(plans, outcomes, strict=True):
        if not isinstance(outcome, RunFinished) or outcome.status != "succeeded":
            raise RuntimeError(f"{plan.workload} plan {plan.number} did not succeed over Kafka: {outcome}")
        makespans.append(outcome.metrics.makespan_s)
    return makespans


async def warm_up(stack: IsolatedStack, workloads: Sequence[str], *, plans: int, seed: int) -> None:
    """One unmeasured batch of each workload's shape (other latencies, a tenth of a second at most), so the measured
    runs find the services as they are in use: connections open, producers and metadata ready, code paths warm.
    The in-process modes have nothing to warm."""
    for workload in workloads:
        batch = bench_plans(workload, plans, cv=0.5, scale=0.02, seed=seed + 1)
        await system_makespans(stack, batch, timeout_s=120)


async def run_workload(
    workload: str,
    cv: float,
    *,
    plans: int,
    scale: float,
    seed: int,
    with_langgraph: bool,
    systems: Mapping[str, IsolatedStack],
) -> list[ModeResult]:
    """Every mode on the same plans, then the system's: one mode per stack in ``systems`` (mode name -> a stack
    that is up), one after another."""
    batch = bench_plans(workload, plans, cv=cv, scale=scale, seed=seed)
    makespans: dict[str, list[float]] = {}
    for mode, runner in in_process_modes(with_langgraph=with_langgraph).items():
        timings: list[PlanTiming] = await run_all(runner, batch)
        makespans[mode] = [timing.makespan_s for timing in timings]
    for mode, stack in systems.items():
        timeout_s = 60 + 20 * max(plan.sequential_s() for plan in batch)
        makespans[mode] = await system_makespans(stack, batch, timeout_s=timeout_s)
    return summarise(workload, cv, makespans, batch)


def plot_efficiency(results: Sequence[ModeResult], path: Path) -> Path:
    """One panel per CV: efficiency per mode for each workload (grouped bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cvs = sorted({result.cv for result in results})
    modes = list(dict.fromkeys(result.mode for result in results))
    workloads = [workload for workload in WORKLOADS if any(result.workload == workload for result in results)]
    figure, axes = plt.subplots(1, len(cvs), figsize=(5.5 * len(cvs), 4.6), sharey=True, squeeze=False)
    width = 0.8 / len(modes)
    for axis, cv in zip(axes[0], cvs, strict=True):
        for index, mode in enumerate(modes):
            values = [
                next((r.efficiency for r in results if r.cv == cv and r.mode == mode and r.workload == w), 0.0)
                for w in workloads
            ]
            positions = [number + index * width for number in range(len(workloads))]
            axis.bar(positions, values, width, label=mode)
        axis.set_title(f"latency CV {cv:g}")
        axis.set_xticks([number + 0.4 - width / 2 for number in range(len(workloads))])
        axis.set_xticklabels(workloads, rotation=20, ha="right", fontsize=8)
        axis.set_ylim(0, 1.05)
        axis.axhline(1.0, color="grey", linewidth=0.6, linestyle=":")
    axes[0][0].set_ylabel("efficiency (critical path / makespan)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(modes), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
