"""The executor service: stateless workers in one consumer group, many tasks in flight per process.

The handler only takes a slot and starts the task, so the next record is read while tools run. Offsets are
committed per partition up to the oldest task still in flight, never past it: a crash re-delivers exactly the
tasks that had not published a result (the planner deduplicates by run, task and attempt).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas import TaskReady
from services.executor.core.offsets import InFlightOffsets
from services.executor.core.perform import perform
from services.executor.settings import ExecutorSettings
from services.executor.tools.registry import ToolRegistry
from streams.broker import consumer_options
from streams.catalogue import TASKS_READY, Catalogue
from streams.inbox import Inbox
from streams.outbox import EventPublisher
from streams.rebalance import RebalanceHooks

log = logging.getLogger(__name__)


class Executor:
    def __init__(
        self,
        broker: KafkaBroker,
        catalogue: Catalogue,
        registry: ToolRegistry,
        settings: ExecutorSettings,
        *,
        name: str,
        now: Callable[[], datetime],
        on_fatal: Callable[[BaseException], None],
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._registry = registry
        self._settings = settings
        self._name = name
        self._now = now
        self._on_fatal = on_fatal
        self._publisher = EventPublisher(broker, catalogue, source=name)
        self._inbox = Inbox(self._publisher, catalogue, consumer=name)
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._offsets = InFlightOffsets()
        self._commit_lock = asyncio.Lock()
        # Commit points waiting for the next commit: many finishing tasks share one round trip.
        self._to_commit: dict[TopicPartition, int] = {}
        self._running: set[asyncio.Task[None]] = set()
        self.handled = 0
        broker.subscriber(
            catalogue.name(TASKS_READY),
            **consumer_options(settings.group_id, ack_policy=AckPolicy.MANUAL),
            listener=RebalanceHooks(on_revoked=self._forget, on_first_assignment=on_ready),
        )(self.on_task_ready)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def on_task_ready(self, body: bytes, message: KafkaMessage) -> None:
        await self._slots.acquire()
        record = message.raw_message
        partition = TopicPartition(record.topic, record.partition)
        self._offsets.started(partition, record.offset)
        task = asyncio.create_task(self._process(message, partition, record.offset))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _forget(self, revoked: set[TopicPartition]) -> None:
        for partition in revoked:
            self._offsets.forget(partition)
            self._to_commit.pop(partition, None)

    async def drain(self) -> None:
        """Let the tasks in flight finish and publish, up to the drain timeout."""
        if self._running:
            await asyncio.wait(list(self._running), timeout=self._settings.drain_timeout_s)

    async def _process(self, message: KafkaMessage, partition: TopicPartition, offset: int) -> None:
        try:
            await self._inbox.handle(message, self._run, expect=(TaskReady,))
        except KafkaError as error:
            # The result could not be published: leave the offset uncommitted and let a restart redeliver it.
            log.error("%s could not publish the result of %s@%d: %s", self._name, partition, offset, error)
            self._on_fatal(error)
            return
        finally:
            self._slots.release()
        self.handled += 1
        self._to_commit[partition] = self._offsets.finished(partition, offset)
        if self._commit_lock.locked():
            return  # the commit in progress is followed by one that includes this offset
        async with self._commit_lock:
            while self._to_commit:
                points, self._to_commit = self._to_commit, {}
                try:
                    await message.consumer.commit(points)
                except KafkaError as error:
                    # A partition moved to another executor; it redelivers what we had not committed.
                    log.warning("%s could not commit %s: %s", self._name, points, error)

    async def _run(self, task: TaskReady) -> None:
        turn, finished = await perform(
            task, self._registry, executor=self._name, now=self._now, max_text_bytes=self._settings.max_text_bytes
        )
        await self._publisher.publish_all([turn, finished])
