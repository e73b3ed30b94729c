"""What one flush writes for one input partition: the records and offsets of that partition's transaction, and
what to do once it commits (confirm journal writes, release finished runs) or fails (put the changes back)."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
from aiokafka import TopicPartition

from schemas import Event
from services.planner.changes import Changes
from services.planner.runbook import JournalWrite
from streams.outbox import RawRecord

_encoder = msgspec.json.Encoder()


@dataclass
class PartitionBatch:
    records: list[RawRecord] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    writes: list[JournalWrite] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # Records a restore owed this partition (tombstones of a dead-lettered journal), kept if the transaction fails.
    owed: list[RawRecord] = field(default_factory=list)
    # The part of the flush's changes this batch carries, to take back if its transaction fails.
    changes: Changes = field(default_factory=Changes)


def finished_marker(status: str | None) -> bytes:
    """The value of a run's record on the planner.finished topic (the key is the run id)."""
    return _encoder.encode({"status": status})
