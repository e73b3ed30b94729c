"""Trace and span ids: taken from each record's traceparent header into the events and turns rows."""

from __future__ import annotations

import dataclasses

import duckdb

from schemas import TurnRecorded
from services.warehouse.store import WarehouseStore
from streams.tracing import trace_ids
from tests.unit.warehouse.events import at, prepared, record, write

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{SPAN}-01".encode()


def turn(event_id: str) -> TurnRecorded:
    return TurnRecorded(
        event_id=event_id, run_id="run-1", task_id="1", tool_name="calculator", started_at=at(0), occurred_at=at(1)
    )


def traced(event_id: str):
    return dataclasses.replace(record(turn(event_id)), headers=(("event-type", b"x"), ("traceparent", TRACEPARENT)))


def test_event_and_turn_rows_carry_the_trace_and_span_ids_when_the_record_has_a_traceparent() -> None:
    batch = prepared(traced("e-1"), record(turn("e-2")))
    events = {row["event_id"]: row for row in batch.events.to_pylist()}
    assert (events["e-1"]["trace_id"], events["e-1"]["span_id"]) == (TRACE, SPAN)
    assert (events["e-2"]["trace_id"], events["e-2"]["span_id"]) == (None, None)
    turns = {row["event_id"]: row for row in batch.derived["turns"].to_pylist()}
    assert (turns["e-1"]["trace_id"], turns["e-1"]["span_id"]) == (TRACE, SPAN)
    assert turns["e-2"]["trace_id"] is None


def test_trace_ids_are_none_when_the_traceparent_is_malformed() -> None:
    assert trace_ids(b"00-short-00f067aa0ba902b7-01") == (None, None)
    assert trace_ids(b"garbage") == (None, None)
    assert trace_ids(None) == (None, None)
    assert trace_ids(TRACEPARENT.decode()) == (TRACE, SPAN)


def test_trace_ids_are_stored_in_duckdb_when_a_batch_is_written() -> None:
    store = WarehouseStore(duckdb.connect())
    write(store, traced("e-1"))
    stored = store.connection.execute("SELECT e.trace_id, t.span_id FROM events e JOIN turns t USING (event_id)")
    assert stored.fetchall() == [(TRACE, SPAN)]


def test_an_older_warehouse_gains_the_trace_columns_when_opened(tmp_path) -> None:
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute(
        "CREATE TABLE events (event_id VARCHAR PRIMARY KEY, type VARCHAR NOT NULL, known BOOLEAN NOT NULL, "
        "run_id VARCHAR, occurred_at TIMESTAMPTZ, source VARCHAR, kafka_topic VARCHAR NOT NULL, "
        "kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL, payload JSON NOT NULL, day DATE NOT NULL)"
    )
    old.execute(
        "INSERT INTO events VALUES ('e-0', 'X.v1', false, null, null, null, 't', 0, 0, '{}', DATE '2026-03-01')"
    )
    old.close()
    store = WarehouseStore(duckdb.connect(str(path)))
    write(store, traced("e-1"))
    rows = store.connection.execute("SELECT event_id, trace_id FROM events ORDER BY event_id").fetchall()
    assert rows == [("e-0", None), ("e-1", TRACE)]
