"""Publishing events: the catalogue picks the topic and key, the codec the bytes."""

from __future__ import annotations

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
        topic, key = self._catalogue.route(event)
        await self._broker.publish(
            encode_event(event),
            topic,
            key=key.encode(),
            headers={"event-type": event_type_name(event), "source": self.source},
        )

    async def publish_all(self, events: list[Event]) -> None:
        # In order: a run's events share a key and a partition, so consumers see them in this order.
        for event in events:
            await self.publish(event)

    async def publish_raw(self, topic: str, value: bytes | None, *, key: bytes | None, headers: dict[str, str]) -> None:
        await self._broker.publish(value, topic, key=key, headers=headers)
