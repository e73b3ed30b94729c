"""Reading what services publish, for tests: every record of some topics from the beginning, waited on by predicate."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer

from schemas.codec import UndecodableEvent, decode_event


@dataclass(frozen=True)
class Seen:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    event: Any  # the decoded event, or None when the bytes are not one


class Tail:
    def __init__(self) -> None:
        self.records: list[Seen] = []
        self._changed = asyncio.Condition()

    def events(self, topic: str | None = None, kind: type | None = None) -> list[Any]:
        return [
            seen.event
            for seen in self.records
            if (topic is None or seen.topic == topic) and (kind is None or isinstance(seen.event, kind))
        ]

    def on(self, topic: str) -> list[Seen]:
        return [seen for seen in self.records if seen.topic == topic]

    async def wait_for(self, condition: Callable[[], Any], timeout_s: float, what: str = "condition") -> Any:
        """Wait until ``condition()`` is truthy (checked on every new record); fail after ``timeout_s``."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(condition), timeout_s)
            except TimeoutError:
                raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}") from None
        return condition()

    async def _add(self, record: Any) -> None:
        try:
            event = decode_event(record.value) if record.value is not None else None
        except UndecodableEvent:
            event = None
        headers = {key: value for key, value in (record.headers or ())}
        seen = Seen(record.topic, record.partition, record.offset, record.key, record.value, headers, event)
        async with self._changed:
            self.records.append(seen)
            self._changed.notify_all()


@contextlib.asynccontextmanager
async def tailing(bootstrap: str, *topics: str) -> AsyncIterator[Tail]:
    tail = Tail()
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()

    async def pump() -> None:
        async for record in consumer:
            await tail._add(record)

    reader = asyncio.create_task(pump())
    try:
        yield tail
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()
