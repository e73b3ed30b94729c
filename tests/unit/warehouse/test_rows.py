"""Events to rows: what each event contributes to each table, merged in any order of arrival."""

from __future__ import annotations

from typing import Any

import msgspec

from schemas import RunFinished, RunRejected, TaskFinished, TaskReady, encode_event
from services.warehouse.core.batch import Batch, RawRecord
from services.warehouse.core.derived import DerivedRows
from services.warehouse.core.prepare import prepare
from services.warehouse.core.scrubbing import KeepText
from services.warehouse.store import WarehouseStore
from tests.support.samples import one_of_each
from tests.unit.warehouse.events import FakeRecord, at, batch_of, fan_out_run, prepared, record, write


def test_every_event_becomes_one_events_row_with_its_origin_when_prepared() -> None:
    events = one_of_each("run-1")
    records = [record(event, topic="t.x", partition=3, offset=100 + n) for n, event in enumerate(events)]
    rows = prepared(*records).events.to_pylist()
    assert [row["event_id"] for row in rows] == [event.event_id for event in events]
    assert all(row["known"] and row["run_id"] == "run-1" and row["kafka_topic"] == "t.x" for row in rows)
    assert [row["kafka_offset"] for row in rows] == list(range(100, 100 + len(events)))
    assert [row["type"] for row in rows] == [type(event).__struct_config__.tag for event in events]
    # Nothing to scrub: the payload is the record's own bytes.
    assert [row["payload"] for row in rows] == [encode_event(event).decode() for event in events]


def test_unknown_event_is_kept_raw_when_its_type_is_newer_than_the_warehouse() -> None:
    future = b'{"type": "RunPaused.v1", "event_id": "e-9", "run_id": "run-2", "occurred_at": "2026-03-01T10:00:00Z"}'
    batch = prepared(record(future, offset=7))
    (row,) = batch.events.to_pylist()
    assert (row["event_id"], row["type"], row["known"], row["run_id"]) == ("e-9", "RunPaused.v1", False, "run-2")
    assert msgspec.json.decode(row["payload"]) == msgspec.json.decode(future)
    assert row["day"].isoformat() == "2026-03-01"
    assert batch.derived == {}


def test_unknown_event_without_id_is_named_by_its_kafka_position_when_kept() -> None:
    (row,) = prepared(record(b'{"type": "Mystery.v3"}', topic="t.turns", partition=2, offset=41)).events.to_pylist()
    assert row["event_id"] == "t.turns:2:41"
    assert row["occurred_at"] is not None  # the record's timestamp stands in


def test_undecodable_bytes_become_dead_letters_and_advance_the_offset_when_prepared() -> None:
    bad = record(b"{not json", partition=1, offset=5)
    batch = prepared(bad, record(RunRejected(run_id="r", reason="cycle"), partition=1, offset=6))
    assert [letter.record for letter in batch.dead_letters] == [
        RawRecord(bad.topic, bad.partition, bad.offset, bad.value, bad.timestamp, bad.key)
    ]
    assert batch.dead_letters[0].reason.startswith("undecodable")
    assert batch.next_offsets == {("t.events", 1): 7}
    assert batch.events.num_rows == 1


def test_event_the_scrubber_fails_on_becomes_a_dead_letter_alone_when_prepared() -> None:
    class FailsOnRunB(KeepText):
        def event(self, event: Any) -> Any:
            if event.run_id == "run-b":
                raise IndexError("tuple index out of range")
            return event

    good, bad = RunRejected(run_id="run-a", reason="cycle"), RunRejected(run_id="run-b", reason="cycle")
    records = [record(good, partition=1, offset=8), record(bad, partition=1, offset=9)]
    batch = prepare(batch_of(*records), FailsOnRunB())
    assert [row["run_id"] for row in batch.events.to_pylist()] == ["run-a"]
    [letter] = batch.dead_letters
    assert letter.record == RawRecord(records[1].topic, 1, 9, records[1].value, records[1].timestamp, records[1].key)
    assert letter.reason == "could not scrub: IndexError: tuple index out of range"
    assert (batch.unique, batch.received) == (1, 1)
    assert batch.next_offsets == {("t.events", 1): 10}


def test_tombstone_only_moves_the_offset_when_taken() -> None:
    batch = Batch()
    batch.add(FakeRecord("t.policy", 0, 3, None), 0.0)
    assert len(batch) == 0 and not batch.is_empty
    assert prepare(batch, KeepText()).next_offsets == {("t.policy", 0): 4}


def test_run_row_is_the_same_whatever_order_its_events_arrive_in() -> None:
    events = fan_out_run("run-3")
    forward, backward = DerivedRows(), DerivedRows()
    for event in events:
        forward.add(event)
    for event in reversed(events):
        backward.add(event)
    assert _filled(forward.runs["run-3"]) == _filled(backward.runs["run-3"])
    run = forward.runs["run-3"]
    assert run["status"] == "succeeded"
    assert run["requested_at"] == at(0) and run["planned_at"] == at(0.01)
    assert run["critical_path"] == ["1", "4"] and run["strategy"] == "parallel"
    assert msgspec.json.decode(run["labels"]) == {"job": "fan"}


def test_final_status_wins_over_progress_when_a_late_request_arrives() -> None:
    rows = DerivedRows()
    rows.add(RunFinished(run_id="r", occurred_at=at(5), status="failed", reason="task 1 failed"))
    rows.add(RunRejected(run_id="r", occurred_at=at(6), reason="second opinion"))
    assert rows.runs["r"]["status"] == "failed"  # the first final status stays
    assert rows.runs["r"]["reason"] == "task 1 failed"


def test_attempt_row_joins_dispatch_and_end_when_they_arrive_in_different_batches(store: WarehouseStore) -> None:
    end = TaskFinished(
        run_id="r",
        task_id="1",
        attempt=2,
        status="ok",
        result=[1],
        started_at=at(1),
        finished_at=at(1.5),
        executor="x",
    )
    write(store, end)  # the end first: the topics are read in any order
    assert store.connection.execute("SELECT tool, status FROM task_attempts").fetchall() == [(None, "ok")]
    write(store, TaskReady(run_id="r", task_id="1", attempt=2, tool="kb_search", occurred_at=at(0.9), timeout_s=5.0))
    [row] = store.connection.execute(
        "SELECT tool, status, executor, latency_s, dispatched_at, timeout_s, result FROM task_attempts"
    ).fetchall()
    assert row[:4] == ("kb_search", "ok", "x", 0.5)
    assert row[4] == at(0.9) and row[5] == 5.0 and msgspec.json.decode(row[6]) == [1]


def test_first_end_wins_when_an_attempt_reports_twice_in_one_batch() -> None:
    rows = DerivedRows()
    rows.add(
        TaskFinished(run_id="r", task_id="1", status="error", error="timeout", started_at=at(0), finished_at=at(1))
    )
    rows.add(TaskFinished(run_id="r", task_id="1", status="ok", result=3, started_at=at(0), finished_at=at(2)))
    (row,) = rows.tables()["task_ends"].to_pylist()
    assert (row["status"], row["error"], row["latency_s"], row["result"]) == ("error", "timeout", 1.0, None)


def test_plan_becomes_tasks_and_dependencies_when_planned() -> None:
    tables = prepared(*fan_out_run("run-4", width=2)).derived
    tasks = tables["tasks"].to_pylist()
    assert [(t["task_id"], t["position"], t["level"], t["on_critical_path"]) for t in tasks] == [
        ("1", 0, 0, True),
        ("2", 1, 0, False),
        ("3", 2, 1, True),
    ]
    deps = {(d["task_id"], d["depends_on"]) for d in tables["task_dependencies"].to_pylist()}
    assert deps == {("3", "1"), ("3", "2")}


def test_turns_use_opentelemetry_genai_names_when_mapped() -> None:
    turns = prepared(*fan_out_run("run-5", width=1)).derived["turns"].to_pylist()
    assert {"operation_name", "tool_name", "request_model", "input_tokens", "output_tokens"} <= set(turns[0])
    assert (turns[0]["operation_name"], turns[0]["tool_name"], turns[0]["input_tokens"]) == (
        "execute_tool",
        "kb_search",
        10,
    )


def _filled(row: dict) -> dict:
    return {name: value for name, value in row.items() if value is not None}
