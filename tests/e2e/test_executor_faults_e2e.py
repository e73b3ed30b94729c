"""Executor faults end to end: real executor processes (`genesis serve executor`), the planner, a real broker.

- A plan whose sql task returns 3 MB ends as a failed task with a one-line reason; the next plan succeeds on the
  same executor processes (before the fix, every executor died on that record, for good).
- An executor killed with SIGKILL while tasks are in flight loses no run: the other executor and the planner's
  leases finish every one.

Each test prints one line of measurements (runs submitted, finished, lost, time to recover).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from schemas import RunFinished, TaskFinished, TaskStarted
from services.client import GenesisClient
from services.runtime.health import read_health
from streams.catalogue import TASKS_FINISHED, Catalogue
from streams.settings import KafkaSettings
from tests.e2e.system import FAST_RETRIES, System, running_system
from tests.support.tail import tailing

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
START_S = 120
WAIT_S = 120
OVERSIZED = "Task 1: sql(query=\"SELECT repeat('x', 3000000)\") | Dependencies: none"
AFTER = (
    "Task 1: sql(query=\"SELECT population FROM countries WHERE name = 'France'\") | Dependencies: none\n"
    'Task 2: calculator(expression="$1 / 1000000") | Dependencies: Task 1'
)


class ExecutorProcesses:
    def __init__(self, bootstrap: str, catalogue: Catalogue, state: Path) -> None:
        self.state = state
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "GENESIS_KAFKA_TOPIC_PREFIX": catalogue.prefix,
            "GENESIS_EXECUTOR_GROUP_ID": f"{catalogue.prefix}-executors",
            "GENESIS_RUNTIME_STATE_DIR": str(state),
            "GENESIS_TOOLS_KB_LATENCY_S": "0",
            "GENESIS_EXECUTOR_METRICS_PORT": "0",
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = (self.state / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "serve", "executor", "--name", name],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.processes[name] = process
        return process

    def wait_ready(self) -> None:
        run_dir = self.state / "run"
        deadline = time.monotonic() + START_S
        for name, process in self.processes.items():
            while read_health(run_dir, name) is None:
                assert process.poll() is None, f"{name} exited while starting:\n{self.log(name)[-3000:]}"
                assert time.monotonic() < deadline, f"{name} not ready within {START_S} s:\n{self.log(name)[-3000:]}"
                time.sleep(0.1)  # polling the health file the service writes, bounded by the deadline above

    def log(self, name: str) -> str:
        return (self.state / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def executor_processes(bootstrap: str, catalogue: Catalogue, state: Path, count: int) -> Iterator[ExecutorProcesses]:
    state.mkdir(parents=True, exist_ok=True)
    executors = ExecutorProcesses(bootstrap, catalogue, state)
    try:
        for number in range(1, count + 1):
            executors.start(f"executor-{number}")
        executors.wait_ready()
        yield executors
    finally:
        executors.stop()


@contextlib.asynccontextmanager
async def planner_and_client(bootstrap: str, catalogue: Catalogue) -> AsyncIterator[GenesisClient]:
    system = System(bootstrap, catalogue, executors=0, planner_settings=FAST_RETRIES)
    try:
        await system.start_planner()
        async with GenesisClient(bootstrap, catalogue, KafkaSettings()) as client:
            yield client
    finally:
        await system.stop()


async def test_fails_only_its_task_and_the_next_plan_succeeds_when_a_sql_result_is_3_mb(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    with executor_processes(kafka_bootstrap, catalogue, tmp_path / "state", count=2) as executors:
        pids = {name: process.pid for name, process in executors.processes.items()}
        async with (
            tailing(kafka_bootstrap, catalogue.name(TASKS_FINISHED)) as tail,
            planner_and_client(kafka_bootstrap, catalogue) as client,
        ):
            clock = time.monotonic()
            failed = await client.run(plan_text=OVERSIZED, timeout_s=WAIT_S)
            failed_s = time.monotonic() - clock
            clock = time.monotonic()
            after = await client.run(plan_text=AFTER, timeout_s=WAIT_S)
            after_s = time.monotonic() - clock
        alive = {name: process.poll() is None for name, process in executors.processes.items()}

    assert isinstance(failed, RunFinished) and failed.status == "failed"
    ends = [event for event in tail.events(kind=TaskFinished) if event.run_id == failed.run_id]
    assert [end.error for end in ends] == ["result is 3000002 bytes, over tools.max_result_bytes (524288)"]
    assert ends[0].retryable is False
    assert isinstance(after, RunFinished) and after.status == "succeeded" and after.answer == pytest.approx(68.17)
    assert alive == dict.fromkeys(pids, True)
    print(
        f"\n[oversized result] runs submitted 2, finished 2, lost 0; oversized run failed in {failed_s:.2f} s, "
        f"next run succeeded in {after_s:.2f} s, executors restarted 0 of {len(pids)}"
    )


RUNS = 12
FAN_OUT = "\n".join(
    [f"Task {n}: sleep(seconds=1.5) | Dependencies: none" for n in range(1, 5)]
    + ['Task 5: calculator(expression="1 + 1") | Dependencies: Task 1, Task 2, Task 3, Task 4']
)


async def test_every_run_finishes_when_an_executor_is_killed_with_tasks_in_flight(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    with executor_processes(kafka_bootstrap, catalogue, tmp_path / "state", count=2) as executors:
        victim = executors.processes["executor-1"]
        async with (
            tailing(kafka_bootstrap, catalogue.name(TASKS_FINISHED)) as tail,
            planner_and_client(kafka_bootstrap, catalogue) as client,
        ):
            run_ids = [await client.submit(plan_text=FAN_OUT) for _ in range(RUNS)]

            def victim_busy() -> list[TaskStarted]:
                # Attempts the victim has started and not yet finished: the tasks its death leaves in flight.
                mine = f":{victim.pid}"
                ended = {(e.run_id, e.task_id) for e in tail.events(kind=TaskFinished) if e.executor.endswith(mine)}
                started = [e for e in tail.events(kind=TaskStarted) if e.executor.endswith(mine)]
                return [e for e in started if (e.run_id, e.task_id) not in ended]

            in_flight = await tail.wait_for(
                lambda: len(busy := victim_busy()) >= 4 and busy, WAIT_S, "executor-1 to have 4 tasks in flight"
            )
            victim.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            outcomes = await asyncio.gather(
                *(client.wait(run_id, timeout_s=WAIT_S) for run_id in run_ids), return_exceptions=True
            )
            recovered_s = time.monotonic() - killed_at
        survivor_alive = executors.processes["executor-2"].poll() is None

    finished = [outcome for outcome in outcomes if isinstance(outcome, RunFinished)]
    statuses = [outcome.status for outcome in finished]
    print(
        f"\n[executor SIGKILL] runs submitted {RUNS}, finished {len(finished)}, lost {RUNS - len(finished)}, "
        f"succeeded {statuses.count('succeeded')}; tasks in flight on the killed executor {len(in_flight)}; "
        f"all runs finished {recovered_s:.1f} s after the kill"
    )
    assert victim.returncode == -signal.SIGKILL and survivor_alive
    assert statuses == ["succeeded"] * RUNS
    assert all(outcome.answer == 2 for outcome in finished)


BOUND = (
    "Task 1: sql(query=\"SELECT name FROM countries WHERE capital = 'Paris'\") | Dependencies: none\n"
    'Task 2: sql(query="SELECT population FROM countries WHERE name = ?", params=[$1]) | Dependencies: Task 1'
)
# An upstream result that would rewrite the query if it were pasted into the text: bound, it is only a name.
HOSTILE = (
    "Task 1: sql(query=\"SELECT 'x'' OR ''1''=''1'\") | Dependencies: none\n"
    'Task 2: sql(query="SELECT count(*) FROM countries WHERE name = ?", params=[$1]) | Dependencies: Task 1'
)


async def test_binds_an_upstream_result_as_a_sql_parameter_when_a_plan_passes_it_in_params(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    async with running_system(kafka_bootstrap, catalogue, executors=1) as (_, client):
        bound = await client.run(plan_text=BOUND, timeout_s=WAIT_S)
        hostile = await client.run(plan_text=HOSTILE, timeout_s=WAIT_S)
    assert (bound.status, bound.answer) == ("succeeded", 68_170_000)
    assert (hostile.status, hostile.observations["1"], hostile.answer) == ("succeeded", "x' OR '1'='1", 0)
