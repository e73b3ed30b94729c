"""Soak: thousands of runs through `genesis up`'s real processes while executors and the planner are SIGKILLed.

Every run must finish exactly once, no attempt may be dispatched twice (read_committed), and the planner's memory
must stay bounded. The figures (runs submitted, finished, lost, duplicated; longest stall after each kill; peak
planner RSS) are printed and written to ``$GENESIS_SOAK_REPORT`` when set, for docs/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import RunFinished
from services.bench.stack import IsolatedStack, rss_mib
from services.client import GenesisClient
from streams.settings import KafkaSettings
from tests.support.committed import dispatch_counts, finished_counts

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

RUNS = int(os.environ.get("GENESIS_SOAK_RUNS", "2000"))
IN_FLIGHT = 200
FINISH_TIMEOUT_S = 420
# Two independent lookups and their sum: three tasks, two of them in parallel, no tool latency.
PLAN = (
    'Task 1: calculator(expression="{a} * 3") | Dependencies: none\n'
    'Task 2: calculator(expression="{b} + 4") | Dependencies: none\n'
    'Task 3: calculator(expression="$1 + $2") | Dependencies: Task 1, Task 2'
)
# (fraction of runs submitted, service to SIGKILL)
KILLS = [(0.2, "executor-1"), (0.45, "planner"), (0.7, "executor-2"), (0.85, "planner")]


@pytest.fixture
def stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[IsolatedStack]:
    stack = IsolatedStack(kafka_bootstrap, tmp_path, prefix=f"soak{uuid.uuid4().hex[:8]}")
    stack.up(executors=2)
    try:
        yield stack
    finally:
        stack.down()


def longest_stall(finish_times: list[float], since: float, window_s: float = 120.0) -> float:
    """The longest time without any run finishing, from a kill until runs finish steadily again."""
    times = [since, *sorted(t for t in finish_times if since <= t <= since + window_s)]
    return max((later - earlier for earlier, later in itertools.pairwise(times)), default=0.0)


async def test_every_run_finishes_once_when_executors_and_the_planner_are_killed_during_a_soak(
    stack: IsolatedStack, kafka_bootstrap: str
) -> None:
    catalogue = stack.catalogue
    run_ids: list[str] = []
    finish_times: dict[str, float] = {}
    kills: list[tuple[str, float]] = []
    peak_planner_rss = 0.0
    pending_kills = list(KILLS)
    started = time.monotonic()
    async with GenesisClient(kafka_bootstrap, catalogue, KafkaSettings()) as client:
        slots = asyncio.Semaphore(IN_FLIGHT)

        async def one_run(number: int) -> None:
            try:
                run_id = await client.submit(plan_text=PLAN.format(a=number, b=number + 1), strategy="parallel")
                run_ids.append(run_id)
                outcome = await client.wait(run_id, timeout_s=FINISH_TIMEOUT_S)
                if isinstance(outcome, RunFinished):
                    finish_times[run_id] = time.monotonic()
            finally:
                slots.release()

        waiting = []
        for number in range(RUNS):
            await slots.acquire()
            peak_planner_rss = max(peak_planner_rss, rss_mib(stack.pid("planner")))
            if pending_kills and number >= pending_kills[0][0] * RUNS:
                _, name = pending_kills.pop(0)
                pid = stack.pid(name)
                assert pid is not None, f"{name} is not running"
                os.kill(pid, signal.SIGKILL)
                kills.append((name, time.monotonic()))
            waiting.append(asyncio.create_task(one_run(number)))
        await asyncio.gather(*waiting, return_exceptions=True)
    elapsed = time.monotonic() - started
    peak_planner_rss = max(peak_planner_rss, rss_mib(stack.pid("planner")))

    dispatches = await dispatch_counts(kafka_bootstrap, catalogue)
    finishes = await finished_counts(kafka_bootstrap, catalogue)
    lost = [run_id for run_id in run_ids if run_id not in finish_times]
    report = {
        "runs_submitted": len(run_ids),
        "runs_finished": len(finish_times),
        "runs_lost": len(lost),
        "attempts_dispatched_twice": sum(1 for count in dispatches.values() if count > 1),
        "runs_finished_twice": sum(1 for count in finishes.values() if count > 1),
        "kills": [
            {"service": name, "longest_stall_s": round(longest_stall(list(finish_times.values()), at), 2)}
            for name, at in kills
        ],
        "peak_planner_rss_mib": round(peak_planner_rss, 1),
        "wall_s": round(elapsed, 1),
    }
    print(json.dumps(report, indent=2))
    if path := os.environ.get("GENESIS_SOAK_REPORT"):
        await asyncio.to_thread(Path(path).write_text, json.dumps(report, indent=2))
    assert len(run_ids) == RUNS
    assert not lost, f"{len(lost)} runs never finished, e.g. {lost[:3]}"
    assert report["attempts_dispatched_twice"] == 0
    assert report["runs_finished_twice"] == 0
    restarted = stack.genesis("status", "--json")
    services = {service["name"]: service for service in json.loads(restarted.stdout)["services"]}
    assert all(services[name]["restarts"] >= 1 for name in ("planner", "executor-1", "executor-2"))
