"""An executor against a real broker, fed faults: tools that hang, raise, return something JSON cannot carry or
something larger than Kafka takes; poison records of every shape on tasks.ready; attempts it must skip. Each fault
fails only its own record, the record's offset is committed, and the executor keeps serving."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas import RunFinished, RunRequested, TaskFinished, TaskReady, TaskStarted, TurnRecorded, utc_now
from schemas.codec import encode_event
from services.executor.app import Executor
from services.executor.core.limits import TaskLimits
from services.executor.settings import ExecutorSettings
from services.executor.tools import ToolSettings, ToolSpec, build_registry
from streams.admin import ensure_topics
from streams.blobs import LocalBlobStore, marker
from streams.broker import make_broker
from streams.catalogue import DEAD_LETTERS, TASKS_FINISHED, TASKS_READY, TURNS, Catalogue
from streams.outbox import EventPublisher
from streams.settings import KafkaSettings
from tests.support.tail import Tail, tailing

pytestmark = pytest.mark.kafka
WAIT_S = 90
KAFKA_LIMIT = KafkaSettings().max_message_bytes


class FaultyTools:
    """Tools that misbehave on purpose, and a count of the calls that reached each."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.registry = build_registry(ToolSettings(kb_latency_s=0.0), entry_point_group=None)
        for name, fn, timeout_s in (
            ("hangs", self.hangs, 0.5),
            ("raises", self.raises, 5.0),
            ("unserialisable", self.unserialisable, 5.0),
            ("huge", self.huge, 5.0),
            ("echo", self.echo, 5.0),
        ):
            self.registry.register(ToolSpec(name=name, fn=fn, timeout_s=timeout_s))

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def hangs(self) -> None:
        self._count("hangs")
        await asyncio.Event().wait()

    async def raises(self) -> None:
        self._count("raises")
        raise KeyError("a bug in the tool " + "!" * 100_000)

    async def unserialisable(self) -> Any:
        self._count("unserialisable")
        return {"socket": object()}

    async def huge(self, size: int) -> str:
        self._count("huge")
        return "x" * size

    async def echo(self, value: Any) -> Any:
        self._count("echo")
        return value


@contextlib.asynccontextmanager
async def running_executor(
    bootstrap: str,
    catalogue: Catalogue,
    tools: FaultyTools,
    *,
    limits: TaskLimits,
    blobs: Any = None,
    settings: ExecutorSettings | None = None,
) -> AsyncIterator[tuple[Executor, list[BaseException]]]:
    fatal: list[BaseException] = []
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    broker = make_broker(KafkaSettings(), bootstrap, client_id="executor-faults")
    executor = Executor(
        broker,
        catalogue,
        tools.registry,
        msgspec.structs.replace(settings or ExecutorSettings(), group_id=f"{catalogue.prefix}-executors"),
        bootstrap=bootstrap,
        name="executor-faults",
        now=utc_now,
        on_fatal=fatal.append,
        on_ready=on_ready,
        limits=limits,
        blobs=blobs,
    )
    await broker.start()
    await executor.start()
    try:
        await asyncio.wait_for(ready.wait(), WAIT_S)
        yield executor, fatal
    finally:
        await executor.stop()
        await broker.stop()


@contextlib.asynccontextmanager
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    # Larger than the services' limit, so a poison record can fill the topic's max.message.bytes.
    client = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 * KAFKA_LIMIT, acks="all")
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


async def send(client: AIOKafkaProducer, catalogue: Catalogue, event: Any, partition: int | None = None) -> None:
    topic, key = catalogue.route(event)
    await client.send_and_wait(topic, encode_event(event), key=key.encode(), partition=partition)


def task(run_id: str, task_id: str, tool: str, **fields: Any) -> TaskReady:
    return TaskReady(run_id=run_id, task_id=task_id, tool=tool, source="test", **fields)


def finished(tail: Tail, catalogue: Catalogue, run_id: str) -> dict[str, TaskFinished]:
    return {
        event.task_id: event
        for event in tail.events(catalogue.name(TASKS_FINISHED), TaskFinished)
        if event.run_id == run_id
    }


async def committed_to_end(bootstrap: str, group: str, partitions: list[TopicPartition]) -> None:
    """Wait, up to WAIT_S, until the group has committed every record of ``partitions``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        async with asyncio.timeout(WAIT_S):
            while True:
                committed = {partition: await consumer.committed(partition) or 0 for partition in partitions}
                if all(committed[partition] >= ends[partition] for partition in partitions):
                    return
                await asyncio.sleep(0.2)  # polling the broker's answer, bounded by the timeout above
    finally:
        await consumer.stop()


async def test_fails_only_the_faulty_task_when_tools_hang_raise_or_return_bad_results(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    tools = FaultyTools()
    # Results up to 2 MB pass the executor's own check, so a 1.5 MB one meets Kafka's limit: the last line.
    limits = TaskLimits(max_result_bytes=2 * KAFKA_LIMIT, max_argument_bytes=KAFKA_LIMIT // 2)
    run_id = f"faults-{uuid.uuid4().hex[:8]}"
    cases = {
        "hangs": task(run_id, "hangs", "hangs"),
        "raises": task(run_id, "raises", "raises"),
        "unserialisable": task(run_id, "unserialisable", "unserialisable"),
        "over-kafka": task(run_id, "over-kafka", "huge", args={"size": 1_500_000}),
        "over-limit": task(run_id, "over-limit", "huge", args={"size": 3 * KAFKA_LIMIT}),
        "fine": task(run_id, "fine", "calculator", args={"expression": "6 * 7"}),
    }
    topics = [catalogue.name(spec) for spec in (TASKS_FINISHED, TURNS)]
    async with (
        tailing(kafka_bootstrap, *topics) as tail,
        running_executor(kafka_bootstrap, catalogue, tools, limits=limits) as (executor, fatal),
        producer(kafka_bootstrap) as client,
    ):
        for event in cases.values():
            await send(client, catalogue, event)
        ends = await tail.wait_for(
            lambda: len(finished(tail, catalogue, run_id)) == len(cases) and finished(tail, catalogue, run_id),
            WAIT_S,
            "a TaskFinished for every task",
        )
        assert fatal == [] and executor.failed_to_publish == 1

    assert (ends["fine"].status, ends["fine"].result) == ("ok", 42)
    assert ends["hangs"].error == "hangs timed out after 0.5 s" and ends["hangs"].retryable
    assert ends["raises"].error.startswith("raises failed: KeyError:") and len(ends["raises"].error) < 2_100
    assert ends["unserialisable"].error.startswith("unserialisable returned a value JSON cannot carry")
    assert ends["over-kafka"].error.startswith("result could not be published: MessageSizeTooLargeError")
    assert ends["over-limit"].error == f"result is {3 * KAFKA_LIMIT + 2} bytes, over tools.max_result_bytes (2097152)"
    failed = [end for name, end in ends.items() if name not in {"fine", "hangs", "raises"}]
    assert all(end.status == "error" and not end.retryable for end in failed), failed
    # Every attempt announced its start before its end, naming when it was dispatched.
    starts = {event.task_id: event for event in tail.events(catalogue.name(TASKS_FINISHED), TaskStarted)}
    assert set(starts) == set(cases)
    assert all(starts[name].dispatched_at == event.occurred_at for name, event in cases.items())
    offsets = {
        (type(seen.event), seen.event.task_id): seen.offset
        for seen in tail.on(catalogue.name(TASKS_FINISHED))
        if seen.event is not None
    }
    assert all(offsets[TaskStarted, name] < offsets[TaskFinished, name] for name in cases)


POISON: dict[str, bytes] = {
    "not-json": b"\xff\xfe not json at all",
    "empty": b"",
    "json-array": b"[1, 2, 3]",
    "wrong-event-type": encode_event(RunRequested(run_id="r-poison", plan_text="Task 1: x | Dependencies: none")),
    "missing-fields": b'{"type": "TaskReady.v1", "run_id": "r-poison"}',
    "wrong-field-type": b'{"type": "TaskReady.v1", "run_id": "r", "task_id": "1", "tool": "echo", "attempt": "x"}',
    "deeply-nested": b'{"type": "TaskReady.v1", "run_id": "r", "task_id": "1", "tool": "echo", "args": {"v": '
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}}",
    # Fills the topic's limit: the dead letter's headers push it over, so only its head can be parked.
    "huge": b'{"type": "TaskReady.v1", "pad": "' + b"p" * (KAFKA_LIMIT - 200) + b'"}',
}


async def test_dead_letters_each_poison_record_and_carries_on_when_tasks_ready_holds_garbage(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    tools = FaultyTools()
    run_id = f"after-poison-{uuid.uuid4().hex[:8]}"
    ready_topic = catalogue.name(TASKS_READY)
    topics = [catalogue.name(spec) for spec in (TASKS_FINISHED, DEAD_LETTERS)]
    async with (
        tailing(kafka_bootstrap, *topics) as tail,
        running_executor(kafka_bootstrap, catalogue, tools, limits=TaskLimits()) as (executor, fatal),
        producer(kafka_bootstrap) as client,
    ):
        for name, body in POISON.items():
            await client.send_and_wait(ready_topic, body, key=name.encode(), partition=0)
        await client.send_and_wait(ready_topic, None, key=b"tombstone", partition=0)
        await client.send_and_wait(
            ready_topic, b'{"type": "TaskReady.v9", "run_id": "r", "from": "a newer producer"}', partition=0
        )
        await send(client, catalogue, task(run_id, "1", "echo", args={"value": "still here"}), partition=0)
        dead = catalogue.name(DEAD_LETTERS)
        await tail.wait_for(
            lambda: finished(tail, catalogue, run_id) and len(tail.on(dead)) >= len(POISON) + 1,
            WAIT_S,
            "the good task's result and a dead letter per poison record",
        )
        group = f"{catalogue.prefix}-executors"
        partition = TopicPartition(ready_topic, 0)
        await committed_to_end(kafka_bootstrap, group, [partition])
        assert fatal == [] and executor.handled == len(POISON) + 3

    assert finished(tail, catalogue, run_id)["1"].result == "still here"
    letters = {seen.key.decode(): seen for seen in tail.on(dead) if seen.key and seen.key.decode() in POISON}
    assert set(letters) == set(POISON)
    reasons = {name: seen.headers["reason"].decode() for name, seen in letters.items()}
    assert reasons["not-json"].startswith("undecodable: not JSON")
    assert reasons["wrong-event-type"] == "unexpected event type RunRequested on this topic"
    assert "missing required field" in reasons["missing-fields"]
    assert reasons["deeply-nested"] == "undecodable: nested too deeply to decode"
    assert letters["huge"].headers["truncated-from-bytes"] == str(len(POISON["huge"])).encode()
    assert letters["empty"].value == b"" and letters["not-json"].value == POISON["not-json"]
    assert sum(tools.calls.values()) == 1  # only the good task reached a tool


async def test_skips_without_running_the_tool_when_the_attempt_is_stale_or_its_run_has_finished(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    tools = FaultyTools()
    live, done = f"live-{uuid.uuid4().hex[:8]}", f"done-{uuid.uuid4().hex[:8]}"
    now = utc_now()
    topics = [catalogue.name(spec) for spec in (TASKS_FINISHED, TURNS)]
    async with (
        tailing(kafka_bootstrap, *topics) as tail,
        running_executor(kafka_bootstrap, catalogue, tools, limits=TaskLimits()) as (executor, fatal),
        producer(kafka_bootstrap) as client,
    ):
        # The executor reads runs.finished from its end: announce the run until the executor has seen it.
        async def announced() -> None:
            while done not in executor._finished_runs:
                await send(client, catalogue, RunFinished(run_id=done, status="cancelled", source="test"))
                await asyncio.sleep(0.2)

        await asyncio.wait_for(announced(), WAIT_S)
        await send(client, catalogue, task(live, "superseded", "echo", args={"value": 1}, start_by=now))
        await send(client, catalogue, task(live, "late", "echo", args={"value": 2}, deadline_at=now))
        await send(client, catalogue, task(done, "orphan", "echo", args={"value": 3}))
        await send(
            client,
            catalogue,
            task(live, "current", "echo", args={"value": 4}, attempt=2, start_by=now + timedelta(minutes=5)),
        )
        skips = await tail.wait_for(
            lambda: (
                len(found := [e for e in tail.events(catalogue.name(TURNS), TurnRecorded) if e.status == "error"]) == 3
                and finished(tail, catalogue, live)
                and found
            ),
            WAIT_S,
            "three skips and the current attempt's result",
        )
        assert fatal == [] and executor.skipped == 3

    reasons = {event.task_id: event.error for event in skips}
    assert reasons["superseded"].startswith("skipped: attempt 1 was not started by")
    assert reasons["late"].startswith("skipped: the run's deadline")
    assert reasons["orphan"] == f"skipped: run {done} has already finished"
    assert tools.calls == {"echo": 1} and finished(tail, catalogue, live)["current"].result == 4
    started = {event.task_id for event in tail.events(catalogue.name(TASKS_FINISHED), TaskStarted)}
    assert started == {"current"}


async def test_passes_a_large_result_by_reference_when_the_claim_check_is_on(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    tools = FaultyTools()
    store = LocalBlobStore(tmp_path / "blobs")
    run_id = f"claim-{uuid.uuid4().hex[:8]}"
    size = 3 * KAFKA_LIMIT
    async with (
        tailing(kafka_bootstrap, catalogue.name(TASKS_FINISHED)) as tail,
        running_executor(kafka_bootstrap, catalogue, tools, limits=TaskLimits(claim_check=True), blobs=store) as (
            _,
            fatal,
        ),
        producer(kafka_bootstrap) as client,
    ):
        await send(client, catalogue, task(run_id, "big", "huge", args={"size": size}))
        big = await tail.wait_for(lambda: finished(tail, catalogue, run_id).get("big"), WAIT_S, "the big result")
        assert big.status == "ok" and big.result is None and big.result_ref
        # A dependent gets the marker in its arguments (as the planner substitutes it) and sees the whole value.
        await send(client, catalogue, task(run_id, "length", "echo", args={"value": {"text": marker(big.result_ref)}}))
        echoed = await tail.wait_for(lambda: finished(tail, catalogue, run_id).get("length"), WAIT_S, "the dependent")
        assert fatal == []

    assert msgspec.json.decode(store.get(big.result_ref)) == "x" * size
    # The echo returns the whole text again: over the limit, so it is stored as well, under its own hash.
    assert echoed.status == "ok" and msgspec.json.decode(store.get(echoed.result_ref)) == {"text": "x" * size}


async def test_carries_a_result_over_one_mib_when_kafka_max_message_bytes_is_raised(kafka_bootstrap: str) -> None:
    # One setting raises both sides: the producers' request limit and the topics' max.message.bytes.
    kafka = KafkaSettings(max_message_bytes=4 * KAFKA_LIMIT)
    isolated = Catalogue(prefix=f"t{uuid.uuid4().hex[:10]}")
    await ensure_topics(kafka_bootstrap, isolated, max_message_bytes=kafka.max_message_bytes)
    broker = make_broker(kafka, kafka_bootstrap, client_id="big-publisher")
    await broker.start()
    big = TaskFinished(run_id="big", task_id="1", status="ok", result="x" * (3 * KAFKA_LIMIT), source="test")
    try:
        await EventPublisher(broker, isolated, source="test").publish(big)
    finally:
        await broker.stop()
    # A consumer with aiokafka's default fetch sizes still receives it whole.
    consumer = AIOKafkaConsumer(
        isolated.name(TASKS_FINISHED), bootstrap_servers=kafka_bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), WAIT_S)
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()
    assert record.value == encode_event(big)
