"""Specification of the event schemas: round trips, schema evolution, and what is not an event."""

from __future__ import annotations

import msgspec
import pytest

from schemas import (
    EVENT_TYPES,
    RunRequested,
    TaskFinished,
    UndecodableEvent,
    UnknownEvent,
    decode_event,
    encode_event,
    event_type_name,
)
from tests.support.samples import one_of_each


def test_every_event_type_round_trips_when_encoded_and_decoded() -> None:
    events = one_of_each("run-1")
    assert {type(event) for event in events} == set(EVENT_TYPES)
    for event in events:
        assert decode_event(encode_event(event)) == event


def test_tag_carries_the_version_when_encoded() -> None:
    encoded = msgspec.json.decode(encode_event(RunRequested(run_id="r", query="q")))
    assert encoded["type"] == "RunRequested.v1" == event_type_name(RunRequested(run_id="r"))


def test_older_consumer_reads_newer_event_when_it_has_an_extra_field() -> None:
    newer = msgspec.json.decode(encode_event(TaskFinished(run_id="r", task_id="1", status="ok", result=3)))
    newer["gpu_seconds"] = 1.5  # a field a newer producer added
    decoded = decode_event(msgspec.json.encode(newer))
    assert isinstance(decoded, TaskFinished)
    assert decoded.result == 3


def test_newer_consumer_reads_older_event_when_a_defaulted_field_is_missing() -> None:
    older = msgspec.json.decode(encode_event(RunRequested(run_id="r", query="q")))
    del older["labels"], older["strategy"]
    decoded = decode_event(msgspec.json.encode(older))
    assert isinstance(decoded, RunRequested)
    assert decoded.strategy == "auto" and decoded.labels == {}


def test_decoding_yields_unknown_event_when_type_is_from_a_newer_producer() -> None:
    decoded = decode_event(b'{"type": "RunPaused.v1", "run_id": "r", "event_id": "e"}')
    assert decoded == UnknownEvent(type="RunPaused.v1", raw={"type": "RunPaused.v1", "run_id": "r", "event_id": "e"})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b"[1, 2, 3]", "Expected `object`"),
        (b'{"run_id": "r"}', "missing required field `type`"),
        (b'{"type": "TaskFinished.v1", "run_id": "r", "task_id": "1", "status": "maybe"}', "status"),
        (b'{"type": "RunRequested.v1"}', "run_id"),
    ],
)
def test_decoding_raises_undecodable_with_reason_when_bytes_are_not_a_valid_event(data: bytes, reason: str) -> None:
    with pytest.raises(UndecodableEvent, match=reason):
        decode_event(data)


def test_events_are_immutable_when_created() -> None:
    event = RunRequested(run_id="r", query="q")
    with pytest.raises(AttributeError):
        event.query = "other"  # type: ignore[misc]
