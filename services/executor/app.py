"""The executor service: stateless workers in one consumer group, many tasks in flight per process.

tasks.ready is read in batches by a raw aiokafka consumer (``getmany``: no per-message middleware). For each batch,
every record is decoded (a poison record is dead-lettered, alone), attempts that must not run are skipped, and the
batch's starts (TaskStarted) and skips are sent back to back and acknowledged together. Each attempt then runs as a
task of its own and publishes its turns and TaskFinished as soon as its tool is done, without waiting for the rest
of its batch. At most ``concurrency`` records are taken and not yet done.

The same call dispatched twice runs its tool once here (services/executor/core/repeats.py): a planner that dispatches
at least once and died before its journal committed sends some attempts again, and the executor that took the
first copy answers the repeat with the first copy's TaskStarted and, once done, its TaskFinished.

A record is done once what it caused is acknowledged by Kafka. Offsets are committed per partition up to the oldest
record not done, never past it, at most every ``commit_interval_s``: a crash re-delivers exactly the tasks that had
not published a result, and perhaps some that had (the planner deduplicates by run, task and attempt).

A record can only fail itself: whatever goes wrong with one task (its tool, its result, publishing that result)
ends that task with status error and a reason, and its offset is committed. The process exits only when Kafka
itself cannot be reached, and its supervisor restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from opentelemetry.trace import Span

from schemas import RunFinished, RunRejected, TaskFinished, TaskReady, TaskStarted, TurnRecorded
from schemas.codec import UndecodableEvent, decode_event
from schemas.events import Event
from services.executor.core.admission import FinishedRuns, skip_reason
from services.executor.core.limits import TaskLimits, clip_error
from services.executor.core.offsets import InFlightOffsets
from services.executor.core.perform import perform
from services.executor.core.repeats import Repeat, TakenAttempts
from services.executor.metrics import (
    attempt_span,
    observe_batch,
    observe_outcome,
    observe_overhead,
    observe_repeat,
    observe_start,
)
from services.executor.settings import ExecutorSettings
from services.executor.tools.registry import ToolRegistry
from services.runtime.health import tasks_running
from streams.blobs import BlobStore
from streams.broker import READ_COMMITTED, event_producer, group_consumer
from streams.catalogue import RUNS_FINISHED, TASKS_READY, Catalogue
from streams.connection import client_options
from streams.inbox import Inbox
from streams.outbox import EventPublisher, RecordSender, is_record_error
from streams.rebalance import RebalanceHooks
from streams.settings import KafkaSettings
from streams.tracing import context_from_headers

log = logging.getLogger(__name__)
POLL_TIMEOUT_MS = 100  # how long a stop waits for the poll in progress


@dataclass(frozen=True)
class Taken:
    """Where a record came from, and under which assignment of its partition (a revoked one is not ours to commit)."""

    partition: TopicPartition
    offset: int
    generation: int


@dataclass(frozen=True)
class Attempt:
    task: TaskReady
    taken: Taken
    span: Span
    taken_at: float  # perf_counter when its batch came from Kafka


class Executor:
    def __init__(
        self,
        broker: KafkaBroker,
        catalogue: Catalogue,
        registry: ToolRegistry,
        settings: ExecutorSettings,
        *,
        bootstrap: str,
        name: str,
        now: Callable[[], datetime],
        on_fatal: Callable[[BaseException], None],
        on_ready: Callable[[], Awaitable[None]] | None = None,
        limits: TaskLimits | None = None,
        blobs: BlobStore | None = None,
        kafka: KafkaSettings | None = None,
    ) -> None:
        self._catalogue = catalogue
        self._registry = registry
        self._settings = settings
        self._bootstrap = bootstrap
        self._kafka = kafka or KafkaSettings()
        self._limits = limits or TaskLimits()
        self._blobs = blobs
        self._name = name
        self._now = now
        self._on_fatal = on_fatal
        self._on_ready = on_ready
        # Dead letters (rare) go through the broker; tasks' events through a raw producer, a batch at a time.
        self._inbox = Inbox(EventPublisher(broker, catalogue, source=name), catalogue, consumer=name)
        self._producer: AIOKafkaProducer | None = None
        self._sender: RecordSender | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._consuming: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._taken = 0  # records taken from Kafka and not yet done
        self._room = asyncio.Event()  # set while fewer than ``concurrency`` records are taken
        self._room.set()
        self._offsets = InFlightOffsets()
        self._generations: dict[TopicPartition, int] = {}
        # Commit points waiting for the next commit: many finishing tasks share one round trip.
        self._to_commit: dict[TopicPartition, int] = {}
        self._committing: asyncio.Task[None] | None = None
        self._commit_lock = asyncio.Lock()
        self._running: set[asyncio.Task[None]] = set()
        self._finished_runs = FinishedRuns(settings.remember_finished_runs)
        self._taken_attempts = TakenAttempts(settings.remember_attempts_bytes)
        self.handled = 0
        self.skipped = 0
        self.repeats = 0
        self.failed_to_publish = 0
        self.batches = 0
        self.largest_batch = 0
        self._runs_finished: AIOKafkaConsumer | None = None
        self._watching: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        return len(self._running)

    @property
    def commit_pending(self) -> bool:
        """Whether a commit point is computed and not yet committed (or being committed)."""
        return bool(self._to_commit) or (self._committing is not None and not self._committing.done())

    def stats(self) -> dict[str, int]:
        return {
            "in_flight": self.in_flight,
            "handled": self.handled,
            "skipped": self.skipped,
            "repeats_answered": self.repeats,
            "attempts_known": len(self._taken_attempts),
            "failed_to_publish": self.failed_to_publish,
            "finished_runs_known": len(self._finished_runs),
            "batches": self.batches,
            "largest_batch": self.largest_batch,
        }

    def consuming(self) -> bool:
        """For /healthz: the consume loop runs (it ends only on stop or when Kafka is lost). Before it starts, the
        heartbeat itself says the service is not consuming yet."""
        return self._consuming is None or tasks_running(self._consuming, self._watching)

    async def start(self) -> None:
        # Every executor reads every partition of runs.finished, from its end and without a group: a run that
        # finishes (or is cancelled) from now on has its remaining tasks skipped here. read_committed: an aborted
        # RunFinished (a fenced planner's) must not make this executor skip a live run's tasks.
        self._runs_finished = AIOKafkaConsumer(
            **client_options(self._bootstrap),
            client_id=self._name,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            isolation_level=READ_COMMITTED,
        )
        self._runs_finished.subscribe([self._catalogue.name(RUNS_FINISHED)])
        await self._runs_finished.start()
        self._watching = asyncio.create_task(self._watch_runs_finished())
        self._producer = event_producer(self._kafka, self._bootstrap, client_id=self._name)
        await self._producer.start()
        self._sender = RecordSender(self._producer, self._catalogue, source=self._name)
        self._consumer = group_consumer(self._bootstrap, self._settings.group_id, client_id=self._name)
        self._consumer.subscribe(
            [self._catalogue.name(TASKS_READY)],
            listener=RebalanceHooks(on_revoked=self._release, on_first_assignment=self._on_ready),
        )
        await self._consumer.start()
        self._consuming = asyncio.create_task(self._consume())

    async def stop(self) -> None:
        """Take no more records, let the tasks in flight finish and publish (up to the drain timeout), commit what
        is done, leave the group. Stopping twice does nothing more."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._room.set()  # a loop waiting for room sees the stop
        try:
            for loop in (self._consuming, self._watching):
                if loop is not None:
                    await loop
            await self.drain()
            for unfinished in list(self._running):
                unfinished.cancel()  # their offsets stay uncommitted: the group's next owner runs them again
            await asyncio.gather(*self._running, return_exceptions=True)
            if self._committing is not None:
                await self._committing  # at most one commit interval away
            if self._consumer is not None:
                await self._commit_due()
        finally:
            for client in (self._consumer, self._producer):
                if client is not None:
                    await client.stop()
            if self._runs_finished is not None:
                # aiokafka raises CancelledError when stopping a consumer that has no group (as streams/reading.py).
                with contextlib.suppress(asyncio.CancelledError):
                    await self._runs_finished.stop()

    async def drain(self) -> None:
        """Let the tasks in flight finish and publish, up to the drain timeout."""
        if self._running:
            await asyncio.wait(list(self._running), timeout=self._settings.drain_timeout_s)

    def on_run_finished(self, body: bytes | None) -> None:
        try:
            event = decode_event(body or b"")
        except UndecodableEvent:
            return  # the planner's and the clients' inboxes dead-letter it; nothing here depends on it
        if isinstance(event, RunFinished | RunRejected):
            self._finished_runs.add(event.run_id)

    async def _watch_runs_finished(self) -> None:
        assert self._runs_finished is not None
        try:
            while not self._stopping.is_set():
                polled = await self._runs_finished.getmany(timeout_ms=POLL_TIMEOUT_MS)
                for records in polled.values():
                    for record in records:
                        self.on_run_finished(record.value)
        except Exception as error:
            log.error("%s lost Kafka while reading runs.finished: %r", self._name, error)
            self._on_fatal(error)

    async def _consume(self) -> None:
        assert self._consumer is not None
        try:
            while not self._stopping.is_set():
                await self._room.wait()
                if self._stopping.is_set():
                    break
                polled = await self._consumer.getmany(
                    timeout_ms=POLL_TIMEOUT_MS, max_records=self._settings.concurrency - self._taken
                )
                if polled:
                    await self._take(polled)
        except Exception as error:
            # The connection is to blame: what was taken and not done stays uncommitted, and the supervisor
            # restarts us so the records are delivered again.
            log.error("%s lost Kafka while consuming: %r", self._name, error)
            self._on_fatal(error)

    async def _take(self, polled: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Decode a batch, skip what must not run, send the starts and skips together, start the attempts."""
        taken_at = time.perf_counter()
        records = [(partition, record) for partition, records in polled.items() for record in records]
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(records))
        observe_batch(len(records))
        self._taken += len(records)
        if self._taken >= self._settings.concurrency:
            self._room.clear()
        for partition, record in records:
            self._offsets.started(partition, record.offset)

        attempts: list[Attempt] = []
        starts: list[tuple[Span, Event]] = []
        skips: list[tuple[Taken, Span, list[Event]]] = []  # records that must not run, and what is sent instead
        for partition, record in records:
            taken = Taken(partition, record.offset, self._generations.get(partition, 0))
            task = await self._decode(record)
            if task is None:
                self._done(taken)
                continue
            span = attempt_span(task, context_from_headers(record.headers))
            reason = skip_reason(task, now=self._now(), finished_runs=self._finished_runs)
            if reason is not None:
                skips.append((taken, span, [self._skip_turn(task, reason)]))
            elif (repeat := self._taken_attempts.repeat_of(task)) is not None:
                skips.append((taken, span, self._answer_repeat(task, repeat)))
            else:
                attempts.append(Attempt(task, taken, span, taken_at))
                starts.append((span, started := self._started(task)))
                self._taken_attempts.started(task, started)  # a second copy in this very batch is a repeat too

        answers = [(span, event) for _, span, events in skips for event in events]
        sent = await self._send_in_spans([*starts, *answers])
        for _, span, _ in skips:
            span.end()
        if skips:
            self._spawn(self._settle_skips(sent, [taken for taken, _, _ in skips]))
        for attempt in attempts:
            self._spawn(self._run(attempt, sent))

    async def _decode(self, record: ConsumerRecord) -> TaskReady | None:
        """The record's task, or None when it was dead-lettered (poison) or skipped (a type this executor does not
        know, a tombstone)."""
        try:
            delivery = await self._inbox.decode_record(record, expect=(TaskReady,))
        except Exception as error:
            if not is_record_error(error):
                raise
            # Something about this one record that even its dead letter could not get past: it fails alone, and
            # its offset is committed like any other (a redelivery would fail the same way, forever).
            log.exception("%s could not handle %s[%d]@%d; moving on", self._name, *_origin(record))
            return None
        return None if delivery is None else delivery.event

    def _started(self, task: TaskReady) -> TaskStarted:
        observe_start(task)
        return TaskStarted(
            run_id=task.run_id,
            task_id=task.task_id,
            attempt=task.attempt,
            executor=self._name,
            dispatched_at=task.occurred_at,
            source=self._name,
        )

    async def _send_in_spans(self, events: list[tuple[Span, Event]]) -> asyncio.Future[list[object]]:
        """Send each event in its attempt's span (its trace context travels in the headers); what is returned
        completes when Kafka has acknowledged them all."""
        assert self._sender is not None
        pending = []
        for span, event in events:
            with trace.use_span(span):
                try:
                    pending.append(await self._sender.send(event))
                except Exception as error:
                    if not is_record_error(error):
                        raise
                    # Only a task whose ids fill a whole record gets here: it runs without its start being announced.
                    log.warning("%s could not send %s of %s: %r", self._name, type(event).__name__, event.run_id, error)
        return asyncio.gather(*pending)

    async def _settle_skips(self, sent: Awaitable[object], skipped: list[Taken]) -> None:
        try:
            await sent
        except Exception as error:
            self._lost_kafka(error, "publishing skips", *skipped)
            return
        for taken in skipped:
            self._done(taken)

    async def _run(self, attempt: Attempt, starts_sent: Awaitable[object]) -> None:
        task = attempt.task
        try:
            with trace.use_span(attempt.span, end_on_exit=True):
                start_s = time.perf_counter() - attempt.taken_at
                turns, finished = await self._perform(task)
                observe_outcome(turns, finished)
                tool_done = time.perf_counter()
                # The result goes out after the start is acknowledged (the same key keeps them in order anyway).
                await starts_sent
                await self._publish_result(task, turns, finished)
                observe_overhead(start_s=start_s, publish_s=time.perf_counter() - tool_done)
        except Exception as error:
            if not is_record_error(error):
                self._lost_kafka(error, f"handling {task.run_id}/{task.task_id}", attempt.taken)
                return
            log.exception("%s could not handle %s/%s; moving on", self._name, task.run_id, task.task_id)
        self._done(attempt.taken)

    async def _perform(self, task: TaskReady) -> tuple[list[TurnRecorded], TaskFinished]:
        try:
            return await perform(
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
            return [], self._failure(task, f"executor error: {type(error).__name__}: {error}")

    async def _publish_result(self, task: TaskReady, turns: list[TurnRecorded], finished: TaskFinished) -> None:
        assert self._sender is not None
        try:
            await (await self._sender.send_all([*turns, finished]))
        except Exception as error:
            if not is_record_error(error):
                raise
            # The result cannot travel (larger than Kafka takes, or not encodable): the task fails with the reason.
            self.failed_to_publish += 1
            log.warning("%s could not publish the result of %s/%s: %r", self._name, task.run_id, task.task_id, error)
            finished = self._failure(task, f"result could not be published: {type(error).__name__}: {error}")
            await (await self._sender.send_all([finished]))
        self._taken_attempts.finished(finished)

    def _spawn(self, work: Awaitable[None]) -> None:
        running = asyncio.ensure_future(work)
        self._running.add(running)
        running.add_done_callback(self._running.discard)

    def _lost_kafka(self, error: BaseException, doing: str, *abandoned: Taken) -> None:
        # The connection is to blame: leave the offsets uncommitted (the commit point stays below them) and exit, so
        # the supervisor restarts us and the records are delivered again. Their room is given back meanwhile.
        log.error("%s lost Kafka while %s: %r", self._name, doing, error)
        self._taken -= len(abandoned)
        if self._taken < self._settings.concurrency:
            self._room.set()
        self._on_fatal(error)

    def _done(self, taken: Taken) -> None:
        """Everything the record caused is acknowledged: move its partition's commit point if it can move."""
        self.handled += 1
        self._taken -= 1
        if self._taken < self._settings.concurrency:
            self._room.set()
        if self._generations.get(taken.partition, 0) != taken.generation:
            return  # the partition was revoked since: its new owner commits it
        self._to_commit[taken.partition] = self._offsets.finished(taken.partition, taken.offset)
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit_soon())

    async def _commit_soon(self) -> None:
        await asyncio.sleep(self._settings.commit_interval_s)  # the commit points of many tasks in one round trip
        await self._commit_due()

    async def _commit_due(self, partitions: set[TopicPartition] | None = None) -> None:
        """Commit the points waiting (only those of ``partitions``, when given)."""
        assert self._consumer is not None
        async with self._commit_lock:
            while due := {tp: point for tp, point in self._to_commit.items() if partitions is None or tp in partitions}:
                for partition in due:
                    del self._to_commit[partition]
                try:
                    await self._consumer.commit(due)
                except KafkaError as error:
                    # A partition moved to another executor; it redelivers what we had not committed.
                    log.warning("%s could not commit %s: %s", self._name, due, error)

    async def _release(self, revoked: set[TopicPartition]) -> None:
        """Partitions leave: commit what is done of them while they are still ours, then forget them. Their tasks
        still in flight finish and publish; their new owner runs them again (the planner drops the repeats)."""
        await self._commit_due(revoked)
        for partition in revoked:
            self._offsets.forget(partition)
            self._generations[partition] = self._generations.get(partition, 0) + 1

    def _answer_repeat(self, task: TaskReady, repeat: Repeat) -> list[Event]:
        """A repeated dispatch of a call taken here: its first copy's start and result (once there is one) go out
        again, with a turn that says so; the tool is not called."""
        self.repeats += 1
        observe_repeat(finished=repeat.finished is not None)
        answer = "its start and result" if repeat.finished is not None else "its start (it is still running)"
        turn = self._skip_turn(
            task, f"attempt {task.attempt} was dispatched again; this executor took it already and sends {answer} again"
        )
        return [turn, repeat.started, *([repeat.finished] if repeat.finished is not None else [])]

    def _skip_turn(self, task: TaskReady, reason: str) -> TurnRecorded:
        # Visible as a turn with the reason; no TaskFinished, so the planner's view of the attempt is unchanged.
        self.skipped += 1
        log.info("%s skips %s/%s attempt %d: %s", self._name, task.run_id, task.task_id, task.attempt, reason)
        return TurnRecorded(
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


def _origin(record: ConsumerRecord) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset
