"""Every event type through a real Apache Kafka broker: produce, consume in a group, commit, restart, resume."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas import Event, RunRequested, encode_event
from streams.broker import consumer_options, make_broker
from streams.catalogue import DEAD_LETTERS, RUNS_REQUESTED, Catalogue
from streams.inbox import Inbox
from streams.outbox import EventPublisher
from streams.settings import KafkaSettings
from tests.support.samples import one_of_each

pytestmark = pytest.mark.kafka
WAIT_S = 30


class Collector:
    """Consumes every event topic in one group and lets a test wait for a number of events."""

    def __init__(self, bootstrap: str, catalogue: Catalogue, group_id: str) -> None:
        self.broker = make_broker(KafkaSettings(), bootstrap, client_id=group_id)
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        inbox = Inbox(EventPublisher(self.broker, catalogue, source=group_id), catalogue, consumer=group_id)

        @self.broker.subscriber(*catalogue.event_topics(), **consumer_options(group_id))
        async def on_any_event(body: bytes, message: KafkaMessage) -> None:
            await inbox.handle(message, self._record)

    async def _record(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, count: int) -> list[Event]:
        async with asyncio.timeout(WAIT_S):
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.events


async def publish(bootstrap: str, catalogue: Catalogue, events: list[Event]) -> None:
    broker = make_broker(KafkaSettings(), bootstrap, client_id="producer")
    async with broker:
        await EventPublisher(broker, catalogue, source="test").publish_all(events)


async def test_consumer_resumes_at_committed_offset_when_restarted(kafka_bootstrap: str, catalogue: Catalogue) -> None:
    first, second = one_of_each("run-a"), one_of_each("run-b")
    group = f"roundtrip-{uuid.uuid4().hex[:6]}"

    await publish(kafka_bootstrap, catalogue, first)
    collector = Collector(kafka_bootstrap, catalogue, group)
    async with collector.broker:
        await collector.broker.start()
        received = await collector.wait_for(len(first))
    assert sorted(received, key=lambda e: e.event_id) == sorted(first, key=lambda e: e.event_id)

    await publish(kafka_bootstrap, catalogue, second)
    restarted = Collector(kafka_bootstrap, catalogue, group)
    async with restarted.broker:
        await restarted.broker.start()
        # A redelivered event sits below the new ones in its partition, so it would arrive among the first.
        resumed = await restarted.wait_for(len(second))
    assert {event.event_id for event in resumed} == {event.event_id for event in second}


async def test_undecodable_bytes_reach_dead_letter_topic_and_consumer_carries_on(
    kafka_bootstrap: str, catalogue: Catalogue
) -> None:
    group = f"dlq-{uuid.uuid4().hex[:6]}"
    collector = Collector(kafka_bootstrap, catalogue, group)
    dead_letters: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()
    reader = KafkaBroker(kafka_bootstrap, logger=None)

    @reader.subscriber(catalogue.name(DEAD_LETTERS), **consumer_options(f"{group}-reader"))
    async def on_dead_letter(body: bytes, message: KafkaMessage) -> None:
        await dead_letters.put((body, message.headers))

    producer = KafkaBroker(kafka_bootstrap, logger=None)
    async with producer, collector.broker, reader:
        await producer.publish(b"{not json", catalogue.name(RUNS_REQUESTED), key=b"run-x")
        await producer.publish(encode_event(RunRequested(run_id="run-y", query="q")), catalogue.name(RUNS_REQUESTED))
        await collector.broker.start()
        await reader.start()
        body, headers = await asyncio.wait_for(dead_letters.get(), WAIT_S)
        received = await collector.wait_for(1)
    assert body == b"{not json"
    assert headers["reason"].startswith("undecodable: not JSON")
    assert headers["topic"] == catalogue.name(RUNS_REQUESTED) and headers["offset"] == "0"
    assert [event.run_id for event in received] == ["run-y"]
