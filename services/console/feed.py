"""The live feed: every event topic of the catalogue read without a consumer group, folded into the board.

At start it reads from ``lookback_s`` ago (by timestamp), so runs already going appear whole; after a lost
connection it resumes where it stopped. Text fields are scrubbed as the warehouse scrubs them before storing, so a
live run shows what its stored form will show. While Kafka cannot be reached, ``status`` says so (the pages show
it) and the feed retries. Reads wait for a batch of events (``batch_wait_ms`` at most), so the console wakes about
ten times a second under load, not once per event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiokafka import TopicPartition

from schemas import UndecodableEvent, UnknownEvent, decode_event
from services.console.core.board import Board
from services.console.hub import Hub
from streams.broker import TRAILING_READER
from streams.catalogue import Catalogue
from streams.reading import groupless_consumer, topic_partitions

log = logging.getLogger(__name__)
RETRY_S = (0.5, 1.0, 2.0, 5.0)


class LiveFeed:
    def __init__(
        self,
        bootstrap: str,
        catalogue: Catalogue,
        board: Board,
        hub: Hub,
        scrubber: Any,
        *,
        lookback_s: float,
        batch_wait_ms: int,
        now: Callable[[], datetime],
    ) -> None:
        self._bootstrap = bootstrap
        self._catalogue = catalogue
        self._board = board
        self._hub = hub
        self._scrubber = scrubber
        self._lookback = timedelta(seconds=lookback_s)
        self._batch_wait_ms = batch_wait_ms
        self._now = now
        self._positions: dict[TopicPartition, int] = {}
        self.connected = False
        self.status = f"connecting to Kafka at {bootstrap}"
        self.events = 0

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure of the connection: say so on the pages, then retry
                self.connected = False
                status = f"cannot read events from Kafka at {self._bootstrap}: {error or type(error).__name__}"
                if status != self.status:  # one line per kind of failure, not one per retry
                    log.warning("live feed: %s", status)
                self.status = status
                await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
                failures += 1

    async def _consume(self) -> None:
        partitions = [
            partition
            for topic in self._catalogue.event_topics()
            for partition in await topic_partitions(self._bootstrap, topic)
        ]
        # The console shares the CPU (and the broker) with the dispatch path: each wake-up per event took a turn
        # from the hops in flight (docs/BENCHMARKS.md, fifth pass).
        fetch = {**TRAILING_READER, "fetch_max_wait_ms": self._batch_wait_ms} if self._batch_wait_ms else {}
        async with groupless_consumer(self._bootstrap, **fetch) as consumer:
            consumer.assign(partitions)
            await self._seek(consumer, partitions)
            self.connected, self.status = True, "live"
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
                changed: set[str] = set()
                for partition, records in batches.items():
                    for record in records:
                        run_id = self._apply(record.value)
                        if run_id is not None:
                            changed.add(run_id)
                    self._positions[partition] = records[-1].offset + 1
                if changed:
                    self._hub.notify(changed)

    async def _seek(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        since_ms = int((self._now() - self._lookback).timestamp() * 1000)
        fresh = [partition for partition in partitions if partition not in self._positions]
        # Where each partition ends is asked first: a partition with nothing since ``since_ms`` is then read from
        # that end, and whatever is sent after it is read too (sent before the search by time, it is found by it).
        # seek_to_end would settle the position only at the first fetch, skipping what was sent in between.
        ends = await consumer.end_offsets(fresh) if fresh else {}
        found = await consumer.offsets_for_times(dict.fromkeys(fresh, since_ms)) if fresh else {}
        for partition in partitions:
            if partition in self._positions:
                consumer.seek(partition, self._positions[partition])
            elif found.get(partition) is not None:
                consumer.seek(partition, found[partition].offset)
            else:
                consumer.seek(partition, ends[partition])

    def _apply(self, value: bytes | None) -> str | None:
        try:
            event = decode_event(value or b"")
        except UndecodableEvent:
            return None  # the services dead-letter it; the console only reads
        if isinstance(event, UnknownEvent):
            return None
        self.events += 1
        return self._board.apply(self._scrubber.event(event))
