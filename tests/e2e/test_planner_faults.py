"""Planner faults with real processes on a real broker: SIGKILL mid-run, a zombie planner (SIGSTOP past its session
timeout, then SIGCONT), a journal record that does not decode, and co-partitioned topics with unequal counts.

Each test counts what read_committed readers see: every run finishes exactly once and every attempt of every task is
dispatched exactly once (TaskReady per run, task and attempt). Each prints a line with its figures (pytest -s).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas import RunFinished
from services.client import GenesisClient
from streams.catalogue import (
    DEAD_LETTERS,
    PLANNER_JOURNAL,
    RUNS_REQUESTED,
    TASKS_FINISHED,
    Catalogue,
)
from streams.reading import MissingTopic, topic_partitions
from streams.settings import KafkaSettings
from streams.transactions import key_partition
from tests.e2e.processes import ProcessStack, service_environment
from tests.support.committed import dispatch_counts, finished_counts, read_all, report, start_counts

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

RUNS = 24
START_S = 120  # processes import, join their groups and take partitions over on a loaded machine
FINISH_S = 180
CHAIN = (
    "Task 1: sleep(seconds=1) | Dependencies: none\n"
    "Task 2: sleep(seconds=1) | Dependencies: Task 1\n"
    "Task 3: sleep(seconds=1) | Dependencies: Task 1\n"
    'Task 4: calculator(expression="$2 + $3") | Dependencies: Task 2, Task 3\n'
)
# Small session timeout (the broker's minimum is 6 s), so a planner that stops answering loses its partitions fast;
# short leases, so a zombie that wakes up finds its leases expired and tries to dispatch again.
PLANNER = {
    "GENESIS_PLANNER_SESSION_TIMEOUT_MS": 6000,
    "GENESIS_PLANNER_TASK_TIMEOUT_S": 4,
    "GENESIS_PLANNER_LEASE_GRACE_S": 1,
    "GENESIS_PLANNER_START_TIMEOUT_S": 8,
    "GENESIS_PLANNER_BACKOFF_BASE_S": 0.1,
    "GENESIS_PLANNER_BACKOFF_MAX_S": 0.5,
    "GENESIS_PLANNER_TRANSACTION_TIMEOUT_MS": 20000,
    # A snapshot after every 2 records: take-overs restore runs from snapshots and the records after them.
    "GENESIS_PLANNER_JOURNAL_SNAPSHOT_RECORDS": 2,
}


@contextlib.contextmanager
def process_stack(bootstrap: str, catalogue: Catalogue, folder: Path, **settings: object) -> Iterator[ProcessStack]:
    """Processes run with the fault tests' planner settings and ``settings`` more; closed afterwards."""
    processes = ProcessStack(service_environment(bootstrap, catalogue, folder / "state", **PLANNER, **settings), folder)
    try:
        yield processes
    finally:
        processes.close()


@pytest.fixture
def stack(kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path) -> Iterator[ProcessStack]:
    with process_stack(kafka_bootstrap, catalogue, tmp_path) as processes:
        yield processes


@pytest.fixture
def direct_stack(kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path) -> Iterator[ProcessStack]:
    """Planners that send dispatches directly, outside their transactions (dispatch_guarantee: at_least_once)."""
    direct = {"GENESIS_PLANNER_DISPATCH_GUARANTEE": "at_least_once"}
    with process_stack(kafka_bootstrap, catalogue, tmp_path, **direct) as processes:
        yield processes


async def submit_batch(client: GenesisClient, count: int) -> dict[str, asyncio.Task]:
    run_ids = [await client.submit(plan_text=CHAIN) for _ in range(count)]
    return {run_id: asyncio.create_task(client.wait(run_id, timeout_s=FINISH_S)) for run_id in run_ids}


async def first_outcome(waits: dict[str, asyncio.Task]) -> None:
    await asyncio.wait(waits.values(), return_when=asyncio.FIRST_COMPLETED)


async def all_outcomes(waits: dict[str, asyncio.Task]) -> dict[str, RunFinished]:
    return dict(zip(waits, await asyncio.gather(*waits.values()), strict=True))


def assert_exactly_once(dispatches: Counter, finished: Counter, run_ids: list[str]) -> None:
    twice = {key: count for key, count in dispatches.items() if count > 1}
    assert not twice, f"attempts dispatched more than once: {twice}"
    assert all(finished[run_id] == 1 for run_id in run_ids), {r: finished[r] for r in run_ids if finished[r] != 1}
    for run_id in run_ids:  # every task of every run was dispatched, attempts numbered from 1 without gaps
        for task in "1234":
            attempts = sorted(a for (r, t, a) in dispatches if r == run_id and t == task)
            assert attempts == list(range(1, len(attempts) + 1)) and attempts, (run_id, task, attempts)


def batch_figures(submitted: int, outcomes: dict[str, RunFinished], dispatches: Counter) -> dict[str, int]:
    """What every fault test reports of its batch: runs finished and lost, attempts dispatched twice, and attempts
    dispatched again (a second attempt of a task) for the batch's runs."""
    return {
        "runs_submitted": submitted,
        "finished": len(outcomes),
        "lost": submitted - len(outcomes),
        "dispatched_twice": sum(count > 1 for count in dispatches.values()),
        "attempts_after_the_first": sum(attempt > 1 for (run, _, attempt) in dispatches if run in outcomes),
    }


async def topics_ready(bootstrap: str, catalogue: Catalogue) -> None:
    """Until every topic the fixture created is described by the broker (metadata of new topics lags a moment)."""
    async with asyncio.timeout(START_S):
        for name in catalogue.names():
            for _ in itertools.count():
                try:
                    await topic_partitions(bootstrap, name)
                    break
                except MissingTopic:
                    await asyncio.sleep(0.2)


async def members(client: GenesisClient, group: str, count: int) -> None:
    """Until ``group`` has ``count`` members. The broker announces no membership change, so this asks it."""
    async with asyncio.timeout(START_S):
        for _ in itertools.count():
            if await client.group_members(group) >= count:
                return
            await asyncio.sleep(0.5)


async def kill_the_planner_mid_batch(
    stack: ProcessStack, client: GenesisClient, catalogue: Catalogue
) -> tuple[dict[str, asyncio.Task], int, float]:
    """A planner and two executors run a batch of runs; once the first finishes, the planner is killed (SIGKILL:
    nothing is flushed, an open transaction stays open) and a new one started. The runs' waits, how many were in
    flight at the kill, and when (monotonic)."""
    planner = stack.start("planner", "planner-1")
    stack.start("executor", "executor-1")
    stack.start("executor", "executor-2")
    # Both executors in the group before the batch: no partition of tasks.ready moves while it runs.
    await members(client, f"{catalogue.prefix}-executors", 2)
    assert (await client.run(plan_text=CHAIN, timeout_s=START_S)).status == "succeeded"
    waits = await submit_batch(client, RUNS)
    await first_outcome(waits)
    in_flight = sum(not wait.done() for wait in waits.values())
    planner.kill()
    killed_at = time.monotonic()
    stack.start("planner", "planner-2")
    return waits, in_flight, killed_at


async def test_every_run_finishes_once_and_no_attempt_is_dispatched_twice_when_the_planner_is_killed(
    kafka_bootstrap: str, catalogue: Catalogue, stack: ProcessStack
) -> None:
    await topics_ready(kafka_bootstrap, catalogue)
    async with GenesisClient(kafka_bootstrap, catalogue, KafkaSettings()) as client:
        waits, in_flight, killed_at = await kill_the_planner_mid_batch(stack, client, catalogue)
        pending = [wait for wait in waits.values() if not wait.done()]
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED, timeout=FINISH_S)
        recovered_s = time.monotonic() - killed_at
        outcomes = await all_outcomes(waits)
        all_done_s = time.monotonic() - killed_at

        # A request sent again after its run finished, to a planner that restarted since: it must not run twice.
        stack.processes[-1].kill()
        stack.start("planner", "planner-3")
        again = next(iter(outcomes))
        await client.submit(plan_text=CHAIN, run_id=again)
        # A new run on the same partition, after it: once it finishes, the repeated request has been read.
        partitions = len(await topic_partitions(kafka_bootstrap, catalogue.name(RUNS_REQUESTED)))
        fresh = next(
            run_id
            for run_id in (uuid.uuid4().hex for _ in range(10_000))
            if key_partition(run_id.encode(), partitions) == key_partition(again.encode(), partitions)
        )
        assert (await client.run(plan_text=CHAIN, run_id=fresh, timeout_s=START_S)).status == "succeeded"

    assert all(o.status == "succeeded" and o.answer == 2 for o in outcomes.values()), outcomes
    dispatches = await dispatch_counts(kafka_bootstrap, catalogue)
    finished = await finished_counts(kafka_bootstrap, catalogue)
    assert_exactly_once(dispatches, finished, list(outcomes))
    assert finished[again] == 1  # the repeated request started nothing
    # The results that arrived while the partitions had no owner were judged at the time they were sent, not by the
    # clock of the take-over: no lease that was kept is taken for a lost one, and no task ran again.
    assert all(attempt == 1 for (run, _, attempt) in dispatches if run in outcomes), dispatches
    # A run's snapshot rewrites the key of its first record (run_id/0): the restored runs were read from snapshots.
    journal = await read_all(kafka_bootstrap, catalogue.name(PLANNER_JOURNAL))
    first_records = Counter(r.key for r in journal if r.value is not None and r.key.endswith(b"/0"))
    snapshotted = sum(count > 1 for count in first_records.values())
    assert snapshotted, "no run's journal was snapshotted"
    uncommitted = await dispatch_counts(kafka_bootstrap, catalogue, committed=False)
    report(
        "planner SIGKILL",
        **batch_figures(RUNS, outcomes, dispatches),
        in_flight_at_kill=in_flight,
        aborted_dispatches=sum(uncommitted.values()) - sum(dispatches.values()),
        first_finish_after_kill_s=round(recovered_s, 1),
        all_finished_after_kill_s=round(all_done_s, 1),
        repeated_request_reran=finished[again] - 1,
        runs_snapshotted=snapshotted,
    )


async def test_every_run_finishes_once_and_no_attempt_runs_twice_when_the_planner_is_killed_at_least_once(
    kafka_bootstrap: str, catalogue: Catalogue, direct_stack: ProcessStack
) -> None:
    """With dispatches sent directly a task may be dispatched twice after the kill (its planner died before its
    journal committed), never lost; the executor that took the first copy answers the second with the first's start
    and result, so each attempt's tool runs once; runs still finish once, since RunFinished stays in the
    transaction."""
    await topics_ready(kafka_bootstrap, catalogue)
    async with GenesisClient(kafka_bootstrap, catalogue, KafkaSettings()) as client:
        waits, in_flight, killed_at = await kill_the_planner_mid_batch(direct_stack, client, catalogue)
        outcomes = await all_outcomes(waits)
        all_done_s = time.monotonic() - killed_at

    assert all(o.status == "succeeded" and o.answer == 2 for o in outcomes.values()), outcomes
    dispatches = await dispatch_counts(kafka_bootstrap, catalogue)
    finished = await finished_counts(kafka_bootstrap, catalogue)
    assert all(finished[run_id] == 1 for run_id in outcomes), {r: finished[r] for r in outcomes if finished[r] != 1}
    for run_id in outcomes:
        assert {task for (run, task, _) in dispatches if run == run_id} == set("1234"), run_id
    # The batch's runs: the first run may meet the executors' group still settling, and an attempt cut short by a
    # partition moving runs again on its new owner (at least once, in both modes).
    starts = Counter(
        {key: count for key, count in (await start_counts(kafka_bootstrap, catalogue)).items() if key[0] in outcomes}
    )
    assert not {key: count for key, count in starts.items() if count > 1}, "attempts run more than once"
    assert all(attempt == 1 for (_, _, attempt) in starts), "a task ran again after the take-over"
    assert {(run, task) for (run, task, _) in starts} == {
        (run, task) for (run, task, _) in dispatches if run in outcomes
    }
    report(
        "planner SIGKILL, at-least-once dispatch",
        **batch_figures(RUNS, outcomes, dispatches),
        in_flight_at_kill=in_flight,
        started_twice=sum(count > 1 for count in starts.values()),
        all_finished_after_kill_s=round(all_done_s, 1),
    )


async def test_zombie_planner_writes_nothing_visible_when_it_resumes_after_losing_its_partitions(
    kafka_bootstrap: str, catalogue: Catalogue, stack: ProcessStack
) -> None:
    await topics_ready(kafka_bootstrap, catalogue)
    zombie = stack.start("planner", "planner-1")
    stack.start("planner", "planner-2")
    stack.start("executor", "executor-1")
    stack.start("executor", "executor-2")
    group = f"{catalogue.prefix}-planner"
    async with GenesisClient(kafka_bootstrap, catalogue, KafkaSettings()) as client:
        await members(client, group, 2)
        assert (await client.run(plan_text=CHAIN, timeout_s=START_S)).status == "succeeded"
        waits = await submit_batch(client, RUNS)
        await first_outcome(waits)
        zombie.signal(signal.SIGSTOP)  # past its session timeout: planner-2 takes every partition over
        stopped_at = time.monotonic()
        first = await all_outcomes(waits)
        takeover_s = time.monotonic() - stopped_at
        zombie.signal(signal.SIGCONT)  # wakes with expired leases and an open transaction
        await members(client, group, 2)
        second = await all_outcomes(await submit_batch(client, RUNS))

    outcomes = first | second
    assert all(o.status == "succeeded" and o.answer == 2 for o in outcomes.values()), outcomes
    dispatches = await dispatch_counts(kafka_bootstrap, catalogue)
    finished = await finished_counts(kafka_bootstrap, catalogue)
    assert_exactly_once(dispatches, finished, list(outcomes))
    uncommitted = await dispatch_counts(kafka_bootstrap, catalogue, committed=False)
    fenced = zombie.log().count("was fenced")
    report(
        "zombie planner",
        **batch_figures(2 * RUNS, outcomes, dispatches),
        aborted_dispatches=sum(uncommitted.values()) - sum(dispatches.values()),
        zombie_fenced_log_lines=fenced,
        all_finished_after_stop_s=round(takeover_s, 1),
    )


async def test_other_runs_of_the_partition_restore_when_a_journal_record_does_not_decode(
    kafka_bootstrap: str, catalogue: Catalogue, stack: ProcessStack
) -> None:
    await topics_ready(kafka_bootstrap, catalogue)
    planner = stack.start("planner", "planner-1")
    stack.start("executor", "executor-1")
    async with GenesisClient(kafka_bootstrap, catalogue, KafkaSettings()) as client:
        assert (await client.run(plan_text=CHAIN, timeout_s=START_S)).status == "succeeded"
        waits = await submit_batch(client, RUNS)
        await first_outcome(waits)
        planner.kill()
        killed_at = time.monotonic()
        # Poison the journal partition of a run still in flight.
        partitions = len(await topic_partitions(kafka_bootstrap, catalogue.name(PLANNER_JOURNAL)))
        victim = next(run_id for run_id, wait in waits.items() if not wait.done())
        partition = key_partition(victim.encode(), partitions)
        poison = b"\xff{not a journal record"
        producer = AIOKafkaProducer(bootstrap_servers=str(kafka_bootstrap))
        await producer.start()
        try:
            await producer.send_and_wait(
                catalogue.name(PLANNER_JOURNAL), poison, key=b"poisoned-run/0", partition=partition
            )
        finally:
            await producer.stop()
        poisoned = asyncio.create_task(client.wait("poisoned-run", timeout_s=FINISH_S))
        stack.start("planner", "planner-2")
        outcomes = await all_outcomes(waits)
        recovered_s = time.monotonic() - killed_at
        poisoned_outcome = await poisoned

    assert all(o.status == "succeeded" and o.answer == 2 for o in outcomes.values()), outcomes
    assert poisoned_outcome.status == "failed" and "dead-letter" in (poisoned_outcome.reason or "")
    dead = [r for r in await read_all(kafka_bootstrap, catalogue.name(DEAD_LETTERS)) if r.value == poison]
    assert dead, "the undecodable journal record is not in the dead-letter topic"
    headers = {name: value.decode() for name, value in dead[0].headers}
    assert headers["topic"] == catalogue.name(PLANNER_JOURNAL) and headers["partition"] == str(partition)
    dispatches = await dispatch_counts(kafka_bootstrap, catalogue)
    finished = await finished_counts(kafka_bootstrap, catalogue)
    assert_exactly_once(dispatches, finished, list(outcomes))
    report(
        "poison journal record",
        **batch_figures(RUNS, outcomes, dispatches),
        dead_lettered=len(dead),
        all_finished_after_kill_s=round(recovered_s, 1),
    )


async def test_planner_refuses_to_start_when_co_partitioned_topics_have_unequal_partition_counts(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    catalogue = Catalogue(prefix=f"t{uuid.uuid4().hex[:10]}")
    admin = AIOKafkaAdminClient(bootstrap_servers=str(kafka_bootstrap))
    await admin.start()
    try:  # tasks.finished with 3 partitions where runs.requested has 6 (the planner creates the rest)
        await admin.create_topics(
            [
                NewTopic(catalogue.name(RUNS_REQUESTED), 6, 1),
                NewTopic(catalogue.name(TASKS_FINISHED), 3, 1),
            ]
        )
    finally:
        await admin.close()
    stack = ProcessStack(service_environment(kafka_bootstrap, catalogue, tmp_path / "state"), tmp_path)
    try:
        planner = stack.start("planner", "planner-1")
        started = time.monotonic()
        code = await asyncio.to_thread(planner.process.wait, START_S)
    finally:
        stack.close()
    lines = [line for line in planner.log().splitlines() if "refuses to start" in line]
    assert code != 0
    assert len(lines) == 1, planner.log()[-3000:]
    assert "co-partitioned topics must have equal partition counts" in lines[0]
    assert f"{catalogue.name(TASKS_FINISHED)} has 3" in lines[0]
    report("unequal partition counts", exit_code=code, refused_after_s=round(time.monotonic() - started, 1))
