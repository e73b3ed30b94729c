"""Turning a batch into Arrow tables, before any database work: scrub, map to rows, dedupe by event id.

Preparing needs no database, so the writer prepares the next batch while DuckDB commits the previous one.
Derived rows are built for every event of the batch; when the database already holds some of its event ids
(a producer published an event twice), the writer derives them again from the new events only.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import pyarrow as pa

from services.warehouse.core.batch import Batch, DeadLetter, Ingested, Partition, RawRecord, decode_records
from services.warehouse.core.derived import DerivedRows
from services.warehouse.core.rows import event_row
from services.warehouse.core.tables import EVENTS, KAFKA_OFFSETS
from streams.tracing import trace_ids


class EventScrubber(Protocol):
    replaced: int  # personal data values replaced so far

    def event(self, event: Any) -> Any: ...


@dataclass(frozen=True)
class PreparedBatch:
    events: pa.Table
    derived: dict[str, pa.Table]  # table name -> rows, for the tables this batch adds to
    offsets: pa.Table  # kafka_offsets rows: where each partition's records end
    next_offsets: dict[Partition, int]  # the same, for the consumer
    unique: int  # events with distinct ids in the batch: the rows of `events`
    received: int  # events in the batch, repeats included
    dead_letters: list[DeadLetter]  # records that are no event, or that the scrubber failed on: to the DLQ first
    pii_replaced: int  # personal data values the scrubber replaced while preparing this batch
    # The derived rows of some of the batch's events alone, for a batch that repeats events the database already
    # has. Not sent between processes: whoever prepared the batch sets it (see services/warehouse/preparing.py).
    derive_only: Callable[[Collection[str]], dict[str, pa.Table]] | None = field(default=None, compare=False)


def prepare(batch: Batch, scrubber: EventScrubber) -> PreparedBatch:
    replaced_before = scrubber.replaced
    pairs, dead_letters, received = _scrubbed_events(batch, scrubber)
    offsets = [(topic, partition, offset) for (topic, partition), offset in batch.next_offsets.items()]
    return PreparedBatch(
        events=EVENTS.from_tuples([event_row(item, event) for item, event in pairs]),
        derived=derive(pairs),
        offsets=KAFKA_OFFSETS.from_tuples(offsets),
        next_offsets=dict(batch.next_offsets),
        unique=len(pairs),
        received=received,
        dead_letters=dead_letters,
        pii_replaced=scrubber.replaced - replaced_before,
        derive_only=partial(_derive_only, pairs),
    )


def derive_only(batch: Batch, scrubber: EventScrubber, event_ids: Collection[str]) -> dict[str, pa.Table]:
    """The derived rows of the given events of a batch, prepared again (for a preparer in another process)."""
    pairs, _, _ = _scrubbed_events(batch, scrubber)
    return _derive_only(pairs, event_ids)


def _scrubbed_events(batch: Batch, scrubber: EventScrubber) -> tuple[list[tuple[Ingested, Any]], list[DeadLetter], int]:
    """Each event id's first event with its scrubbed form; the dead letters; how many events the batch held."""
    decoded, dead_letters = decode_records(batch.records)
    pairs = []
    unscrubbed = 0
    for item in _first_of_each_id(decoded):
        try:
            pairs.append((item, scrubber.event(item.event)))
        except Exception as error:  # a fault in the scrubber fails this event alone, kept whole as a dead letter
            unscrubbed += 1
            record = RawRecord(item.topic, item.partition, item.offset, item.body, item.timestamp_ms, item.key)
            dead_letters.append(DeadLetter(record, f"could not scrub: {type(error).__name__}: {error}"))
    return pairs, dead_letters, len(decoded) - unscrubbed


def _derive_only(pairs: list[tuple[Ingested, Any]], event_ids: Collection[str]) -> dict[str, pa.Table]:
    return derive([(item, event) for item, event in pairs if item.event_id in event_ids])


def derive(pairs: list[tuple[Ingested, Any]]) -> dict[str, pa.Table]:
    rows = DerivedRows()
    for item, event in pairs:
        rows.add(event, trace_ids(item.traceparent))
    return rows.tables()


def _first_of_each_id(items: list[Ingested]) -> list[Ingested]:
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.event_id not in seen:
            seen.add(item.event_id)
            unique.append(item)
    return unique
