"""Publishing events: the catalogue picks the topic and key, the codec the bytes."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from faststream.kafka import KafkaBroker

from schemas.codec import encode_event, event_type_name
from schemas.events import Event
from streams.catalogue import Catalogue
from streams.tracing import run_context, trace_headers


class EventPublisher:
    def __init__(self, broker: KafkaBroker, catalogue: Catalogue, *, source: str) -> None:
        self._broker = broker
        self._catalogue = catalogue
        self.source = source

    async def publish(self, event: Event) -> None:
        await self.publish_all([event])

    async def publish_all(self, events: list[Event], *, raw: list[RawRecord] = ()) -> None:
        """Send everything, then wait for every acknowledgement: one round trip instead of one per event.

        Sends leave in order and the producer is idempotent, so events that share a key (a run's events) are
        stored in this order, retries included. ``raw`` records are sent first.
        """
        await self.send_all(events, raw=raw)

    async def send_all(self, events: list[Event], *, raw: list[RawRecord] = ()) -> Awaitable[None]:
        """Send everything and return, without waiting, what completes when every acknowledgement is in.

        For work that can go on while the broker acknowledges (an executor runs the tool after sending
        TaskStarted); await the result before anything that must come after these events.
        """
        pending = [
            await self._send(record.value, record.topic, record.key, record.headers, record.partition) for record in raw
        ]
        for event in events:
            topic, key = self._catalogue.route(event)
            headers = {"event-type": event_type_name(event), "source": self.source}
            with run_context(getattr(event, "run_id", None)):  # the run's trace, where no span is current
                pending.append(await self._send(encode_event(event), topic, key.encode(), headers))
        return asyncio.gather(*(ack for ack in pending if inspect.isawaitable(ack)))

    async def publish_raw(self, topic: str, value: bytes | None, *, key: bytes | None, headers: dict[str, str]) -> None:
        await self.publish_all([], raw=[RawRecord(topic, value, key, headers)])

    async def _send(
        self, value: bytes | None, topic: str, key: bytes | None, headers: dict[str, str], partition: int | None = None
    ) -> object:
        # no_confirm returns the delivery future instead of waiting for it.
        return await self._broker.publish(value, topic, key=key, headers=headers, partition=partition, no_confirm=True)


class RecordSender:
    """Events through a raw aiokafka producer (``streams.broker.event_producer``), for services that publish many
    events per batch: ``send`` returns the record's delivery future without waiting for it, so a batch's events are
    sent back to back and their acknowledgements awaited together. Topics, keys, headers and the trace context are
    the ones ``EventPublisher`` gives (``event_record``); the producer is idempotent, so a key's events are stored
    in the order they were sent. A record too large for the producer raises from ``send`` itself."""

    def __init__(self, producer: AIOKafkaProducer, catalogue: Catalogue, *, source: str) -> None:
        self._producer = producer
        self._catalogue = catalogue
        self.source = source

    async def send(self, event: Event) -> asyncio.Future[object]:
        record = event_record(self._catalogue, event, source=self.source)
        headers = [(name, value.encode()) for name, value in record.headers.items()]
        return await self._producer.send(record.topic, record.value, key=record.key, headers=headers)

    async def send_all(self, events: list[Event]) -> asyncio.Future[list[object]]:
        """Send every event; what is returned completes when every acknowledgement is in (or the first fails)."""
        return asyncio.gather(*[await self.send(event) for event in events])


def event_record(catalogue: Catalogue, event: Event, *, source: str) -> RawRecord:
    """An event as the record ``EventPublisher`` would send (topic, key, headers, the run's trace context), for
    producers outside FastStream (the planner's transactions, streams/transactions.py)."""
    topic, key = catalogue.route(event)
    with run_context(getattr(event, "run_id", None)):
        traced = trace_headers()
    headers = {"event-type": event_type_name(event), "source": source, **traced}
    return RawRecord(topic, encode_event(event), key.encode(), headers)


@dataclass(frozen=True)
class RawRecord:
    """Bytes for a topic outside the event catalogue's routing (the journal, the dead-letter topic)."""

    topic: str
    value: bytes | None
    key: bytes | None
    headers: dict[str, str] = field(default_factory=dict)
    # None: the key picks the partition. The journal sets it: its keys (run_id/seq) must land with the run's inputs.
    partition: int | None = None


# Errors about one record (it is too large for the producer or the topic), not about the connection: retrying
# cannot help, so the record's own task or event fails with the reason and the service carries on.
RECORD_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)


def is_record_error(error: BaseException) -> bool:
    """Whether publishing failed because of the record itself; False for errors of the connection or cluster."""
    return isinstance(error, RECORD_ERRORS) or not isinstance(error, KafkaError)
