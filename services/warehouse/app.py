"""The warehouse service: every event topic, in its own consumer group, into DuckDB exactly once.

Why a plain aiokafka consumer rather than a FastStream subscriber: the offsets live in DuckDB, so on every
assignment each partition must be sought to the stored offset before anything is read from it, and a batch is cut
by size and time across many polls. A `getmany` loop that owns its consumer makes both explicit; a subscriber
hands over one message (or one poll) at a time and keeps positions itself. The service is still a FastStream app:
its broker publishes dead letters, and its lifespan starts and stops this loop (see bootstrap.py).

Exactly-once: a batch's rows and the offsets just past it commit in one DuckDB transaction; on assignment every
partition resumes at its stored offset (or at the beginning when none is stored). Kafka's committed offsets are
written afterwards for lag tools only and never read, so a crash between the two commits changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import date

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.runtime.health import tasks_running
from services.warehouse.core.batch import Batch, Partition
from services.warehouse.core.prepare import PreparedBatch
from services.warehouse.settings import WarehouseSettings
from services.warehouse.snapshots import Snapshots
from services.warehouse.store import WarehouseStore
from services.warehouse.writer import BatchWriter
from streams.broker import TRAILING_READER, group_consumer
from streams.catalogue import Catalogue
from streams.inbox import Inbox
from streams.rebalance import RebalanceHooks

log = logging.getLogger(__name__)
POLL_TIMEOUT_MS = 100  # how late a due batch can be written when no records arrive
SNAPSHOT_SHARE = 0.2  # snapshots never take more than this share of the time


class Warehouse:
    def __init__(
        self,
        *,
        bootstrap: str,
        catalogue: Catalogue,
        settings: WarehouseSettings,
        store: WarehouseStore,
        writer: BatchWriter,
        inbox: Inbox,
        name: str,
        on_fatal: Callable[[BaseException], None],
        on_ready: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bootstrap = bootstrap
        self._topics = catalogue.event_topics()
        self._settings = settings
        self._store = store
        self._writer = writer
        self._inbox = inbox
        self._name = name
        self._on_fatal = on_fatal
        self._on_ready = on_ready
        self._clock = clock
        self._batch = Batch()
        # The batch handed to the preparer and not yet to the database: consuming goes on while it is prepared.
        self._preparing: asyncio.Future[PreparedBatch] | None = None
        # Held while a batch is taken and handed over, and by rebalance hooks: a hook never sees half of that.
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._consuming: asyncio.Task[None] | None = None
        self._snapshotting: asyncio.Task[None] | None = None
        self._snapshots = Snapshots(settings.snapshot_dir)
        self._stopped = asyncio.Event()
        self._failed = False  # a batch could not be written: nothing more is written, the process exits
        self._kafka_committed: dict[Partition, int] = {}
        self.dead_letters = 0
        self.snapshot_files = 0

    def figures(self) -> dict[str, object]:
        """For the heartbeat (`genesis status`)."""
        return {
            "events": self._writer.events,
            "repeated": self._writer.repeated,
            "dead_letters": self.dead_letters,
            "snapshot_files": self.snapshot_files,
            "pii_replaced": self._writer.pii_replaced,
        }

    def lag(self) -> dict[str, int]:
        """Per topic, the events Kafka holds past what is stored (as of the consumer's last fetch), for metrics."""
        lag: dict[str, int] = {}
        if self._consumer is None:
            return lag
        stored = self._writer.stored_offsets
        for partition in list(self._consumer.assignment()):
            high = self._consumer.highwater(partition)
            done = stored.get((partition.topic, partition.partition))
            if high is not None and done is not None:  # both known once a batch of the partition is stored
                lag[partition.topic] = lag.get(partition.topic, 0) + max(0, high - done)
        return lag

    def loops_running(self) -> bool:
        """For /healthz: consuming and snapshotting go on (both end only on stop or a failed batch)."""
        return not self._failed and tasks_running(self._consuming, self._snapshotting)

    async def start(self) -> None:
        await self._writer.start()
        self._consumer = group_consumer(
            self._bootstrap, self._settings.group_id, client_id=self._name, **TRAILING_READER
        )
        self._consumer.subscribe(
            self._topics,
            listener=RebalanceHooks(
                on_assigned=self._resume_from_stored, on_revoked=self._release, on_first_assignment=self._on_ready
            ),
        )
        await self._consumer.start()
        self._consuming = asyncio.create_task(self._consume())
        self._snapshotting = asyncio.create_task(self._snapshot_loop())

    async def stop(self) -> None:
        """Write what was consumed, take a last snapshot, leave the group."""
        self._stopped.set()
        if self._consuming is not None:
            await self._consuming
        if self._snapshotting is not None:
            await self._snapshotting  # a snapshot being written is finished, not cancelled: its thread holds a cursor
        try:
            if not self._failed:
                async with self._lock:
                    await self._flush()
                    await self._hand_over_prepared()
                await self._writer.settled()
                await self._snapshot(self._writer.take_touched())
        finally:
            if self._consumer is not None:
                await self._consumer.stop()
            await self._writer.close()

    async def _consume(self) -> None:
        assert self._consumer is not None
        try:
            while not self._stopped.is_set():
                records = await self._consumer.getmany(
                    timeout_ms=POLL_TIMEOUT_MS, max_records=self._settings.batch_max_events
                )
                async with self._lock:
                    now = self._clock()
                    for partition_records in records.values():
                        for record in partition_records:
                            self._batch.add(record, now)
                    if self._batch.due(
                        now, max_events=self._settings.batch_max_events, max_wait_s=self._settings.batch_max_wait_s
                    ):
                        await self._flush()
                    elif self._preparing is not None and self._preparing.done():
                        await self._hand_over_prepared()
                    await self._writer.collect()
                await self._commit_to_kafka()
        except Exception as error:
            self._fail(error)

    async def _flush(self) -> None:
        """Hand the current batch to the preparer, after the one it is preparing goes to the database (call with
        the lock held). Batches reach the database in the order they were taken."""
        batch, self._batch = self._batch, Batch()
        await self._hand_over_prepared()
        if not batch.is_empty:
            self._preparing = asyncio.ensure_future(self._writer.prepare(batch))

    async def _hand_over_prepared(self) -> None:
        """The batch being prepared, once it is, to the database (call with the lock held). Dead letters are
        published before the commit that stores offsets past them: a crash can repeat one, never lose one."""
        if self._preparing is None:
            return
        preparing, self._preparing = self._preparing, None
        prepared = await preparing
        for letter in prepared.dead_letters:
            await self._inbox.dead_letter(letter.record, letter.record.value, letter.reason)
        self.dead_letters += len(prepared.dead_letters)
        await self._writer.commit(prepared)

    async def _commit_to_kafka(self) -> None:
        """Tell Kafka how far the warehouse got, for lag tools; never read back, so failures only log."""
        assert self._consumer is not None
        assigned = self._consumer.assignment()
        due = {
            TopicPartition(topic, partition): offset
            for (topic, partition), offset in self._writer.stored_offsets.items()
            if self._kafka_committed.get((topic, partition)) != offset and TopicPartition(topic, partition) in assigned
        }
        if not due:
            return
        try:
            await self._consumer.commit(due)
        except KafkaError as error:
            log.debug("%s could not commit offsets to Kafka (informational only): %s", self._name, error)
            return
        self._kafka_committed.update({(tp.topic, tp.partition): offset for tp, offset in due.items()})

    async def _release(self, revoked: set[TopicPartition]) -> None:
        """Partitions leave: drop their records not yet handed over (their stored offsets still point at them)."""
        async with self._lock:
            self._batch.drop({(tp.topic, tp.partition) for tp in revoked})
            await self._settled_or_fatal()

    async def _resume_from_stored(self, assigned: set[TopicPartition]) -> None:
        """Partitions arrive: read each from the offset stored with the rows, whatever Kafka has committed."""
        assert self._consumer is not None
        async with self._lock:
            await self._settled_or_fatal()
            stored = await self._writer.in_database(self._store.stored_offsets)
            # Nothing stored: the partition's first offset still held. (seek_to_beginning here makes aiokafka
            # deliver the records it already fetched a second time.)
            beginnings = await self._consumer.beginning_offsets(list(assigned)) if assigned else {}
            for partition in assigned:
                self._consumer.seek(
                    partition, stored.get((partition.topic, partition.partition), beginnings[partition])
                )
        log.info("%s resumes %d partitions from the offsets stored in DuckDB", self._name, len(assigned))

    async def _settled_or_fatal(self) -> None:
        try:
            await self._hand_over_prepared()
            await self._writer.settled()
        except Exception as error:
            self._fail(error)
            raise

    def _fail(self, error: BaseException) -> None:
        """Positions may now be past what is stored: stop consuming, and let a restart resume from DuckDB."""
        log.error("%s stops: writing a batch failed", self._name, exc_info=error)
        self._failed = True
        self._stopped.set()
        self._on_fatal(error)

    async def _snapshot_loop(self) -> None:
        """Snapshot what changed, then wait for the interval or the stop; stop() takes the last snapshot itself."""
        pending: dict[str, set[date]] = {}
        while not self._stopped.is_set():
            touched = self._writer.take_touched()
            for table, days in pending.items():
                touched.setdefault(table, set()).update(days)
            started = self._clock()
            pending = {} if await self._snapshot(touched) else touched
            spent = self._clock() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopped.wait(), max(self._settings.snapshot_interval_s, spent / SNAPSHOT_SHARE - spent)
                )
        for table, days in pending.items():  # not written: the last snapshot takes them
            self._writer.touched[table] |= days

    async def _snapshot(self, touched: dict[str, set[date]]) -> bool:
        """Export what changed (services/warehouse/snapshots.py) on a cursor of its own, so ingest goes on meanwhile;
        False on failure."""
        if self._snapshots.started and not any(touched.values()):
            return True
        try:
            cursor = await self._writer.in_database(self._store.connection.cursor)
            try:
                written = await asyncio.to_thread(self._snapshots.write, cursor, touched)
            finally:
                cursor.close()
        except Exception:
            log.exception("%s could not write a snapshot; retrying later", self._name)
            return False
        self.snapshot_files += written
        return True
