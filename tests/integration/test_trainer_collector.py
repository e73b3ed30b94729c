"""The trainer service on a real broker: RunFinished and TurnRecorded from Kafka become rollouts with the right
rewards in the LightningStore, and each run's RewardAssigned goes out on the rewards topic."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas import Event, RewardAssigned, RunFinished, RunMetrics, RunRejected, TurnRecorded, decode_event
from services.trainer.app import TraceCollector
from services.trainer.core.reward import RewardConfig
from services.trainer.core.traces import scored_trace
from services.trainer.core.trajectory import succeeded
from services.trainer.lightning.ledger import TrainerLedger
from services.trainer.lightning.sqlite_store import SqliteLightningStore
from services.trainer.lightning.store import final_reward
from services.trainer.settings import CollectorConfig
from streams.broker import consumer_options, make_broker
from streams.catalogue import REWARDS, RUNS_FINISHED, TURNS, Catalogue
from streams.outbox import EventPublisher
from streams.settings import KafkaSettings

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


def collector_on(broker: KafkaBroker, catalogue: Catalogue, store: SqliteLightningStore, ready: asyncio.Event):
    async def on_ready() -> None:
        ready.set()

    return TraceCollector(
        broker,
        catalogue,
        ledger=TrainerLedger(store, remember_runs=10_000, max_open_runs=10_000),
        reward=RewardConfig(),
        checker=succeeded,
        settings=CollectorConfig(group_id=f"{catalogue.prefix}-trainer"),
        name="trainer",
        on_ready=on_ready,
    )


async def test_finished_runs_from_kafka_land_as_rollouts_with_their_rewards(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    store = SqliteLightningStore(tmp_path / "rollouts.sqlite")
    broker = make_broker(KafkaSettings(), kafka_bootstrap, client_id="trainer")
    ready = asyncio.Event()
    collector = collector_on(broker, catalogue, store, ready)
    rewards: dict[str, list[RewardAssigned]] = {}
    listener = make_broker(KafkaSettings(), kafka_bootstrap, client_id="reward-listener")

    @listener.subscriber(catalogue.name(REWARDS), **consumer_options(f"{catalogue.prefix}-rewards"))
    async def on_reward(body: bytes, message: KafkaMessage) -> None:
        event = decode_event(body)
        assert isinstance(event, RewardAssigned)
        rewards.setdefault(event.run_id, []).append(event)

    runs = [finished_run(number) for number in range(RUNS)]
    events: list[Event] = []
    for run in runs:
        events += [*turns_of(run), run] if run.run_id != "run-7" else [run, *turns_of(run)]  # run-7's turns are late
    events += [runs[0], RunRejected(run_id="rejected", reason="cycle: 1 -> 2 -> 1")]  # a redelivery; a rejection

    async with broker, listener:
        await broker.start()
        await listener.start()
        await asyncio.wait_for(ready.wait(), WAIT_S)
        producer = make_broker(KafkaSettings(), kafka_bootstrap, client_id="producer")
        async with producer:
            await EventPublisher(producer, catalogue, source="test").publish_all(events)
        async with asyncio.timeout(WAIT_S):
            while len(rewards) < RUNS or len(rewards["run-0"]) < 2:
                await asyncio.sleep(0.05)
            # Turns travel on their own topic: some reach the trainer after their run was recorded.
            while not await every_turn_recorded(store, rewards):
                await asyncio.sleep(0.05)

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
        assert [span.name for span in spans].count("execute_tool calculator") == 2  # each turn once
    # right answer, wrong answer, failed with two tool errors, succeeded without an expected answer
    assert {round(events[0].reward, 6) for events in rewards.values()} == {1.15, -0.35, -0.85, 1.05}


async def every_turn_recorded(store: object, rewards: dict[str, list[RewardAssigned]]) -> bool:
    for events in rewards.values():
        if len(await store.query_spans(events[0].rollout_id)) < 1 + 2 + 1:  # type: ignore[attr-defined]
            return False
    return True


async def test_trainer_restart_loses_no_waiting_turn_and_records_no_run_twice_when_inputs_come_again(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    path = tmp_path / "rollouts.sqlite"
    runs = [finished_run(number) for number in range(20)]
    waiting = runs[-1]  # its turns arrive before the restart, its RunFinished after
    rewards: dict[str, list[RewardAssigned]] = {}
    listener = make_broker(KafkaSettings(), kafka_bootstrap, client_id="reward-listener")

    @listener.subscriber(catalogue.name(REWARDS), **consumer_options(f"{catalogue.prefix}-rewards"))
    async def on_reward(body: bytes, message: KafkaMessage) -> None:
        event = decode_event(body)
        assert isinstance(event, RewardAssigned)
        rewards.setdefault(event.run_id, []).append(event)

    async def publish(events: list[Event]) -> None:
        producer = make_broker(KafkaSettings(), kafka_bootstrap, client_id="producer")
        async with producer:
            await EventPublisher(producer, catalogue, source="test").publish_all(events)

    async def until(condition) -> None:  # type: ignore[no-untyped-def]
        async with asyncio.timeout(WAIT_S):
            while not condition():
                await asyncio.sleep(0.05)

    async with listener:
        await listener.start()
        before = [event for run in runs[:-1] for event in (*turns_of(run), run)] + turns_of(waiting)
        store = SqliteLightningStore(path)
        first = make_broker(KafkaSettings(), kafka_bootstrap, client_id="trainer-1")
        ready = asyncio.Event()
        ledger = collector_on(first, catalogue, store, ready).ledger
        async with first:
            await first.start()
            await asyncio.wait_for(ready.wait(), WAIT_S)
            await publish(before)
            await until(lambda: len(rewards) == len(runs) - 1 and len(ledger.waiting_turns(waiting.run_id)) == 2)
        await store.close()

        # A crash after the rollouts were written and before the offsets were committed brings the inputs back.
        store = SqliteLightningStore(path)
        second = make_broker(KafkaSettings(), kafka_bootstrap, client_id="trainer-2")
        ready = asyncio.Event()
        collector = collector_on(second, catalogue, store, ready)
        async with second:
            await second.start()
            await asyncio.wait_for(ready.wait(), WAIT_S)
            await publish([*runs[:-1], waiting])
            await until(lambda: waiting.run_id in rewards and sum(map(len, rewards.values())) == 2 * len(runs) - 1)

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


async def test_dead_letters_each_poison_record_and_scores_the_next_run_when_trainer_inputs_hold_garbage(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    from aiokafka import AIOKafkaProducer

    from streams.catalogue import DEAD_LETTERS
    from tests.support.tail import tailing

    store = SqliteLightningStore(tmp_path / "rollouts.sqlite")
    broker = make_broker(KafkaSettings(), kafka_bootstrap, client_id="trainer")
    ready = asyncio.Event()
    collector = collector_on(broker, catalogue, store, ready)
    inputs = [catalogue.name(RUNS_FINISHED), catalogue.name(TURNS)]
    dead = catalogue.name(DEAD_LETTERS)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with tailing(kafka_bootstrap, dead, catalogue.name(REWARDS)) as tail, broker:
            await broker.start()
            await asyncio.wait_for(ready.wait(), WAIT_S)
            for topic in inputs:
                for name, body in TRAINER_POISON.items():
                    await producer.send_and_wait(topic, body, key=f"{topic}/{name}".encode())
            good = finished_run(0)
            await EventPublisher(broker, catalogue, source="test").publish_all([*turns_of(good), good])
            expected = len(inputs) * len(TRAINER_POISON)
            await tail.wait_for(
                lambda: len(tail.on(dead)) >= expected and tail.events(catalogue.name(REWARDS), RewardAssigned),
                WAIT_S,
                f"{expected} dead letters and the good run's reward",
            )
    finally:
        await producer.stop()
    letters = {seen.key.decode() for seen in tail.on(dead) if seen.key}
    assert {f"{topic}/{name}" for topic in inputs for name in TRAINER_POISON} <= letters
    assert collector.rollouts == 1
    [reward] = tail.events(catalogue.name(REWARDS), RewardAssigned)
    assert reward.run_id == good.run_id
    await store.close()
