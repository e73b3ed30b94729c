"""Direct dispatch (planner.dispatch_guarantee: at_least_once): what goes out at once, what is reported back.

The producer here is a stand-in for aiokafka's, to drive its error paths (a record refused at send, a delivery that
fails after retries); the real path is covered against a broker in tests/e2e/test_runs.py and test_planner_faults.py.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from schemas import RunCancelRequested, TaskReady, TaskStarted
from services.planner.dispatch import DirectDispatch
from streams.catalogue import TASKS_READY, Catalogue


def ready(task_id: str) -> TaskReady:
    return TaskReady(run_id="run-1", task_id=task_id, attempt=1, tool="calculator", args={"expression": "1"})


class Producer:
    """Answers each send as told by ``outcomes`` (by task id in the key): None acknowledges, an exception fails the
    delivery, ``"refuse"`` raises at send."""

    def __init__(self, outcomes: dict[str, object] | None = None) -> None:
        self.outcomes = outcomes or {}
        self.sent: list[tuple[str, bytes]] = []
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, value: bytes, *, key: bytes, headers: list) -> asyncio.Future:
        task_id = key.decode().split("/")[1]
        outcome = self.outcomes.get(task_id)
        if outcome == "refuse":
            raise MessageSizeTooLargeError("too large")
        self.sent.append((topic, key))
        delivery: asyncio.Future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(
            delivery.set_exception if isinstance(outcome, Exception) else delivery.set_result,
            outcome if isinstance(outcome, Exception) else None,
        )
        return delivery


def dispatcher(producer: Producer) -> tuple[DirectDispatch, list, list]:
    sent: list[TaskReady] = []
    refused: list[tuple[TaskReady, BaseException]] = []
    direct = DirectDispatch(
        producer,  # type: ignore[arg-type]
        Catalogue(prefix="unit"),
        source="planner-1",
        on_sent=sent.append,
        on_refused=lambda dispatch, error: refused.append((dispatch, error)),
    )
    return direct, sent, refused


def test_take_keeps_every_event_but_dispatches_in_order_when_events_are_mixed() -> None:
    direct, _, _ = dispatcher(Producer())
    cancel = RunCancelRequested(run_id="run-1", reason="the user left")
    started = TaskStarted(run_id="run-1", task_id="1", attempt=1, executor="e-1")
    assert direct.take([cancel, ready("1"), started, ready("2")]) == [cancel, started]
    assert direct.queued.is_set()


def test_nothing_is_queued_when_no_event_is_a_dispatch() -> None:
    direct, _, _ = dispatcher(Producer())
    assert direct.take([RunCancelRequested(run_id="run-1")])
    assert not direct.queued.is_set()


async def test_each_dispatch_is_sent_to_tasks_ready_and_reported_when_kafka_acknowledges_it() -> None:
    producer = Producer()
    direct, sent, refused = dispatcher(producer)
    direct.take([ready("1"), ready("2")])
    await direct.stop()  # sends what is queued and waits for the answers
    assert [dispatch.task_id for dispatch in sent] == ["1", "2"]
    assert not refused
    assert {topic for topic, _ in producer.sent} == {Catalogue(prefix="unit").name(TASKS_READY)}
    assert producer.stopped and not direct.queued.is_set()


@pytest.mark.parametrize(
    "outcome", ["refuse", KafkaTimeoutError()], ids=["refused at send", "delivery failed after retries"]
)
async def test_a_dispatch_is_handed_back_with_the_reason_when_kafka_does_not_take_it(outcome: object) -> None:
    direct, sent, refused = dispatcher(Producer({"2": outcome}))
    direct.take([ready("1"), ready("2"), ready("3")])
    await direct.stop()
    assert [dispatch.task_id for dispatch in sent] == ["1", "3"]  # one bad dispatch fails only itself
    assert [(dispatch.task_id, type(error)) for dispatch, error in refused] == [
        ("2", MessageSizeTooLargeError if outcome == "refuse" else KafkaTimeoutError)
    ]
