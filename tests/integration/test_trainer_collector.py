"""The trainer service on a real broker: RunFinished and TurnRecorded from Kafka become rollouts with the right
rewards in the LightningStore, and each run's RewardAssigned goes out on the rewards topic."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from faststream.kafka.annotations import KafkaMessage

from schemas import Event, RewardAssigned, RunFinished, RunMetrics, RunRejected, TurnRecorded, decode_event
from services.trainer.app import TraceCollector
from services.trainer.core.reward import RewardConfig
from services.trainer.core.traces import scored_trace
from services.trainer.core.trajectory import succeeded
from services.trainer.lightning.store import RolloutLog, final_reward, make_store
from services.trainer.settings import CollectorConfig, StoreConfig
from streams.broker import consumer_options, make_broker
from streams.catalogue import REWARDS, Catalogue
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


async def test_finished_runs_from_kafka_land_as_rollouts_with_their_rewards(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    store = make_store(StoreConfig())
    broker = make_broker(KafkaSettings(), kafka_bootstrap, client_id="trainer")
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    collector = TraceCollector(
        broker,
        catalogue,
        log=RolloutLog(store),
        reward=RewardConfig(),
        checker=succeeded,
        settings=CollectorConfig(group_id=f"{catalogue.prefix}-trainer"),
        name="trainer",
        on_ready=on_ready,
    )
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
