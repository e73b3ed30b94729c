"""End to end on a real broker: plans run as parallel DAGs through the planner and executors."""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import pytest
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas import RunFinished, RunRejected, TaskReady, decode_event
from streams.broker import consumer_options, make_broker, transactional_producer
from streams.catalogue import PLANNER_JOURNAL, RUNS_FINISHED, RUNS_REQUESTED, TASKS_READY, Catalogue
from streams.reading import topic_partitions
from streams.settings import KafkaSettings
from streams.transactions import key_partition
from tests.e2e.system import FAST_RETRIES, running_system
from tests.support.committed import dispatch_counts, read_all

pytestmark = pytest.mark.kafka


def subscribed(bootstrap: str, topic: str, name: str) -> tuple[KafkaBroker, asyncio.Queue]:
    """A consumer in a group of its own that puts every event of ``topic`` on a queue the test awaits."""
    broker = make_broker(KafkaSettings(), bootstrap, client_id=name)
    events: asyncio.Queue = asyncio.Queue()

    @broker.subscriber(topic, **consumer_options(f"{name}-{uuid.uuid4().hex[:6]}"))
    async def on_event(body: bytes, message: KafkaMessage) -> None:
        await events.put(decode_event(body))

    return broker, events


WAIT_S = 60

SIX = range(1, 7)
FAN_OUT = "\n".join(
    [f"Task {n}: sleep(seconds=1) | Dependencies: none" for n in SIX]
    + [
        f'Task 7: calculator(expression="{" + ".join(f"${n}" for n in SIX)}") '
        f"| Dependencies: {', '.join(f'Task {n}' for n in SIX)}"
    ]
)


async def test_fan_out_finishes_in_about_its_critical_path_when_tasks_are_independent(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    async with running_system(kafka_bootstrap, catalogue) as (_, client):
        outcome = await client.run(plan_text=FAN_OUT, timeout_s=WAIT_S)
    assert isinstance(outcome, RunFinished) and outcome.status == "succeeded"
    assert outcome.answer == 6
    metrics = outcome.metrics
    assert metrics.sequential_s >= 6.0  # six one-second sleeps, one after another
    assert metrics.critical_path_s == pytest.approx(1.0, abs=0.2)
    assert metrics.makespan_s < metrics.critical_path_s + 1.0  # about the critical path, not the sum
    assert metrics.speedup > 3.0


async def test_run_fails_with_reason_and_skips_dependents_when_a_tool_keeps_failing(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    plan = (
        'Task 1: always_fails(reason="the quote service is down") | Dependencies: none\n'
        'Task 2: calculator(expression="1 + 1") | Dependencies: none\n'
        'Task 3: calculator(expression="$1 * 2") | Dependencies: Task 1\n'
        'Task 4: calculator(expression="$3 + $2") | Dependencies: Task 2, Task 3\n'
    )
    async with running_system(kafka_bootstrap, catalogue) as (_, client):
        outcome = await client.run(plan_text=plan, timeout_s=WAIT_S)
    assert isinstance(outcome, RunFinished)
    assert outcome.status == "failed"
    assert "the quote service is down" in (outcome.reason or "")
    assert outcome.metrics.attempts >= 3 + 1  # three attempts of task 1, one of task 2
    assert outcome.metrics.tool_errors == 3
    assert set(outcome.skipped) == {"3", "4"}
    assert "1" in outcome.skipped["3"]
    assert outcome.observations == {"2": 2}


async def test_retry_succeeds_when_a_failure_is_transient(kafka_bootstrap: str, catalogue: Catalogue) -> None:
    plan = 'Task 1: fails_first(key="quote") | Dependencies: none\nTask 2: sleep(seconds=0) | Dependencies: Task 1\n'
    async with running_system(kafka_bootstrap, catalogue) as (_, client):
        outcome = await client.run(plan_text=plan, timeout_s=WAIT_S)
    assert isinstance(outcome, RunFinished) and outcome.status == "succeeded"
    assert outcome.observations["1"] == "quote after 2 calls"
    assert outcome.metrics.tool_errors == 1


async def test_plan_with_cycle_is_rejected_naming_the_cycle(kafka_bootstrap: str, catalogue: Catalogue) -> None:
    plan = (
        "Task 1: sleep(seconds=0) | Dependencies: Task 3\n"
        "Task 2: sleep(seconds=0) | Dependencies: Task 1\n"
        "Task 3: sleep(seconds=0) | Dependencies: Task 2\n"
    )
    async with running_system(kafka_bootstrap, catalogue) as (_, client):
        outcome = await client.run(plan_text=plan, timeout_s=WAIT_S)
    assert isinstance(outcome, RunRejected)
    assert "cycle" in outcome.reason
    assert all(task in outcome.reason for task in ("1", "2", "3"))


async def test_results_reach_a_subscribing_consumer_when_runs_finish(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    consumer, received = subscribed(kafka_bootstrap, catalogue.name(RUNS_FINISHED), "downstream")
    async with running_system(kafka_bootstrap, catalogue) as (_, client), consumer:
        await consumer.start()
        run_ids = {
            await client.submit(plan_text=f'Task 1: calculator(expression="{n} * 3") | Dependencies: none')
            for n in range(3)
        }
        seen = {}
        async with asyncio.timeout(WAIT_S):
            while set(seen) != run_ids:
                outcome = await received.get()
                seen[outcome.run_id] = outcome
    assert sorted(outcome.answer for outcome in seen.values()) == [0, 3, 6]


async def test_run_completes_when_the_planner_restarts_mid_run(kafka_bootstrap: str, catalogue: Catalogue) -> None:
    plan = (
        "Task 1: sleep(seconds=0.5) | Dependencies: none\n"
        "Task 2: sleep(seconds=2) | Dependencies: Task 1\n"
        'Task 3: calculator(expression="$1 + $2") | Dependencies: Task 1, Task 2\n'
    )
    watcher, dispatched = subscribed(kafka_bootstrap, catalogue.name(TASKS_READY), "watcher")
    async with running_system(kafka_bootstrap, catalogue) as (system, client), watcher:
        await watcher.start()
        run_id = await client.submit(plan_text=plan)
        async with asyncio.timeout(WAIT_S):
            while (ready := await dispatched.get()).task_id != "2":
                assert ready.run_id == run_id
        await system.stop_planner()  # task 2 is running: its result arrives while no planner is up
        restarted = await system.start_planner()
        outcome = await client.wait(run_id, timeout_s=WAIT_S)
    assert isinstance(outcome, RunFinished) and outcome.status == "succeeded"
    assert outcome.answer == 2.5
    assert restarted.runs.known(run_id)


async def test_client_streams_every_outcome_when_it_listens_to_results(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    async with running_system(kafka_bootstrap, catalogue) as (_, client):
        stream = client.results()
        first = asyncio.ensure_future(anext(stream))  # listening before anything is submitted
        await asyncio.sleep(0)
        submitted = [
            await client.submit(plan_text='Task 1: calculator(expression="1 + 1") | Dependencies: none'),
            await client.submit(plan_text="Task 1: sleep(seconds=0) | Dependencies: Task 1"),
        ]
        async with asyncio.timeout(WAIT_S):
            outcomes = [await first, await anext(stream)]
        await stream.aclose()
    assert {outcome.run_id for outcome in outcomes} == set(submitted)
    assert {type(outcome).__name__ for outcome in outcomes} == {"RunFinished", "RunRejected"}


AT_LEAST_ONCE = msgspec.structs.replace(FAST_RETRIES, dispatch_guarantee="at_least_once")


async def test_every_task_is_dispatched_once_and_the_run_succeeds_when_dispatches_skip_the_transaction(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    retried = 'Task 8: fails_first(key="quote") | Dependencies: Task 7'  # its retry is dispatched by the ticker
    async with running_system(kafka_bootstrap, catalogue, planner_settings=AT_LEAST_ONCE) as (_, client):
        outcome = await client.run(plan_text=f"{FAN_OUT}\n{retried}", timeout_s=WAIT_S)
    assert isinstance(outcome, RunFinished) and outcome.status == "succeeded", outcome
    assert outcome.answer == "quote after 2 calls" and outcome.metrics.tool_errors == 1
    dispatches = await dispatch_counts(kafka_bootstrap, catalogue)
    expected = {(outcome.run_id, str(task), 1) for task in range(1, 9)} | {(outcome.run_id, "8", 2)}
    assert dispatches == {key: 1 for key in expected}


async def test_a_dispatch_is_readable_before_its_journal_commits_when_dispatches_skip_the_transaction(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    partitions = len(await topic_partitions(kafka_bootstrap, catalogue.name(RUNS_REQUESTED)))
    run_id = uuid.uuid4().hex
    watcher, dispatched = subscribed(kafka_bootstrap, catalogue.name(TASKS_READY), "watcher")
    async with running_system(kafka_bootstrap, catalogue, planner_settings=AT_LEAST_ONCE) as (_, client), watcher:
        await watcher.start()
        # Fence the planner's transactions for the run's partition: none of them can commit from now on.
        fencer = transactional_producer(
            KafkaSettings(),
            kafka_bootstrap,
            transactional_id=f"{catalogue.prefix}-planner.{key_partition(run_id.encode(), partitions)}",
            client_id="fencer",
            transaction_timeout_ms=10_000,
        )
        await fencer.start()
        try:
            await client.submit(plan_text="Task 1: sleep(seconds=0) | Dependencies: none", run_id=run_id)
            async with asyncio.timeout(WAIT_S):
                ready = await dispatched.get()
        finally:
            await fencer.stop()
    assert isinstance(ready, TaskReady) and (ready.run_id, ready.task_id) == (run_id, "1")
    journal = await read_all(kafka_bootstrap, catalogue.name(PLANNER_JOURNAL))
    assert not [record for record in journal if record.key and record.key.startswith(run_id.encode())]
