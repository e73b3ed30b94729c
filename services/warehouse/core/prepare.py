"""Turning a batch into Arrow tables, before any database work: scrub, map to rows, dedupe by event id.

Preparing needs no database, so the writer prepares the next batch while DuckDB commits the previous one.
Derived rows are built for every event of the batch; when the database already holds some of its event ids
(a producer published an event twice), the writer derives them again from the new events only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from services.warehouse.core.batch import Batch, DeadLetter, Ingested, Partition, decode_records
from services.warehouse.core.derived import DerivedRows
from services.warehouse.core.rows import event_row
from services.warehouse.core.tables import EVENTS, KAFKA_OFFSETS


class EventScrubber(Protocol):
    def event(self, event: Any) -> Any: ...


@dataclass(frozen=True)
class PreparedBatch:
    events: pa.Table
    derived: dict[str, pa.Table]  # table name -> rows, for the tables this batch adds to
    offsets: pa.Table  # kafka_offsets rows: where each partition's records end
    next_offsets: dict[Partition, int]  # the same, for the consumer
    items: list[Ingested]  # one per event id, in batch order
    stored: list[Any]  # the scrubbed form of each item's event, as stored
    received: int  # events in the batch, repeats included
    dead_letters: list[DeadLetter]  # records that are no event: for the dead-letter topic, before the commit

    def derive_only(self, event_ids: Collection[str]) -> dict[str, pa.Table]:
        """Derived rows of the given events alone (the batch held events the database already had)."""
        return derive(
            [(item, event) for item, event in zip(self.items, self.stored, strict=True) if item.event_id in event_ids]
        )


def prepare(batch: Batch, scrubber: EventScrubber) -> PreparedBatch:
    decoded, dead_letters = decode_records(batch.records)
    items = _first_of_each_id(decoded)
    stored = [scrubber.event(item.event) for item in items]
    pairs = list(zip(items, stored, strict=True))
    offsets = [(topic, partition, offset) for (topic, partition), offset in batch.next_offsets.items()]
    return PreparedBatch(
        events=EVENTS.from_tuples([event_row(item, event) for item, event in pairs]),
        derived=derive(pairs),
        offsets=KAFKA_OFFSETS.from_tuples(offsets),
        next_offsets=dict(batch.next_offsets),
        items=items,
        stored=stored,
        received=len(decoded),
        dead_letters=dead_letters,
    )


def derive(pairs: list[tuple[Ingested, Any]]) -> dict[str, pa.Table]:
    rows = DerivedRows()
    for _, event in pairs:
        rows.add(event)
    return rows.tables()


def _first_of_each_id(items: list[Ingested]) -> list[Ingested]:
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.event_id not in seen:
            seen.add(item.event_id)
            unique.append(item)
    return unique
