"""`genesis bench load`: zero-latency tools, K executors, N tasks in flight; what the runtime itself costs.

First, with nothing else running, chains of 20 dependent tasks one at a time: the latency floor of a hop (a result
published -> the task it unlocked started by an executor), since in a closed loop at N in flight every hop also
waits in the queue (Little's law: N / throughput).

Each run is a fan-out of 10 calculator tasks and a join (11 tasks); a closed loop keeps ``in_flight / 11`` runs
going until ``runs`` have finished. Figures come from the system's own events, read back read_committed after
the load: a hop is a dependency's TaskFinished -> the dependent's TaskReady (the planner's dispatch), then
TaskReady -> TaskStarted (the executor's pick-up, queueing included). CPU and memory come from /proc.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import msgspec

from schemas import RunFinished, TaskFinished, TaskReady, TaskStarted, decode_event
from services.bench.stack import IsolatedStack, cpu_seconds, rss_mib, system_stack
from services.bench.workloads import LOOKUP_MEAN_S, Latency
from services.executor.settings import ExecutorSettings
from streams.catalogue import TASKS_FINISHED, TASKS_READY
from streams.connection import client_options

FAN_OUT = 10
TASKS_PER_RUN = FAN_OUT + 1
JOIN = str(TASKS_PER_RUN)
RUN_PLAN = "\n".join(
    [f'Task {n}: calculator(expression="{n} * 2") | Dependencies: none' for n in range(1, FAN_OUT + 1)]
    + [
        f'Task {JOIN}: calculator(expression="{" + ".join(f"${n}" for n in range(1, FAN_OUT + 1))}") '
        f"| Dependencies: {', '.join(f'Task {n}' for n in range(1, FAN_OUT + 1))}"
    ]
)


CHAIN_LENGTH = 20
CHAIN_PLAN = "\n".join(
    f'Task {n}: calculator(expression="{n}") | Dependencies: {"none" if n == 1 else f"Task {n - 1}"}'
    for n in range(1, CHAIN_LENGTH + 1)
)


class ChainResult(msgspec.Struct, frozen=True):
    guarantee: str  # the planner's dispatch guarantee (planner.dispatch_guarantee)
    executors: int
    runs: int
    hop_p50_ms: float  # a result published -> the task it unlocked started (dispatch and pick-up together)
    hop_p99_ms: float
    dispatch_p50_ms: float  # a result published -> the dependent dispatched (TaskReady)
    per_task_ms: float  # a chain's latency through the client (submit -> RunFinished) / its length


def waiting_plans(mean_s: float, *, cv: float = 1.0, seed: int = 7) -> Callable[[], str]:
    """Plans of the load run's shape whose ten tools wait log-normal latencies (``sleep``, the given mean and
    coefficient of variation, seeded), and a zero-latency join: results arrive spread out, as real tools' do."""
    latency = Latency(random.Random(seed), cv=cv, scale=mean_s / LOOKUP_MEAN_S)

    def plan() -> str:
        return "\n".join(
            [f"Task {n}: sleep(seconds={latency('lookup'):g}) | Dependencies: none" for n in range(1, FAN_OUT + 1)]
            + [
                f'Task {JOIN}: calculator(expression="{JOIN}") '
                f"| Dependencies: {', '.join(f'Task {n}' for n in range(1, FAN_OUT + 1))}"
            ]
        )

    return plan


class BusyHopResult(msgspec.Struct, frozen=True):
    """The hop into a join while ``tasks_in_flight`` tasks wait on tools of mean ``tool_latency_s`` (log-normal,
    CV 1), a load the system is not saturated by."""

    guarantee: str
    executors: int
    tasks_in_flight: int
    tool_latency_s: float
    tasks_per_s: float
    hop_p50_ms: float  # the last fan-out result published -> the join started by an executor
    hop_p99_ms: float
    dispatch_p50_ms: float
    dispatch_p99_ms: float


class LoadResult(msgspec.Struct, frozen=True):
    guarantee: str
    executors: int
    tasks_in_flight: int
    runs: int
    tasks_per_s: float
    runs_per_s: float
    run_latency_p50_s: float
    run_latency_p99_s: float
    dispatch_hop_p50_ms: float  # dependency's result published -> dependent dispatched
    dispatch_hop_p99_ms: float
    start_hop_p50_ms: float  # dependent dispatched -> an executor started it
    start_hop_p99_ms: float
    planner_cpu_ms_per_task: float
    peak_rss_mib: dict[str, float]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def closed_loop(
    stack: IsolatedStack, *, runs: int, in_flight_runs: int, plan: Callable[[], str] = lambda: RUN_PLAN
) -> tuple[float, list[float], set[str]]:
    """Keep ``in_flight_runs`` going until ``runs`` finished; the wall time, each run's latency, the run ids."""
    from services.client import GenesisClient
    from streams.settings import KafkaSettings

    latencies: list[float] = []
    run_ids: set[str] = set()
    async with GenesisClient(stack.bootstrap, stack.catalogue, KafkaSettings()) as client:
        slots = asyncio.Semaphore(in_flight_runs)

        async def one() -> None:
            try:
                started = time.perf_counter()
                run_id = await client.submit(plan_text=plan(), strategy="parallel")
                run_ids.add(run_id)
                outcome = await client.wait(run_id, timeout_s=600)
                if not isinstance(outcome, RunFinished) or outcome.status != "succeeded":
                    raise RuntimeError(f"a load run did not succeed: {outcome}")
                latencies.append(time.perf_counter() - started)
            finally:
                slots.release()

        begun = time.perf_counter()
        tasks = []
        for _ in range(runs):
            await slots.acquire()
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        return time.perf_counter() - begun, latencies, run_ids


async def task_events(stack: IsolatedStack, run_ids: set[str]) -> list[TaskReady | TaskStarted | TaskFinished]:
    """These runs' TaskReady, TaskStarted and TaskFinished, read back read_committed from the stack's topics."""
    from aiokafka import AIOKafkaConsumer

    found: list[TaskReady | TaskStarted | TaskFinished] = []
    consumer = AIOKafkaConsumer(
        stack.catalogue.name(TASKS_READY),
        stack.catalogue.name(TASKS_FINISHED),
        **client_options(stack.bootstrap),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        idle = 0
        while idle < 3:
            batches = await consumer.getmany(timeout_ms=1000, max_records=20_000)
            idle = 0 if batches else idle + 1
            for record in (record for records in batches.values() for record in records):
                event = decode_event(record.value or b"")
                if isinstance(event, TaskReady | TaskStarted | TaskFinished) and event.run_id in run_ids:
                    found.append(event)
    finally:
        await consumer.stop()
    return found


async def hops(stack: IsolatedStack, run_ids: set[str]) -> tuple[list[float], list[float], list[float]]:
    """Dispatch, start and whole hops (the last fan-out result -> the join started) of the joins of these runs, in
    milliseconds, from the events on the topics."""
    finished: dict[str, datetime] = {}  # run -> the last of its fan-out's results
    ready: dict[str, datetime] = {}
    started: dict[str, datetime] = {}
    for event in await task_events(stack, run_ids):
        if isinstance(event, TaskFinished) and event.task_id != JOIN and event.status == "ok":
            finished[event.run_id] = max(finished.get(event.run_id, event.occurred_at), event.occurred_at)
        elif isinstance(event, TaskReady) and event.task_id == JOIN:
            ready.setdefault(event.run_id, event.occurred_at)
        elif isinstance(event, TaskStarted) and event.task_id == JOIN:
            started.setdefault(event.run_id, event.occurred_at)
    dispatch = [1000 * (ready[run] - finished[run]).total_seconds() for run in ready if run in finished]
    start = [1000 * (started[run] - ready[run]).total_seconds() for run in started if run in ready]
    whole = [1000 * (started[run] - finished[run]).total_seconds() for run in started if run in finished]
    return dispatch, start, whole


async def chain_hops(stack: IsolatedStack, *, guarantee: str, executors: int, runs: int) -> ChainResult:
    """``runs`` chains of CHAIN_LENGTH zero-latency tasks, one at a time, through the client; hops from the events."""
    from services.client import GenesisClient
    from streams.settings import KafkaSettings

    run_ids: set[str] = set()
    latencies: list[float] = []
    async with GenesisClient(stack.bootstrap, stack.catalogue, KafkaSettings()) as client:
        for _ in range(runs):
            started = time.perf_counter()
            run_id = await client.submit(plan_text=CHAIN_PLAN, strategy="parallel")
            outcome = await client.wait(run_id, timeout_s=120)
            if not isinstance(outcome, RunFinished) or outcome.status != "succeeded":
                raise RuntimeError(f"a chain run did not succeed: {outcome}")
            latencies.append(time.perf_counter() - started)
            run_ids.add(run_id)
    finished: dict[tuple[str, str], datetime] = {}
    ready: dict[tuple[str, str], datetime] = {}
    begun: dict[tuple[str, str], datetime] = {}
    for event in await task_events(stack, run_ids):
        target = {TaskFinished: finished, TaskReady: ready, TaskStarted: begun}[type(event)]
        target.setdefault((event.run_id, event.task_id), event.occurred_at)
    hops, dispatches = [], []
    for run_id in run_ids:
        for n in range(2, CHAIN_LENGTH + 1):
            previous, this = (run_id, str(n - 1)), (run_id, str(n))
            if previous in finished and this in begun:
                hops.append(1000 * (begun[this] - finished[previous]).total_seconds())
            if previous in finished and this in ready:
                dispatches.append(1000 * (ready[this] - finished[previous]).total_seconds())
    return ChainResult(
        guarantee=guarantee,
        executors=executors,
        runs=runs,
        hop_p50_ms=percentile(hops, 0.5),
        hop_p99_ms=percentile(hops, 0.99),
        dispatch_p50_ms=percentile(dispatches, 0.5),
        per_task_ms=1000 * statistics.median(latencies) / CHAIN_LENGTH,
    )


def busy_hops(
    stack: IsolatedStack, *, guarantee: str, executors: int, tasks_in_flight: int, tool_latency_s: float, runs: int
) -> BusyHopResult:
    """Keep ``tasks_in_flight`` tasks waiting on their tools and measure what the runtime adds to each join's hop."""
    wall, _, run_ids = asyncio.run(
        closed_loop(
            stack,
            runs=runs,
            in_flight_runs=max(1, tasks_in_flight // TASKS_PER_RUN),
            plan=waiting_plans(tool_latency_s),
        )
    )
    dispatch, _, whole = asyncio.run(hops(stack, run_ids))
    return BusyHopResult(
        guarantee=guarantee,
        executors=executors,
        tasks_in_flight=tasks_in_flight,
        tool_latency_s=tool_latency_s,
        tasks_per_s=runs * TASKS_PER_RUN / wall,
        hop_p50_ms=percentile(whole, 0.5),
        hop_p99_ms=percentile(whole, 0.99),
        dispatch_p50_ms=percentile(dispatch, 0.5),
        dispatch_p99_ms=percentile(dispatch, 0.99),
    )


def measure(
    stack: IsolatedStack,
    *,
    guarantee: str,
    executors: int,
    tasks_in_flight: int,
    runs: int,
    on_phase: Callable[[str], None],
) -> LoadResult:
    on_phase(f"{tasks_in_flight} tasks in flight: warming up")
    asyncio.run(closed_loop(stack, runs=20, in_flight_runs=10))  # connections, metadata and caches warm
    planner = stack.pid("planner")
    cpu_before = cpu_seconds(planner)
    on_phase(f"{tasks_in_flight} tasks in flight: {runs} runs")
    wall, latencies, run_ids = asyncio.run(
        closed_loop(stack, runs=runs, in_flight_runs=max(1, tasks_in_flight // TASKS_PER_RUN))
    )
    cpu = cpu_seconds(planner) - cpu_before
    on_phase(f"{tasks_in_flight} tasks in flight: reading the events back")
    dispatch, start, _ = asyncio.run(hops(stack, run_ids))
    return LoadResult(
        guarantee=guarantee,
        executors=executors,
        tasks_in_flight=tasks_in_flight,
        runs=runs,
        tasks_per_s=runs * TASKS_PER_RUN / wall,
        runs_per_s=runs / wall,
        run_latency_p50_s=statistics.median(latencies),
        run_latency_p99_s=percentile(latencies, 0.99),
        dispatch_hop_p50_ms=percentile(dispatch, 0.5),
        dispatch_hop_p99_ms=percentile(dispatch, 0.99),
        start_hop_p50_ms=percentile(start, 0.5),
        start_hop_p99_ms=percentile(start, 0.99),
        planner_cpu_ms_per_task=1000 * cpu / (runs * TASKS_PER_RUN),
        peak_rss_mib={name: round(rss_mib(stack.pid(name), "VmHWM"), 1) for name in stack.service_names()},
    )


def runs_for(tasks_in_flight: int, minimum_runs: int) -> int:
    """Enough runs that the loop spends most of its time at the level asked for: three times what is in flight."""
    return max(minimum_runs, 3 * max(1, tasks_in_flight // TASKS_PER_RUN))


def collect(
    bootstrap: str,
    folder_for: Callable[[str, int], Path],
    *,
    guarantees: list[str],
    executor_counts: list[int],
    levels: list[int],
    minimum_runs: int,
    on_phase: Callable[[str], None],
    chain_runs: int = 10,
    busy_in_flight: int = 400,
    busy_latency_s: float = 0.5,
) -> tuple[list[LoadResult], list[ChainResult], list[BusyHopResult]]:
    results: list[LoadResult] = []
    chains: list[ChainResult] = []
    busy: list[BusyHopResult] = []
    for guarantee in guarantees:
        for executors in executor_counts:
            setup = f"{guarantee}, {executors} executors"
            # Enough slots per executor that the tasks waiting on their tools are all running, not queued for a slot.
            concurrency = max(ExecutorSettings().concurrency, busy_in_flight)
            stack = system_stack(
                bootstrap, folder_for(guarantee, executors), guarantee=guarantee, executor_concurrency=concurrency
            )
            on_phase(f"{setup}: starting the planner, the executors and the warehouse")
            try:
                stack.up(executors)  # inside: services started before a failure are stopped too
                asyncio.run(closed_loop(stack, runs=20, in_flight_runs=10))  # connections, metadata and caches warm
                on_phase(f"{setup}: chains of {CHAIN_LENGTH} tasks, one at a time")
                chains.append(asyncio.run(chain_hops(stack, guarantee=guarantee, executors=executors, runs=chain_runs)))
                on_phase(f"{setup}: {busy_in_flight} tasks waiting on {busy_latency_s:g} s tools")
                busy.append(
                    busy_hops(
                        stack,
                        guarantee=guarantee,
                        executors=executors,
                        tasks_in_flight=busy_in_flight,
                        tool_latency_s=busy_latency_s,
                        runs=runs_for(busy_in_flight, minimum_runs),
                    )
                )
                for level in levels:
                    results.append(
                        measure(
                            stack,
                            guarantee=guarantee,
                            executors=executors,
                            tasks_in_flight=level,
                            runs=runs_for(level, minimum_runs),
                            on_phase=lambda phase, setup=setup: on_phase(f"{setup}: {phase}"),
                        )
                    )
            finally:
                stack.down()
    return results, chains, busy


def plot_throughput(results: list[LoadResult], path: Path) -> Path:
    """Tasks per second against tasks in flight, one line per executor count and dispatch guarantee."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    styles = {"exactly_once": "-", "at_least_once": "--"}
    counts = sorted({result.executors for result in results})
    for guarantee in dict.fromkeys(result.guarantee for result in results):
        for executors in counts:
            mine = sorted(
                (r for r in results if r.executors == executors and r.guarantee == guarantee),
                key=lambda r: r.tasks_in_flight,
            )
            axis.plot(
                [r.tasks_in_flight for r in mine],
                [r.tasks_per_s for r in mine],
                marker="o",
                linestyle=styles.get(guarantee, ":"),
                color=f"C{counts.index(executors)}",  # a colour per executor count, a line style per guarantee
                label=f"{executors}, {guarantee.replace('_', ' ')}",
            )
    axis.set_xscale("log")
    axis.set_xlabel("tasks in flight")
    axis.set_ylabel("tasks/s (zero-latency tools)")
    axis.set_ylim(bottom=0)
    axis.legend(title="executors, dispatch", fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
