"""Publishing events: the catalogue picks the topic and key, the codec the bytes."""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field

from faststream.kafka import KafkaBroker

from schemas.codec import encode_event, event_type_name
from schemas.events import Event
from streams.catalogue import Catalogue


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
        pending = [await self._send(record.value, record.topic, record.key, record.headers) for record in raw]
        for event in events:
            topic, key = self._catalogue.route(event)
            headers = {"event-type": event_type_name(event), "source": self.source}
            pending.append(await self._send(encode_event(event), topic, key.encode(), headers))
        await asyncio.gather(*(ack for ack in pending if inspect.isawaitable(ack)))

    async def publish_raw(self, topic: str, value: bytes | None, *, key: bytes | None, headers: dict[str, str]) -> None:
        await self.publish_all([], raw=[RawRecord(topic, value, key, headers)])

    async def _send(self, value: bytes | None, topic: str, key: bytes | None, headers: dict[str, str]) -> object:
        # no_confirm returns the delivery future instead of waiting for it.
        return await self._broker.publish(value, topic, key=key, headers=headers, no_confirm=True)


@dataclass(frozen=True)
class RawRecord:
    """Bytes for a topic outside the event catalogue's routing (the journal, the dead-letter topic)."""

    topic: str
    value: bytes | None
    key: bytes | None
    headers: dict[str, str] = field(default_factory=dict)
