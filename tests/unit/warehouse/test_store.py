"""The writer's transaction: rows and offsets together, each event once, runs merged across batches."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from schemas import RunRequested, TaskFinished, TaskReady, TurnRecorded
from services.warehouse.core.tables import EVENT_TABLES, KAFKA_OFFSETS
from services.warehouse.sql import named_statements
from services.warehouse.store import WarehouseStore
from tests.unit.warehouse.events import at, fan_out_run, prepared, record, write


def test_rows_and_offsets_are_stored_together_when_a_batch_commits(store: WarehouseStore) -> None:
    events = fan_out_run("run-1")
    records = [record(event, topic="t.a", partition=n % 2, offset=10 + n) for n, event in enumerate(events)]
    result = write(store, *records)
    assert result.events == len(events) == store.count("events")
    last = {p: max(r.offset for r in records if r.partition == p) for p in (0, 1)}
    assert store.stored_offsets() == {("t.a", 0): last[0] + 1, ("t.a", 1): last[1] + 1}
    assert store.count("task_attempts") == 4 and store.count("turns") == 4 and store.count("runs") == 1


def test_nothing_is_stored_when_a_batch_fails_midway(store: WarehouseStore) -> None:
    write(store, record(RunRequested(run_id="before", query="q"), offset=1))
    broken = prepared(record(RunRequested(run_id="r", query="q"), offset=2), *fan_out_run("r"))
    # The offsets come last in the transaction: a table DuckDB cannot take fails it there.
    broken = dataclasses.replace(broken, offsets=pa.table({"topic": ["t.events"], "nonsense": [1]}))
    with pytest.raises(duckdb.Error):
        store.commit(broken)
    assert store.count("events") == 1 and store.count("runs") == 1 and store.count("task_attempts") == 0
    assert store.stored_offsets() == {("t.events", 0): 2}


def test_event_is_stored_once_and_derives_nothing_more_when_it_arrives_again(store: WarehouseStore) -> None:
    turn = TurnRecorded(run_id="r", task_id="1", tool_name="kb_search", latency_s=0.2)
    write(store, record(turn, offset=1))
    result = write(store, record(turn, offset=2), record(turn, offset=3))  # republished twice, same event id
    assert (result.events, result.repeated) == (0, 2)
    assert store.count("events") == 1 and store.count("turns") == 1
    assert store.stored_offsets()[("t.events", 0)] == 4


def test_only_new_events_are_stored_and_derived_when_a_batch_repeats_some_stored_ones(store: WarehouseStore) -> None:
    stored = TurnRecorded(run_id="r", task_id="1", tool_name="kb_search", latency_s=0.2)
    write(store, record(stored, offset=1))
    new = [TurnRecorded(run_id="r", task_id=str(n), tool_name="calculator", latency_s=0.1) for n in (2, 3)]
    result = write(store, record(new[0], offset=2), record(stored, offset=3), record(new[1], offset=4))
    assert (result.events, result.repeated) == (2, 1)
    assert store.count("events") == 3 and store.count("turns") == 3
    ids = {row[0] for row in store.connection.execute("SELECT event_id FROM turns").fetchall()}
    assert ids == {stored.event_id, new[0].event_id, new[1].event_id}
    assert store.stored_offsets()[("t.events", 0)] == 5
    # The failed first try left nothing behind: the next batch takes the plain insert again.
    assert write(store, record(TurnRecorded(run_id="r", task_id="4", tool_name="sleep"), offset=5)).events == 1


def test_run_and_attempt_rows_are_complete_when_their_events_span_batches_in_any_order(store: WarehouseStore) -> None:
    events = fan_out_run("run-2", failing="2")
    shuffled = random.Random(3).sample(events, len(events))
    for start in range(0, len(shuffled), 4):
        write(store, *shuffled[start : start + 4])
    run = _one(store, "SELECT status, requested_at, planned_at, makespan_s, labels->>'job' AS job FROM runs")
    assert run == ("succeeded", at(0), at(0.01), pytest.approx(events[-1].metrics.makespan_s), "fan")
    attempts = store.connection.execute(
        "SELECT task_id, attempt, status, executor, latency_s IS NOT NULL, dispatched_at IS NOT NULL "
        "FROM task_attempts ORDER BY task_id, attempt"
    ).fetchall()
    assert [(t, a, s) for t, a, s, *_ in attempts] == [
        ("1", 1, "ok"),
        ("2", 1, "error"),
        ("2", 2, "ok"),
        ("3", 1, "ok"),
        ("4", 1, "ok"),
    ]
    assert all(executor and timed and dispatched for *_, executor, timed, dispatched in attempts)


def test_attempt_keeps_its_first_end_when_a_second_end_arrives_in_a_later_batch(store: WarehouseStore) -> None:
    write(store, TaskReady(run_id="r", task_id="1", tool="kb_search"))
    write(
        store, TaskFinished(run_id="r", task_id="1", status="error", error="late", started_at=at(0), finished_at=at(1))
    )
    write(store, TaskFinished(run_id="r", task_id="1", status="ok", result=5, started_at=at(0), finished_at=at(3)))
    assert _one(store, "SELECT status, error, latency_s, result FROM task_attempts") == ("error", "late", 1.0, None)


def test_tables_have_the_columns_the_writer_builds_when_created(store: WarehouseStore) -> None:
    for spec in (*EVENT_TABLES, KAFKA_OFFSETS):
        columns = [row[0] for row in store.connection.execute(f"DESCRIBE {spec.name}").fetchall()]
        assert columns == spec.columns, spec.name


def test_views_answer_latency_speedup_errors_and_tokens_when_queried(store: WarehouseStore) -> None:
    write(store, *fan_out_run("run-a", failing="1"), *fan_out_run("run-b"))
    latency = dict(
        (tool, (attempts, p50))
        for tool, attempts, p50 in store.connection.execute("SELECT tool, attempts, p50_s FROM tool_latency").fetchall()
    )
    assert latency["kb_search"] == (7, pytest.approx(1.1))
    assert latency["calculator"][0] == 2
    errors = dict(store.connection.execute("SELECT tool, error_rate FROM tool_error_rates").fetchall())
    assert errors == {"kb_search": pytest.approx(1 / 7), "calculator": 0.0}
    speedups = store.connection.execute(
        "SELECT run_id, speedup, makespan_over_critical_path FROM run_speedup ORDER BY 1"
    ).fetchall()
    assert [row[:2] for row in speedups] == [("run-a", 2.5), ("run-b", 2.5)]
    tokens = store.connection.execute("SELECT tool_name, calls, total_tokens FROM token_use ORDER BY 1").fetchall()
    assert tokens == [("calculator", 2, 30), ("kb_search", 7, 105)]


def test_every_documented_query_runs_when_the_warehouse_holds_runs(store: WarehouseStore) -> None:
    write(store, *fan_out_run("run-c", failing="2"))
    for name, example in named_statements("examples.sql").items():
        assert store.connection.execute(example.sql).fetchall() is not None, name


def _one(store: WarehouseStore, sql: str) -> tuple:
    rows = store.connection.execute(sql).fetchall()
    assert len(rows) == 1
    return rows[0]


def test_every_example_query_is_quoted_in_the_warehouse_guide_when_documented() -> None:
    guide = (Path(__file__).resolve().parents[3] / "docs" / "WAREHOUSE.md").read_text()
    for name, example in named_statements("examples.sql").items():
        assert f"**{name}**" in guide and example.sql in guide, name


def test_attempts_of_an_earlier_version_move_to_the_dispatch_and_end_tables_when_the_file_is_opened() -> None:
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE task_attempts (run_id VARCHAR, task_id VARCHAR, attempt INTEGER, tool VARCHAR, status VARCHAR, "
        "error VARCHAR, retryable BOOLEAN, dispatched_at TIMESTAMPTZ, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, "
        "latency_s DOUBLE, executor VARCHAR, timeout_s DOUBLE, input_tokens INTEGER, output_tokens INTEGER, "
        "result JSON, day DATE, PRIMARY KEY (run_id, task_id, attempt))"
    )
    connection.execute(
        "INSERT INTO task_attempts VALUES "
        "('r', '1', 1, 'sleep', 'ok', NULL, true, '2026-03-01 09:00:00+00', '2026-03-01 09:00:01+00', "
        "'2026-03-01 09:00:02+00', 1.0, 'x', 30, 0, 0, '1', '2026-03-01'), "
        "('r', '2', 1, 'sleep', 'dispatched', NULL, NULL, '2026-03-01 09:00:00+00', NULL, NULL, NULL, NULL, 30, "
        "NULL, NULL, NULL, '2026-03-01')"
    )
    store = WarehouseStore(connection)
    rows = store.connection.execute("SELECT task_id, tool, status, latency_s FROM task_attempts ORDER BY 1").fetchall()
    assert rows == [("1", "sleep", "ok", 1.0), ("2", "sleep", "dispatched", None)]
    assert (store.count("task_dispatches"), store.count("task_ends")) == (2, 1)
