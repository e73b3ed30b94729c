"""A batch of consumed records, and the offsets it reaches in each partition.

A batch is written in one transaction, rows and offsets together, so it is the unit of exactly-once: either all
of it is in the warehouse, with the offsets just past it, or none of it is and its records are read again.
Taking a record is cheap on purpose (the consumer's event loop does it); decoding happens when the batch is
prepared, on the writer's thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from schemas import AnyEvent, UndecodableEvent, UnknownEvent, decode_event
from streams.tracing import traceparent_of

Partition = tuple[str, int]  # (topic, partition)


class Record(Protocol):
    """What a batch needs of a consumed Kafka record (aiokafka's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    timestamp: int  # milliseconds since the epoch
    key: bytes | None
    headers: Any  # aiokafka: a sequence of (name, bytes) pairs


class RawRecord(NamedTuple):
    """A record with only what the warehouse uses. Batches hold these as plain tuples (RecordRow), which pickle
    several times faster than named tuples when a batch goes to the preparing process."""

    topic: str
    partition: int
    offset: int
    value: bytes
    timestamp: int  # milliseconds since the epoch
    key: bytes | None


# The fields of RawRecord, in order, then the record's W3C traceparent header (its trace and span ids are stored).
RecordRow = tuple[str, int, int, bytes, int, bytes | None, bytes | None]


class Ingested(NamedTuple):  # a tuple: one is made per event, and a frozen dataclass costs several times more
    event_id: str
    event: AnyEvent | UnknownEvent
    body: bytes  # the record's value: stored as the payload when scrubbing changed nothing
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    traceparent: bytes | None  # the W3C trace context the producer sent, if any
    key: bytes | None  # the record's key: a dead letter keeps it, so that a replay lands where the original did


@dataclass(frozen=True)
class DeadLetter:
    record: Any
    reason: str


@dataclass
class Batch:
    opened_at: float | None = None
    records: list[RecordRow] = field(default_factory=list)
    # Per partition, the offset after the last record taken: what the warehouse stores with the rows.
    next_offsets: dict[Partition, int] = field(default_factory=dict)

    def add(self, record: Record, now: float) -> None:
        if self.opened_at is None:
            self.opened_at = now
        self.next_offsets[(record.topic, record.partition)] = record.offset + 1
        if record.value is not None:  # a tombstone on a compacted topic: only the offset moves on
            self.records.append(
                (
                    record.topic,
                    record.partition,
                    record.offset,
                    record.value,
                    record.timestamp,
                    record.key,
                    traceparent_of(getattr(record, "headers", None)),
                )
            )

    def drop(self, partitions: set[Partition]) -> None:
        """Forget what came from partitions this consumer no longer owns: their stored offsets still point before it."""
        self.records = [row for row in self.records if (row[0], row[1]) not in partitions]
        for partition in partitions:
            self.next_offsets.pop(partition, None)
        if not self.next_offsets:
            self.opened_at = None

    def due(self, now: float, *, max_events: int, max_wait_s: float) -> bool:
        if self.opened_at is None:
            return False
        return len(self.records) >= max_events or now - self.opened_at >= max_wait_s

    def __len__(self) -> int:
        return len(self.records)

    @property
    def is_empty(self) -> bool:
        """True while no record was taken (a batch of tombstones only is not empty: its offsets must be stored)."""
        return not self.next_offsets


def decode_records(rows: list[RecordRow]) -> tuple[list[Ingested], list[DeadLetter]]:
    """Events with where they came from; bytes that are no event become dead letters with the reason.

    Events of types this warehouse does not know are kept (as UnknownEvent), not dropped.
    """
    ingested: list[Ingested] = []
    dead_letters: list[DeadLetter] = []
    for topic, partition, offset, value, timestamp, key, traceparent in rows:
        try:
            event = decode_event(value)
        except UndecodableEvent as error:
            dead_letters.append(
                DeadLetter(RawRecord(topic, partition, offset, value, timestamp, key), f"undecodable: {error}")
            )
            continue
        ingested.append(
            Ingested(
                _event_id(event, topic, partition, offset),
                event,
                value,
                topic,
                partition,
                offset,
                timestamp,
                traceparent,
                key,
            )
        )
    return ingested, dead_letters


def _event_id(event: AnyEvent | UnknownEvent, topic: str, partition: int, offset: int) -> str:
    """The event's id; an unknown event without one is named by its place in Kafka, which replays cannot change."""
    if isinstance(event, UnknownEvent):
        raw_id = event.raw.get("event_id")
        return raw_id if isinstance(raw_id, str) else f"{topic}:{partition}:{offset}"
    return event.event_id
