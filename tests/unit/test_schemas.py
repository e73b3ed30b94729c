"""Specification of the event schemas: round trips, schema evolution, and what is not an event."""

from __future__ import annotations

import gc
import time
import uuid

import msgspec
import pytest

from schemas import (
    EVENT_TYPES,
    Plan,
    RunPlanned,
    RunRequested,
    Task,
    TaskFinished,
    UndecodableEvent,
    UnknownEvent,
    decode_event,
    encode_event,
    event_type_name,
    new_event_id,
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


def test_event_ids_are_uuid7_and_sort_by_creation_time_when_created_milliseconds_apart() -> None:
    before_ms = time.time_ns() // 1_000_000
    first = new_event_id()
    while time.time_ns() // 1_000_000 <= before_ms + 1:  # a later millisecond (bounded: the clock moves on)
        pass
    second = new_event_id()
    parsed = uuid.UUID(hex=first)
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert len(first) == 32 and first == parsed.hex
    assert abs((parsed.int >> 80) - before_ms) <= 1000  # the leading 48 bits are the creation time in ms
    assert first < second


def test_event_ids_differ_when_created_in_the_same_millisecond() -> None:
    ids = [new_event_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)


def test_structs_are_left_out_of_cyclic_garbage_collection_when_decoded() -> None:
    # Warehouse ingest decodes millions of events; untracked structs keep the collector from rescanning them.
    planned = RunPlanned(
        run_id="r", plan=Plan(tasks=(Task(id="1"),)), strategy="parallel", levels=[["1"]], critical_path=["1"]
    )
    event = decode_event(encode_event(planned))
    assert not gc.is_tracked(event) and not gc.is_tracked(event.plan) and not gc.is_tracked(event.plan.tasks[0])
