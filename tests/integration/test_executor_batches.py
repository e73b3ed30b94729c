"""An executor reading tasks.ready in batches, against a real broker: the records of each test are on the topic
before the executor starts, so its first poll takes them together. Within a batch a poison record fails alone, stale
attempts are skipped while the rest run, and no offset is committed past a task whose results are not yet published
(at least once: a task cut short by a stop runs again on the group's next executor). Each attempt's events carry its
execute_tool span, a child of the trace its TaskReady carries."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import TaskFinished, TaskStarted, TurnRecorded, utc_now
from schemas.codec import encode_event
from services.executor.core.limits import TaskLimits
from services.executor.settings import ExecutorSettings
from services.executor.tools import ToolSpec
from streams.catalogue import DEAD_LETTERS, TASKS_FINISHED, TASKS_READY, TURNS, Catalogue
from tests.integration.test_executor_faults import (
    WAIT_S,
    FaultyTools,
    committed_to_end,
    finished,
    producer,
    running_executor,
    send,
    task,
)
from tests.support.spans import memory_exporter
from tests.support.tail import tailing

pytestmark = pytest.mark.kafka
# A stopped executor gives its unfinished tasks this long: the gate below never opens for the first executor.
QUICK_STOP = ExecutorSettings(drain_timeout_s=0.2)


class GatedTools(FaultyTools):
    """Adds ``gate``, which waits until the test opens it, and ``note``, which returns its value; both count their
    calls per value."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.runs: Counter[str] = Counter()
        self.registry.register(ToolSpec(name="gate", fn=self.gated, timeout_s=WAIT_S))
        self.registry.register(ToolSpec(name="note", fn=self.note, timeout_s=5.0))

    async def gated(self, value: str) -> str:
        self.runs[value] += 1
        await self.gate.wait()
        return value

    async def note(self, value: str) -> str:
        self.runs[value] += 1
        return value


async def committed(bootstrap: str, group: str, partition: TopicPartition) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(partition) or 0
    finally:
        await consumer.stop()


async def eventually(check: Any, what: str) -> None:
    """Wait, up to WAIT_S, until the awaitable-returning ``check()`` is truthy."""
    try:
        async with asyncio.timeout(WAIT_S):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.05)  # polling the broker's or the executor's answer, bounded by the timeout
    except TimeoutError:
        raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}") from None


def group_of(catalogue: Catalogue) -> str:
    return f"{catalogue.prefix}-executors"


async def test_dead_letters_only_the_poison_records_when_they_arrive_in_one_batch_with_good_tasks(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    tools = GatedTools()
    run_id = f"batch-poison-{uuid.uuid4().hex[:8]}"
    ready = catalogue.name(TASKS_READY)
    dead = catalogue.name(DEAD_LETTERS)
    async with producer(kafka_bootstrap) as client:
        await send(client, catalogue, task(run_id, "1", "note", args={"value": "one"}), partition=0)
        await client.send_and_wait(ready, b"\xff\xfe not json", key=b"not-json", partition=0)
        await send(client, catalogue, task(run_id, "2", "note", args={"value": "two"}), partition=0)
        wrong = b'{"type": "TaskReady.v1", "run_id": "r", "task_id": "1", "tool": "note", "attempt": "x"}'
        await client.send_and_wait(ready, wrong, key=b"wrong-field-type", partition=0)
        await send(client, catalogue, task(run_id, "3", "note", args={"value": "three"}), partition=0)
    async with (
        tailing(kafka_bootstrap, catalogue.name(TASKS_FINISHED), dead) as tail,
        running_executor(kafka_bootstrap, catalogue, tools, limits=TaskLimits()) as (executor, fatal),
    ):
        ends = await tail.wait_for(
            lambda: len(results := finished(tail, catalogue, run_id)) == 3 and len(tail.on(dead)) >= 2 and results,
            WAIT_S,
            "three results and two dead letters",
        )
        await committed_to_end(kafka_bootstrap, group_of(catalogue), [TopicPartition(ready, 0)])
        assert fatal == [] and executor.handled == 5 and executor.largest_batch >= 5

    assert {name: end.result for name, end in ends.items()} == {"1": "one", "2": "two", "3": "three"}
    reasons = {seen.key: seen.headers["reason"].decode() for seen in tail.on(dead)}
    assert reasons[b"not-json"].startswith("undecodable: not JSON")
    assert reasons[b"wrong-field-type"] == "undecodable: Expected `int`, got `str` - at `$.attempt`"
    assert tools.runs == {"one": 1, "two": 1, "three": 1}


async def test_skips_the_stale_attempts_and_runs_the_others_when_one_batch_holds_both(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    tools = GatedTools()
    run_id = f"batch-skip-{uuid.uuid4().hex[:8]}"
    now = utc_now()
    async with producer(kafka_bootstrap) as client:
        for stale in (
            task(run_id, "superseded", "note", args={"value": "superseded"}, start_by=now),
            task(run_id, "fresh", "note", args={"value": "fresh"}),
            task(run_id, "late", "note", args={"value": "late"}, deadline_at=now),
            task(run_id, "current", "note", args={"value": "current"}, start_by=now + timedelta(minutes=5)),
        ):
            await send(client, catalogue, stale, partition=0)
    turns = catalogue.name(TURNS)
    async with (
        tailing(kafka_bootstrap, catalogue.name(TASKS_FINISHED), turns) as tail,
        running_executor(kafka_bootstrap, catalogue, tools, limits=TaskLimits()) as (executor, fatal),
    ):
        skips = await tail.wait_for(
            lambda: (
                len(found := [e for e in tail.events(turns, TurnRecorded) if e.status == "error"]) == 2
                and len(finished(tail, catalogue, run_id)) == 2
                and found
            ),
            WAIT_S,
            "two skips and two results",
        )
        await committed_to_end(kafka_bootstrap, group_of(catalogue), [TopicPartition(catalogue.name(TASKS_READY), 0)])
        assert fatal == [] and executor.skipped == 2 and executor.largest_batch >= 4

    assert {event.task_id for event in skips} == {"superseded", "late"}
    assert {name: end.result for name, end in finished(tail, catalogue, run_id).items()} == {
        "fresh": "fresh",
        "current": "current",
    }
    started = {event.task_id for event in tail.events(catalogue.name(TASKS_FINISHED), TaskStarted)}
    assert started == {"fresh", "current"}
    assert tools.runs == {"fresh": 1, "current": 1}


async def test_commits_no_offset_past_a_running_task_when_later_tasks_of_its_batch_finish_first(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    tools = GatedTools()
    run_id = f"batch-order-{uuid.uuid4().hex[:8]}"
    partition = TopicPartition(catalogue.name(TASKS_READY), 0)
    group = group_of(catalogue)
    names = ["before", "gate", "after-1", "after-2", "after-3", "after-4"]
    async with producer(kafka_bootstrap) as client:
        for name in names:
            tool = "gate" if name == "gate" else "note"
            await send(client, catalogue, task(run_id, name, tool, args={"value": name}), partition=0)
    gate_offset = names.index("gate")  # the topic is new: offsets start at 0
    async with (
        tailing(kafka_bootstrap, catalogue.name(TASKS_FINISHED)) as tail,
        running_executor(kafka_bootstrap, catalogue, tools, limits=TaskLimits()) as (executor, fatal),
    ):
        others = set(names) - {"gate"}
        await tail.wait_for(lambda: set(finished(tail, catalogue, run_id)) == others, WAIT_S, "the others' results")

        async def settled_at_the_gate() -> bool:
            at = await committed(kafka_bootstrap, group, partition)
            return at >= gate_offset and not executor.commit_pending

        await eventually(settled_at_the_gate, "the commit point at the gate")
        # The four later tasks are done and acknowledged, and every commit point computed is committed: the commit
        # still stops at the gate, the oldest task whose result is not published.
        assert await committed(kafka_bootstrap, group, partition) == gate_offset
        tools.gate.set()
        await tail.wait_for(lambda: "gate" in finished(tail, catalogue, run_id), WAIT_S, "the gate's result")
        await committed_to_end(kafka_bootstrap, group, [partition])
        assert fatal == [] and executor.largest_batch >= len(names)
    assert tools.runs == dict.fromkeys(names, 1)


async def test_runs_a_task_again_on_the_next_executor_when_the_first_stopped_before_publishing_its_result(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    tools = GatedTools()
    run_id = f"batch-again-{uuid.uuid4().hex[:8]}"
    partition = TopicPartition(catalogue.name(TASKS_READY), 0)
    group = group_of(catalogue)
    names = ["before", "gate", "after-1", "after-2"]
    async with producer(kafka_bootstrap) as client:
        for name in names:
            tool = "gate" if name == "gate" else "note"
            await send(client, catalogue, task(run_id, name, tool, args={"value": name}), partition=0)
    async with tailing(kafka_bootstrap, catalogue.name(TASKS_FINISHED)) as tail:
        async with running_executor(kafka_bootstrap, catalogue, tools, limits=TaskLimits(), settings=QUICK_STOP) as (
            _,
            fatal,
        ):
            await tail.wait_for(
                lambda: set(finished(tail, catalogue, run_id)) == {"before", "after-1", "after-2"},
                WAIT_S,
                "every result but the gate's",
            )
        # Stopped with the gate still running: its offset, and those after it, stay uncommitted.
        assert await committed(kafka_bootstrap, group, partition) == names.index("gate")
        tools.gate.set()
        async with running_executor(kafka_bootstrap, catalogue, tools, limits=TaskLimits()) as (_, fatal_again):
            await tail.wait_for(lambda: "gate" in finished(tail, catalogue, run_id), WAIT_S, "the gate's result")
            await committed_to_end(kafka_bootstrap, group, [partition])
        assert fatal == [] and fatal_again == []

    # At least once: the gate and the tasks after it ran again; the one before it did not.
    assert tools.runs == {"before": 1, "gate": 2, "after-1": 2, "after-2": 2}
    results = [event for event in tail.events(catalogue.name(TASKS_FINISHED), TaskFinished) if event.run_id == run_id]
    assert sorted(event.task_id for event in results) == ["after-1", "after-1", "after-2", "after-2", "before", "gate"]


async def test_finishes_and_commits_the_task_in_flight_when_stopped_while_it_runs(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    tools = GatedTools()
    run_id = f"batch-drain-{uuid.uuid4().hex[:8]}"
    partition = TopicPartition(catalogue.name(TASKS_READY), 0)
    async with producer(kafka_bootstrap) as client:
        await send(client, catalogue, task(run_id, "gate", "gate", args={"value": "gate"}), partition=0)
    async with tailing(kafka_bootstrap, catalogue.name(TASKS_FINISHED)) as tail:
        async with running_executor(kafka_bootstrap, catalogue, tools, limits=TaskLimits()) as (executor, fatal):
            await tail.wait_for(
                lambda: any(e.run_id == run_id for e in tail.events(kind=TaskStarted)), WAIT_S, "the gate's start"
            )
            stopping = asyncio.create_task(executor.stop())

            async def draining() -> bool:
                return not executor.consuming()  # the stop has ended the consume loop: nothing new is taken

            await eventually(draining, "the stop to begin")
            assert not stopping.done() and executor.in_flight == 1
            tools.gate.set()
            await stopping
            # Stopped: the offset committed on the way out proves the result was acknowledged first.
            await committed_to_end(kafka_bootstrap, group_of(catalogue), [partition])
        assert fatal == []
        end = await tail.wait_for(lambda: finished(tail, catalogue, run_id).get("gate"), WAIT_S, "the gate's result")
    assert end.result == "gate"


def traceparent(trace_id: str, span_id: str) -> bytes:
    return f"00-{trace_id}-{span_id}-01".encode()


async def test_each_attempt_is_a_span_of_the_trace_its_task_carries_when_tasks_arrive_in_one_batch(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    exporter = memory_exporter()
    tools = GatedTools()
    run_id = f"batch-trace-{uuid.uuid4().hex[:8]}"
    tasks = {
        "ran": task(run_id, "ran", "note", args={"value": "ran"}),
        "skipped": task(run_id, "skipped", "note", args={"value": "skipped"}, deadline_at=utc_now()),
    }
    parents = {name: (uuid.uuid4().hex, uuid.uuid4().hex[:16]) for name in tasks}
    async with producer(kafka_bootstrap) as client:
        for name, ready in tasks.items():
            topic, key = catalogue.route(ready)
            headers = [("traceparent", traceparent(*parents[name]))]
            await client.send_and_wait(topic, encode_event(ready), key=key.encode(), partition=0, headers=headers)
    turns = catalogue.name(TURNS)
    async with (
        tailing(kafka_bootstrap, catalogue.name(TASKS_FINISHED), turns) as tail,
        running_executor(kafka_bootstrap, catalogue, tools, limits=TaskLimits()) as (_, fatal),
    ):
        await tail.wait_for(
            lambda: (
                "ran" in finished(tail, catalogue, run_id)
                and any(e.task_id == "skipped" for e in tail.events(turns, TurnRecorded))
            ),
            WAIT_S,
            "the result of one task and the skip of the other",
        )
        assert fatal == []

    spans = {span.context.span_id: span for span in exporter.get_finished_spans()}
    for name, (trace_id, parent_span_id) in parents.items():
        carried = {
            seen.headers["traceparent"].decode()
            for seen in tail.records
            if seen.event is not None and getattr(seen.event, "task_id", None) == name
        }
        # Every event of the attempt (its start, turn and result; or its skip) names one span of the task's trace...
        assert len(carried) == 1, carried
        (header,) = carried
        _, carried_trace, carried_span, _ = header.split("-")
        assert carried_trace == trace_id and carried_span != parent_span_id
        # ...the attempt's execute_tool span, a child of the span the TaskReady came from.
        span = spans[int(carried_span, 16)]
        assert span.name == "execute_tool note" and span.parent.span_id == int(parent_span_id, 16)


async def test_runs_a_call_once_and_answers_its_repeats_with_its_start_and_result_when_it_is_dispatched_again(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    """Two copies in one batch (the tool still running when the second is taken), a third after the result, and the
    same attempt with other arguments (a new owner whose state moved on): the tool runs once per call."""
    tools = GatedTools()
    run_id = f"batch-repeat-{uuid.uuid4().hex[:8]}"
    first = task(run_id, "1", "gate", args={"value": "first"})
    async with producer(kafka_bootstrap) as client:
        for event in (first, first):
            await send(client, catalogue, event, partition=0)
    turns = catalogue.name(TURNS)
    results = catalogue.name(TASKS_FINISHED)

    def of_run(kind: type) -> list:
        return [e for e in tail.events(results, kind) if e.run_id == run_id]

    def repeats() -> list[TurnRecorded]:
        return [e for e in tail.events(turns, TurnRecorded) if e.run_id == run_id and e.status == "error"]

    async with (
        tailing(kafka_bootstrap, results, turns) as tail,
        running_executor(kafka_bootstrap, catalogue, tools, limits=TaskLimits()) as (executor, fatal),
    ):
        await tail.wait_for(lambda: len(of_run(TaskStarted)) == 2 and repeats(), WAIT_S, "the start, sent twice")
        assert of_run(TaskFinished) == [] and tools.runs == {"first": 1}
        tools.gate.set()
        await tail.wait_for(lambda: of_run(TaskFinished), WAIT_S, "the result")
        async with producer(kafka_bootstrap) as client:
            await send(client, catalogue, first, partition=0)  # a later batch: the call has finished meanwhile
            other = task(run_id, "1", "gate", args={"value": "other"})
            await send(client, catalogue, other, partition=0)
        await tail.wait_for(lambda: len(of_run(TaskFinished)) == 3, WAIT_S, "the result again, and the other's")
        await committed_to_end(kafka_bootstrap, group_of(catalogue), [TopicPartition(catalogue.name(TASKS_READY), 0)])
        assert fatal == [] and executor.stats()["repeats_answered"] == 2

    assert tools.runs == {"first": 1, "other": 1}
    # The first copy's events, sent again as they were (the same event ids), and the other call's own.
    starts, ends = of_run(TaskStarted), of_run(TaskFinished)
    assert sorted(Counter(start.event_id for start in starts).values()) == [1, 3]
    assert sorted(Counter(end.event_id for end in ends).values()) == [1, 2]
    assert sorted(end.result for end in ends) == ["first", "first", "other"]
    assert [turn.error for turn in repeats()] == [
        "skipped: attempt 1 was dispatched again; this executor took it already and sends its start (it is still"
        " running) again",
        "skipped: attempt 1 was dispatched again; this executor took it already and sends its start and result again",
    ]
