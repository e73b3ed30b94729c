"""Receiving events: decode, skip what a newer producer sent, dead-letter what nobody can use, carry on.

A handler calls ``await inbox.handle(message, on_event)``. Three things can happen to a message:
it decodes and ``on_event`` runs; it is a well-formed event of a type this consumer does not know, and it is
skipped with a log line; or it is undecodable, or ``on_event`` raised on it, and the original bytes go to the
dead-letter topic with the reason. Kafka errors while publishing are not the message's fault: they propagate,
so the subscriber's ack policy rewinds and the message is tried again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError
from faststream.kafka.message import KafkaMessage

from schemas.codec import UndecodableEvent, UnknownEvent, decode_event
from schemas.events import Event
from streams.catalogue import DEAD_LETTERS, Catalogue
from streams.outbox import RECORD_ERRORS, EventPublisher

log = logging.getLogger(__name__)
# What a dead letter keeps of a record too large to park whole.
DEAD_LETTER_HEAD_BYTES = 65_536


class Inbox:
    def __init__(self, publisher: EventPublisher, catalogue: Catalogue, *, consumer: str) -> None:
        self._publisher = publisher
        self._dead_letter_topic = catalogue.name(DEAD_LETTERS)
        self._consumer = consumer

    async def handle(
        self,
        message: KafkaMessage,
        on_event: Callable[[Any], Awaitable[None]],
        *,
        expect: tuple[type[Event], ...] = (Event,),
    ) -> Event | None:
        delivery = await self.decode(message, expect=expect)
        if delivery is None:
            return None
        try:
            await on_event(delivery.event)
        except KafkaError:
            raise
        except Exception as error:
            await self.reject(delivery, error)
        return delivery.event

    async def decode(self, message: KafkaMessage, *, expect: tuple[type[Event], ...] = (Event,)) -> Delivery | None:
        """The message's event, or None when it was dead-lettered or skipped (for handlers that defer the effect)."""
        return await self._decode(message.raw_message, message.body, expect)

    async def decode_record(self, record: Any, *, expect: tuple[type[Event], ...] = (Event,)) -> Delivery | None:
        """The same for a record read by a raw aiokafka consumer (services that consume in batches)."""
        return await self._decode(record, record.value or b"", expect)

    async def reject(self, delivery: Delivery, error: Exception) -> None:
        """Processing this event failed: park it in the dead-letter topic with the reason, and carry on."""
        log.error("%s could not process %s", self._consumer, _origin(delivery.record), exc_info=error)
        await self.dead_letter(delivery.record, delivery.body, f"{type(error).__name__}: {error}")

    async def _decode(self, record: Any, body: bytes, expect: tuple[type[Event], ...]) -> Delivery | None:
        try:
            event = decode_event(body)
        except UndecodableEvent as error:
            await self.dead_letter(record, body, f"undecodable: {error}")
            return None
        if isinstance(event, UnknownEvent):
            log.warning("%s skips event type %s it does not know (%s)", self._consumer, event.type, _origin(record))
            return None
        if not isinstance(event, expect):
            await self.dead_letter(record, body, f"unexpected event type {type(event).__name__} on this topic")
            return None
        return Delivery(event, record, body)

    async def dead_letter(self, record: Any, body: bytes, reason: str) -> None:
        log.error("%s dead-letters %s: %s", self._consumer, _origin(record), reason)
        key = getattr(record, "key", None)
        headers = {
            "reason": reason[:2000],
            "consumer": self._consumer,
            "topic": str(getattr(record, "topic", "")),
            "partition": str(getattr(record, "partition", "")),
            "offset": str(getattr(record, "offset", "")),
        }
        try:
            await self._publisher.publish_raw(self._dead_letter_topic, body, key=key, headers=headers)
        except RECORD_ERRORS:
            # A record that filled the size limit no longer fits with the headers: park its head, say so.
            headers["truncated-from-bytes"] = str(len(body))
            head = body[:DEAD_LETTER_HEAD_BYTES]
            await self._publisher.publish_raw(self._dead_letter_topic, head, key=key and key[:256], headers=headers)


@dataclass(frozen=True)
class Delivery:
    """A decoded event with the Kafka record it came in."""

    event: Any
    record: Any
    body: bytes

    @property
    def partition(self) -> int:
        return self.record.partition


def _origin(record: Any) -> str:
    return f"{getattr(record, 'topic', '?')}[{getattr(record, 'partition', '?')}]@{getattr(record, 'offset', '?')}"
