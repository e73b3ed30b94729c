"""Exactly-once writes for a consumer that owns partitions: one Kafka transaction per owned input partition.

Each input partition p has its own transactional producer, with the id ``{prefix}.{p}``. What its owner writes
because of p's inputs (journal records, events) and the offsets of those inputs are committed together or not at all,
and readers with ``isolation_level=read_committed`` (every reader here, streams/broker.py) see only committed writes.

Fencing: starting the producer for p (``claim``, when p is assigned) bumps the epoch of that transactional id, which
aborts the previous owner's open transaction and makes its next write fail with ProducerFenced. A planner that lost p
while it was stopped (a zombie) therefore cannot publish anything for p any more. aiokafka 0.14 sends offsets with
TxnOffsetCommit v0, which carries no consumer-group generation, so KIP-447's fencing by group metadata (one producer
per process) is not available; one transactional id per input partition is the scheme Kafka Streams used before it
(``exactly_once``, v1). docs/adr/0005-planner-transactions.md has what was tried and measured.

Input offsets: with ``offsets_topic`` (the planner's journal), a transaction writes the partition's input offsets as
one record of that topic (key ``OFFSETS_KEY``, on partition p) instead of sending them to the consumer group's
coordinator: three round trips per transaction (AddPartitionsToTxn, Produce, EndTxn) instead of five
(AddOffsetsToTxn and TxnOffsetCommit as well). The next owner of p reads them back with the journal and seeks there;
the group's committed offsets then only serve lag tools. Without ``offsets_topic`` they go to the group, in the
transaction, as Kafka Streams does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence

import msgspec
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import IllegalOperation, KafkaError, ProducerFenced
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.transaction_manager import TransactionState

from streams.broker import transactional_producer
from streams.outbox import RECORD_ERRORS, RawRecord
from streams.settings import KafkaSettings

log = logging.getLogger(__name__)


# The key of a partition's input offsets on ``offsets_topic``: no run id starts with a NUL byte.
OFFSETS_KEY = b"\x00input-offsets"
_offsets_encoder = msgspec.json.Encoder()
_offsets_decoder = msgspec.json.Decoder(dict[str, dict[str, int]])


def encode_offsets(offsets: Mapping[TopicPartition, int]) -> bytes:
    """``{topic: {partition: next offset to read}}`` as JSON."""
    by_topic: dict[str, dict[str, int]] = {}
    for tp, offset in offsets.items():
        by_topic.setdefault(tp.topic, {})[str(tp.partition)] = offset
    return _offsets_encoder.encode(by_topic)


def decode_offsets(value: bytes) -> dict[TopicPartition, int]:
    """The offsets ``encode_offsets`` wrote; msgspec.DecodeError/ValidationError when the value is not that."""
    return {
        TopicPartition(topic, int(partition)): offset
        for topic, partitions in _offsets_decoder.decode(value).items()
        for partition, offset in partitions.items()
    }


class PartitionLost(Exception):
    """Another process owns the partition now (this one was fenced, or never claimed it): nothing was written."""


class TransactionFailed(Exception):
    """A transaction could not be committed after its retries: nothing of it is visible to read_committed readers."""


def key_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as in the Java client and aiokafka) gives a key."""
    return DefaultPartitioner()(key, list(range(partitions)), [])


class PartitionTransactions:
    def __init__(
        self,
        settings: KafkaSettings,
        bootstrap: str,
        *,
        transactional_prefix: str,
        group_id: str,
        client_id: str,
        transaction_timeout_ms: int,
        attempts: int = 3,
        offsets_topic: str | None = None,
    ) -> None:
        self._settings = settings
        self._bootstrap = bootstrap
        self._prefix = transactional_prefix
        self._group_id = group_id
        self._client_id = client_id
        self._transaction_timeout_ms = transaction_timeout_ms
        self._attempts = attempts
        self._producers: dict[int, AIOKafkaProducer] = {}
        self._offsets_topic = offsets_topic
        # Per owned partition, the newest input offsets written (or read back at take-over): each offsets record
        # carries all of them, since compaction keeps only the newest record under OFFSETS_KEY.
        self._positions: dict[int, dict[TopicPartition, int]] = {}

    def transactional_id(self, partition: int) -> str:
        return f"{self._prefix}.{partition}"

    def owns(self, partition: int) -> bool:
        return partition in self._producers

    async def claim(self, partitions: Iterable[int]) -> None:
        """Start the producers of newly owned partitions, fencing their previous owners (and aborting what those
        left open), so that what is read next from these partitions is final."""
        new = sorted(set(partitions) - set(self._producers))
        producers = await asyncio.gather(*(self._start(partition) for partition in new))
        self._producers.update(zip(new, producers, strict=True))

    def resume(self, partition: int, offsets: Mapping[TopicPartition, int]) -> None:
        """The input offsets read back for a newly owned partition: later offsets records build on them."""
        self._positions[partition] = dict(offsets)

    async def release(self, partitions: Iterable[int]) -> None:
        """The partitions moved: stop their producers (the new owner fences them anyway)."""
        for partition in partitions:
            self._positions.pop(partition, None)
        await asyncio.gather(*(self._stop(self._producers.pop(p)) for p in set(partitions) if p in self._producers))

    async def close(self) -> None:
        await self.release(list(self._producers))

    async def commit(self, partition: int, records: Sequence[RawRecord], offsets: Mapping[TopicPartition, int]) -> None:
        """Write ``records`` and commit the consumer group's ``offsets`` in one transaction of ``partition``.

        PartitionLost when another process owns the partition; TransactionFailed when the transaction failed
        ``attempts`` times for other reasons (each failed attempt is aborted, then the same content is tried again).
        A record Kafka refuses (too large) fails its transaction at once: retrying cannot help.
        """
        for attempt in range(1, self._attempts + 1):
            if (producer := self._producers.get(partition)) is not None:
                await self._abort(partition, producer)  # a transaction left open (its flush was cancelled)
            if (producer := self._producers.get(partition)) is None:
                raise PartitionLost(f"partition {partition} is not owned by {self._client_id}")
            try:
                await self._transact(producer, partition, records, offsets)
                return
            except Exception as error:
                # Once fenced, aiokafka's producer is in a fatal state and later calls fail with other errors.
                if isinstance(error, ProducerFenced) or isinstance(_failure_of(producer), ProducerFenced):
                    self._producers.pop(partition, None)
                    await self._stop(producer)
                    raise PartitionLost(
                        f"{self.transactional_id(partition)} was fenced: another process owns partition {partition}"
                    ) from None
                if isinstance(error, RECORD_ERRORS):
                    await self._abort(partition, producer)
                    raise TransactionFailed(
                        f"{self.transactional_id(partition)}: a record was refused: {error}"
                    ) from error
                if not isinstance(error, KafkaError | IllegalOperation):
                    await self._abort(partition, producer)
                    raise
                log.warning(
                    "transaction %s failed (attempt %d of %d): %r",
                    self.transactional_id(partition),
                    attempt,
                    self._attempts,
                    error,
                )
                await self._abort(partition, producer)
                if attempt == self._attempts:
                    raise TransactionFailed(
                        f"{self.transactional_id(partition)} failed {attempt} times, last: {error!r}"
                    ) from error

    async def _transact(
        self,
        producer: AIOKafkaProducer,
        partition: int,
        records: Sequence[RawRecord],
        offsets: Mapping[TopicPartition, int],
    ) -> None:
        positions: dict[TopicPartition, int] | None = None
        if offsets and self._offsets_topic is not None:
            positions = dict(self._positions.get(partition, {}))
            for tp, offset in offsets.items():
                positions[tp] = max(offset, positions.get(tp, 0))
            records = [
                *records,
                RawRecord(self._offsets_topic, encode_offsets(positions), OFFSETS_KEY, partition=partition),
            ]
            offsets = {}
        await producer.begin_transaction()
        sent: list[asyncio.Future] = []
        try:
            for record in records:
                headers = [(name, value.encode()) for name, value in record.headers.items()]
                sent.append(
                    await producer.send(
                        record.topic, record.value, key=record.key, partition=record.partition, headers=headers
                    )
                )
            if offsets:
                await producer.send_offsets_to_transaction(dict(offsets), self._group_id)
            await asyncio.gather(*sent)  # a refused record fails here, before the commit is asked for
            await producer.commit_transaction()
            if positions is not None:
                self._positions[partition] = positions
        finally:
            for future in sent:  # when the transaction fails, its records fail with it: that is reported once
                future.add_done_callback(_retrieved)

    async def _abort(self, partition: int, producer: AIOKafkaProducer) -> None:
        """End a failed transaction so the next can begin; a producer that cannot abort is replaced (same id)."""
        state = producer._txn_manager.state  # aiokafka has no public accessor for it
        if state is TransactionState.READY:
            return  # it failed before it began
        if state in (TransactionState.IN_TRANSACTION, TransactionState.ABORTABLE_ERROR):
            try:
                await producer.abort_transaction()
                return
            except ProducerFenced:
                self._producers.pop(partition, None)
                await self._stop(producer)
                return
            except KafkaError as error:
                log.warning("%s could not abort: %r", self.transactional_id(partition), error)
        await self._stop(producer)
        if isinstance(_failure_of(producer), ProducerFenced):
            self._producers.pop(partition, None)  # another owner fenced it: a new producer would fence that owner
            return
        # The new producer's start aborts whatever the old one left open.
        self._producers[partition] = await self._start(partition)

    async def _start(self, partition: int) -> AIOKafkaProducer:
        producer = transactional_producer(
            self._settings,
            self._bootstrap,
            transactional_id=self.transactional_id(partition),
            client_id=self._client_id,
            transaction_timeout_ms=self._transaction_timeout_ms,
        )
        await producer.start()
        return producer

    async def _stop(self, producer: AIOKafkaProducer) -> None:
        # A fenced producer's sender has failed already; stopping it may say so again.
        with contextlib.suppress(KafkaError, asyncio.CancelledError):
            await producer.stop()


def _failure_of(producer: AIOKafkaProducer) -> BaseException | None:
    """What ended the producer's transaction in error (ProducerFenced when another owner took over), if anything."""
    waiter = producer._txn_manager.wait_for_transaction_end()  # aiokafka exposes this only on its manager
    if waiter is None or not waiter.done() or waiter.cancelled():
        return None
    return waiter.exception()


def _retrieved(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
