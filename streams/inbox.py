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
from typing import Any

from aiokafka.errors import KafkaError
from faststream.kafka.message import KafkaMessage

from schemas.codec import UndecodableEvent, UnknownEvent, decode_event
from schemas.events import Event
from streams.catalogue import DEAD_LETTERS, Catalogue
from streams.outbox import EventPublisher

log = logging.getLogger(__name__)


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
        try:
            event = decode_event(message.body)
        except UndecodableEvent as error:
            await self.dead_letter(message, f"undecodable: {error}")
            return None
        if isinstance(event, UnknownEvent):
            log.warning("%s skips event type %s it does not know (%s)", self._consumer, event.type, _origin(message))
            return None
        if not isinstance(event, expect):
            await self.dead_letter(message, f"unexpected event type {type(event).__name__} on this topic")
            return None
        try:
            await on_event(event)
        except KafkaError:
            raise
        except Exception as error:  # noqa: BLE001 - the message goes to the DLQ with the reason; nothing is lost
            log.exception("%s could not process %s", self._consumer, _origin(message))
            await self.dead_letter(message, f"{type(error).__name__}: {error}")
        return event

    async def dead_letter(self, message: KafkaMessage, reason: str) -> None:
        record = message.raw_message
        log.error("%s dead-letters %s: %s", self._consumer, _origin(message), reason)
        await self._publisher.publish_raw(
            self._dead_letter_topic,
            message.body,
            key=getattr(record, "key", None),
            headers={
                "reason": reason[:2000],
                "consumer": self._consumer,
                "topic": str(getattr(record, "topic", "")),
                "partition": str(getattr(record, "partition", "")),
                "offset": str(getattr(record, "offset", "")),
            },
        )


def _origin(message: KafkaMessage) -> str:
    record = message.raw_message
    return f"{getattr(record, 'topic', '?')}[{getattr(record, 'partition', '?')}]@{getattr(record, 'offset', '?')}"
