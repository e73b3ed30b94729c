"""The executor service: stateless workers in one consumer group, many tasks in flight per process.

The handler only takes a slot and starts the task, so the next record is read while tools run. Offsets are
committed per partition up to the oldest task still in flight, never past it: a crash re-delivers exactly the
tasks that had not published a result (the planner deduplicates by run, task and attempt).

A record can only fail itself: whatever goes wrong with one task (its tool, its result, publishing that result)
ends that task with status error and a reason, and its offset is committed. The process exits only when Kafka
itself cannot be reached, and its supervisor restarts it.
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

from schemas import RunFinished, RunRejected, TaskFinished, TaskReady, TaskStarted, TurnRecorded
from schemas.codec import UndecodableEvent, decode_event
from services.executor.core.admission import FinishedRuns, skip_reason
from services.executor.core.limits import TaskLimits, clip_error
from services.executor.core.offsets import InFlightOffsets
from services.executor.core.perform import perform
from services.executor.metrics import observe_outcome, observed_attempt
from services.executor.settings import ExecutorSettings
from services.executor.tools.registry import ToolRegistry
from streams.blobs import BlobStore
from streams.broker import READ_COMMITTED, consumer_options, raw_body
from streams.catalogue import RUNS_FINISHED, TASKS_READY, Catalogue
from streams.inbox import Inbox
from streams.outbox import EventPublisher, is_record_error
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
        limits: TaskLimits | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self._registry = registry
        self._settings = settings
        self._limits = limits or TaskLimits()
        self._blobs = blobs
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
        self._finished_runs = FinishedRuns(settings.remember_finished_runs)
        self.handled = 0
        self.skipped = 0
        self.failed_to_publish = 0
        broker.subscriber(
            catalogue.name(TASKS_READY),
            **consumer_options(settings.group_id, ack_policy=AckPolicy.MANUAL),
            listener=RebalanceHooks(on_revoked=self._forget, on_first_assignment=on_ready),
        )(self.on_task_ready)
        # Every executor reads every partition of runs.finished, from its end and without a group: a run that
        # finishes (or is cancelled) from now on has its remaining tasks skipped here.
        broker.subscriber(
            catalogue.name(RUNS_FINISHED),
            group_id=None,
            auto_offset_reset="latest",
            ack_policy=AckPolicy.MANUAL,
            decoder=raw_body,
            # An aborted RunFinished (a fenced planner's) must not make this executor skip a live run's tasks.
            isolation_level=READ_COMMITTED,
        )(self.on_run_finished)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def stats(self) -> dict[str, int]:
        return {
            "in_flight": self.in_flight,
            "handled": self.handled,
            "skipped": self.skipped,
            "failed_to_publish": self.failed_to_publish,
            "finished_runs_known": len(self._finished_runs),
        }

    async def on_task_ready(self, body: bytes, message: KafkaMessage) -> None:
        await self._slots.acquire()
        record = message.raw_message
        partition = TopicPartition(record.topic, record.partition)
        self._offsets.started(partition, record.offset)
        task = asyncio.create_task(self._process(message, partition, record.offset))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def on_run_finished(self, body: bytes) -> None:
        try:
            event = decode_event(body)
        except UndecodableEvent:
            return  # the planner's and the clients' inboxes dead-letter it; nothing here depends on it
        if isinstance(event, RunFinished | RunRejected):
            self._finished_runs.add(event.run_id)

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
        except Exception as error:
            if not is_record_error(error):
                # The connection is to blame: leave the offset uncommitted and exit, so the supervisor restarts
                # us and the record is delivered again.
                log.error("%s lost Kafka while handling %s@%d: %r", self._name, partition, offset, error)
                self._on_fatal(error)
                return
            # Something about this one record that even its failure report could not get past: it fails alone,
            # and its offset is committed like any other (a redelivery would fail the same way, forever).
            log.exception("%s could not handle %s@%d; moving on", self._name, partition, offset)
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

    @observed_attempt  # the attempt's execute_tool span, queue time
    async def _run(self, task: TaskReady) -> None:
        reason = skip_reason(task, now=self._now(), finished_runs=self._finished_runs)
        if reason is not None:
            await self._skip(task, reason)
            return
        started = TaskStarted(
            run_id=task.run_id,
            task_id=task.task_id,
            attempt=task.attempt,
            executor=self._name,
            dispatched_at=task.occurred_at,
            source=self._name,
        )
        # Acknowledged while the tool runs; the result is published only after it (same key, so same order).
        started_acknowledged = await self._publisher.send_all([started])
        try:
            turns, finished = await perform(
                task,
                self._registry,
                executor=self._name,
                now=self._now,
                max_text_bytes=self._settings.max_text_bytes,
                limits=self._limits,
                blobs=self._blobs,
            )
        except Exception as error:
            # A bug outside the tool (the tool's own errors are already results): this task fails, not the process.
            log.exception("%s failed on %s/%s", self._name, task.run_id, task.task_id)
            turns, finished = [], self._failure(task, f"executor error: {type(error).__name__}: {error}")
        observe_outcome(turns, finished)
        await started_acknowledged
        try:
            await self._publisher.publish_all([*turns, finished])
        except Exception as error:
            if not is_record_error(error):
                raise
            # The result cannot travel (larger than Kafka takes, or not encodable): the task fails with the reason.
            self.failed_to_publish += 1
            log.warning("%s could not publish the result of %s/%s: %r", self._name, task.run_id, task.task_id, error)
            await self._publisher.publish(
                self._failure(task, f"result could not be published: {type(error).__name__}: {error}")
            )

    async def _skip(self, task: TaskReady, reason: str) -> None:
        # Visible as a turn with the reason; no TaskFinished, so the planner's view of the attempt is unchanged.
        self.skipped += 1
        log.info("%s skips %s/%s attempt %d: %s", self._name, task.run_id, task.task_id, task.attempt, reason)
        await self._publisher.publish(
            TurnRecorded(
                run_id=task.run_id,
                task_id=task.task_id,
                attempt=task.attempt,
                tool_name=task.tool,
                started_at=self._now(),
                status="error",
                error=f"skipped: {reason}",
                executor=self._name,
                source=self._name,
            )
        )

    def _failure(self, task: TaskReady, reason: str) -> TaskFinished:
        now = self._now()
        return TaskFinished(
            run_id=task.run_id,
            task_id=task.task_id,
            attempt=task.attempt,
            status="error",
            error=clip_error(reason, self._limits),
            retryable=False,
            started_at=now,
            finished_at=now,
            executor=self._name,
            source=self._name,
        )
