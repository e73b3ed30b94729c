"""The trainer service on a real broker: RunFinished and TurnRecorded from Kafka, read in batches, become rollouts
with the right rewards in the LightningStore, and each run's RewardAssigned goes out on the rewards topic."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from schemas import Event, RewardAssigned, RunFinished, RunMetrics, RunRejected, TurnRecorded
from services.trainer.app import TraceCollector
from services.trainer.core.reward import RewardConfig
from services.trainer.core.traces import scored_trace
from services.trainer.core.trajectory import Checker, succeeded
from services.trainer.lightning.ledger import TrainerLedger
from services.trainer.lightning.sqlite_store import SqliteLightningStore
from services.trainer.lightning.store import final_reward
from services.trainer.settings import CollectorConfig
from streams.broker import make_broker
from streams.catalogue import DEAD_LETTERS, REWARDS, RUNS_FINISHED, TURNS, Catalogue
from streams.outbox import EventPublisher
from streams.settings import KafkaSettings
from tests.support.tail import Tail, tailing

pytestmark = pytest.mark.kafka
WAIT_S = 60
RUNS = 120
END = datetime(2026, 1, 1, 12, tzinfo=UTC)


def finished_run(number: int) -> RunFinished:
    """A mix of what runs do: right answers, wrong answers, failures with tool errors, no expected answer."""
    kind = number % 4
    return RunFinished(
        run_id=f"run-{number}",
        occurred_at=END,
        status="failed" if kind == 2 else "succeeded",
        answer=None if kind == 2 else number,
        expected_answer={0: str(number), 1: str(number + 1), 2: str(number)}.get(kind),
        metrics=RunMetrics(makespan_s=0.5 + kind, turns=2 + kind, tool_errors=kind if kind == 2 else 0),
    )


def turns_of(run: RunFinished) -> list[TurnRecorded]:
    return [
        TurnRecorded(
            run_id=run.run_id,
            task_id=str(task),
            tool_name="calculator",
            started_at=END - timedelta(seconds=task + 1),
            latency_s=0.2,
        )
        for task in range(2)
    ]


@contextlib.asynccontextmanager
async def collecting(
    bootstrap: str,
    catalogue: Catalogue,
    store: SqliteLightningStore,
    *,
    name: str = "trainer",
    checker: Checker = succeeded,
) -> AsyncIterator[TraceCollector]:
    """The trainer's collector as the service runs it, in its consumer group; stopped (offsets committed) on exit."""
    broker = make_broker(KafkaSettings(), bootstrap, client_id=name)
    ready = asyncio.Event()
    fatal: list[BaseException] = []

    async def on_ready() -> None:
        ready.set()

    collector = TraceCollector(
        broker,
        catalogue,
        bootstrap=bootstrap,
        ledger=TrainerLedger(store, remember_runs=10_000, max_open_runs=10_000),
        reward=RewardConfig(),
        checker=checker,
        settings=CollectorConfig(group_id=f"{catalogue.prefix}-trainer"),
        name=name,
        on_fatal=fatal.append,
        on_ready=on_ready,
    )
    async with broker:
        await broker.start()
        await collector.start()
        try:
            await asyncio.wait_for(ready.wait(), WAIT_S)
            yield collector
        finally:
            await collector.stop()
    assert not fatal, f"the collector stopped: {fatal}"


async def caught_up(collector: TraceCollector, records: int) -> None:
    """Wait (bounded) until the collector is done with ``records`` records: applied and their offsets committed."""
    async with collector.batch_done:
        try:
            await asyncio.wait_for(collector.batch_done.wait_for(lambda: collector.records >= records), WAIT_S)
        except TimeoutError:
            raise AssertionError(f"the trainer took {collector.records} of {records} records in {WAIT_S} s") from None


async def publish(bootstrap: str, catalogue: Catalogue, events: list[Event]) -> None:
    producer = make_broker(KafkaSettings(), bootstrap, client_id="producer")
    async with producer:
        await EventPublisher(producer, catalogue, source="test").publish_all(events)


def rewards_by_run(tail: Tail, catalogue: Catalogue) -> dict[str, list[RewardAssigned]]:
    rewards: dict[str, list[RewardAssigned]] = {}
    for event in tail.events(catalogue.name(REWARDS), RewardAssigned):
        rewards.setdefault(event.run_id, []).append(event)
    return rewards


async def test_finished_runs_from_kafka_land_as_rollouts_with_their_rewards_when_read_in_batches(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    store = SqliteLightningStore(tmp_path / "rollouts.sqlite")
    runs = [finished_run(number) for number in range(RUNS)]
    late = runs[7]  # its turns come after its run was recorded
    events: list[Event] = [event for run in runs for event in (*(turns_of(run) if run is not late else ()), run)]
    events += [runs[0], RunRejected(run_id="rejected", reason="cycle: 1 -> 2 -> 1")]  # a redelivery; a rejection
    await publish(kafka_bootstrap, catalogue, events)  # all waiting before the trainer starts

    async with tailing(kafka_bootstrap, catalogue.name(REWARDS)) as tail:
        async with collecting(kafka_bootstrap, catalogue, store) as collector:
            await caught_up(collector, len(events))
            await publish(kafka_bootstrap, catalogue, turns_of(late))
            await caught_up(collector, len(events) + 2)
        # Rewards are acknowledged before a batch's offsets are committed: all of them are on the topic now.
        await tail.wait_for(
            lambda: sum(map(len, rewards_by_run(tail, catalogue).values())) >= RUNS + 1, WAIT_S, "every reward"
        )
    rewards = rewards_by_run(tail, catalogue)

    assert collector.batches < len(events) / 5  # read in batches, not one record at a time
    assert collector.rollouts == RUNS and "rejected" not in rewards
    rollouts = await store.query_rollouts()
    assert len(rollouts) == RUNS  # the redelivered RunFinished did not make a second rollout
    assert rewards["run-0"][0].event_id == rewards["run-0"][1].event_id  # it repeated the same RewardAssigned
    for run in runs:
        expected = scored_trace(run, turns_of(run), RewardConfig(), succeeded).reward
        [assigned, *_] = rewards[run.run_id]
        assert assigned.reward == pytest.approx(expected.total), run.run_id
        assert assigned.components == pytest.approx(expected.components)
        assert await final_reward(store, assigned.rollout_id) == pytest.approx(expected.total)
        spans = await store.query_spans(assigned.rollout_id)
        assert [span.name for span in spans].count("execute_tool calculator") == 2  # each turn once, late ones too
    # right answer, wrong answer, failed with two tool errors, succeeded without an expected answer
    assert {round(events[0].reward, 6) for events in rewards.values()} == {1.15, -0.35, -0.85, 1.05}
    await store.close()


async def test_trainer_restart_loses_no_waiting_turn_and_records_no_run_twice_when_inputs_come_again(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    path = tmp_path / "rollouts.sqlite"
    runs = [finished_run(number) for number in range(20)]
    waiting = runs[-1]  # its turns arrive before the restart, its RunFinished after

    def rewards_seen(count: int) -> bool:
        return sum(map(len, rewards_by_run(tail, catalogue).values())) >= count

    async with tailing(kafka_bootstrap, catalogue.name(REWARDS)) as tail:
        before = [event for run in runs[:-1] for event in (*turns_of(run), run)] + turns_of(waiting)
        store = SqliteLightningStore(path)
        async with collecting(kafka_bootstrap, catalogue, store, name="trainer-1") as first:
            await publish(kafka_bootstrap, catalogue, before)
            await caught_up(first, len(before))
            assert len(first.ledger.waiting_turns(waiting.run_id)) == 2
        await tail.wait_for(lambda: rewards_seen(len(runs) - 1), WAIT_S, "the first runs' rewards")
        await store.close()

        # A crash after the rollouts were written and before the offsets were committed brings the inputs back.
        store = SqliteLightningStore(path)
        async with collecting(kafka_bootstrap, catalogue, store, name="trainer-2") as collector:
            await publish(kafka_bootstrap, catalogue, [*runs[:-1], waiting])
            await caught_up(collector, len(runs))
        await tail.wait_for(lambda: rewards_seen(2 * len(runs) - 1), WAIT_S, "the rewards after the restart")
    rewards = rewards_by_run(tail, catalogue)

    assert collector.rollouts == 1  # only the run that had not finished before the restart
    assert len(await store.query_rollouts()) == len(runs)
    for events in rewards.values():
        assert len({event.event_id for event in events}) == 1  # a redelivery repeats the same reward
    [assigned] = rewards[waiting.run_id]
    spans = await store.query_spans(assigned.rollout_id)
    assert [span.name for span in spans].count("execute_tool calculator") == 2  # its turns survived the restart
    await store.close()


TRAINER_POISON = {
    "not-json": b"\xff\xfe not json",
    "empty": b"",
    "json-array": b"[1, 2, 3]",
    "missing-fields": b'{"type": "RunFinished.v1"}',
    "wrong-field-type": b'{"type": "TurnRecorded.v1", "run_id": "r", "task_id": "1", "tool_name": 7}',
    "deeply-nested": b'{"type": "RunFinished.v1", "run_id": "r", "status": "succeeded", "answer": '
    + b"[" * 50_000
    + b"]" * 50_000
    + b"}",
}


async def test_dead_letters_each_bad_record_alone_and_scores_the_good_run_beside_them_when_trainer_inputs_hold_garbage(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    store = SqliteLightningStore(tmp_path / "rollouts.sqlite")
    inputs = [catalogue.name(RUNS_FINISHED), catalogue.name(TURNS)]
    dead = catalogue.name(DEAD_LETTERS)
    good = finished_run(0)
    # Decodes, but its checker raises: the record fails alone, in the same batch as the good run.
    unscorable = RunFinished(run_id="unscorable", occurred_at=END, status="succeeded", answer=1)

    def checker(finished: RunFinished) -> bool:
        if finished.run_id == unscorable.run_id:
            raise ValueError("the checker cannot read this answer")
        return succeeded(finished)

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for topic in inputs:
            for name, body in TRAINER_POISON.items():
                await producer.send_and_wait(topic, body, key=f"{topic}/{name}".encode())
    finally:
        await producer.stop()
    await publish(kafka_bootstrap, catalogue, [*turns_of(good), unscorable, good])
    async with tailing(kafka_bootstrap, dead, catalogue.name(REWARDS)) as tail:
        async with collecting(kafka_bootstrap, catalogue, store, checker=checker) as collector:
            await caught_up(collector, len(inputs) * len(TRAINER_POISON) + 4)
        expected = len(inputs) * len(TRAINER_POISON) + 1
        await tail.wait_for(
            lambda: len(tail.on(dead)) >= expected and tail.events(catalogue.name(REWARDS), RewardAssigned),
            WAIT_S,
            f"{expected} dead letters and the good run's reward",
        )
    letters = {seen.key.decode() for seen in tail.on(dead) if seen.key}
    assert {f"{topic}/{name}" for topic in inputs for name in TRAINER_POISON} | {unscorable.run_id} <= letters
    assert collector.rollouts == 1 and len(await store.query_rollouts()) == 1
    [reward] = tail.events(catalogue.name(REWARDS), RewardAssigned)
    assert reward.run_id == good.run_id
    await store.close()
