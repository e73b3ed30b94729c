"""Every event becomes one row of `events`: its envelope, where it came from in Kafka, and its payload.

The helpers below turn event values into column values; derived.py uses them for the other tables.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import msgspec

from schemas import EVENT_TYPES, UnknownEvent, encode_event
from services.warehouse.core.batch import Ingested
from streams.tracing import trace_ids

_json_encoder = msgspec.json.Encoder()
_TAGS = {event_type: event_type.__struct_config__.tag for event_type in EVENT_TYPES}


def event_row(item: Ingested, event: Any) -> tuple[Any, ...]:
    """The `events` row (columns of tables.EVENTS) of an ingested event; ``event`` is its scrubbed form.

    The payload is the record's own bytes when scrubbing changed nothing (the scrubber then returns the same
    object), and the scrubbed event re-encoded otherwise. Text columns get UTF-8 bytes: Arrow takes them as they
    are, where a str would be encoded again.
    """
    unchanged = event is item.event
    if isinstance(event, UnknownEvent):
        run_id = event.raw.get("run_id")
        occurred_at = _timestamp(event.raw.get("occurred_at")) or datetime.fromtimestamp(item.timestamp_ms / 1000, UTC)
        source = event.raw.get("source")
        return (
            item.event_id,
            event.type,
            False,
            run_id if isinstance(run_id, str) else None,
            occurred_at,
            source if isinstance(source, str) else None,
            item.topic,
            item.partition,
            item.offset,
            item.body if unchanged else _json_encoder.encode(event.raw),
            day_of(occurred_at),
            *trace_ids(item.traceparent),
        )
    return (
        item.event_id,
        _TAGS[type(event)],
        True,
        event.run_id,
        event.occurred_at,
        event.source,
        item.topic,
        item.partition,
        item.offset,
        item.body if unchanged else encode_event(event),
        day_of(event.occurred_at),
        *trace_ids(item.traceparent),
    )


def json_bytes(value: Any) -> bytes | None:
    return None if value is None else _json_encoder.encode(value)


def day_of(at: datetime) -> date:
    # Producers stamp UTC; converting only what is not saves a call per event.
    return at.date() if at.tzinfo is UTC else at.astimezone(UTC).date()


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = msgspec.convert(value, datetime)
    except msgspec.ValidationError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
