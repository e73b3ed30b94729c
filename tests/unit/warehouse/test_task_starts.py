"""The task_starts view: when an executor started each attempt, and how long it waited in Kafka first."""

from __future__ import annotations

import pytest

from schemas import TaskStarted
from services.warehouse.store import WarehouseStore
from tests.unit.warehouse.events import at, record, write


def test_shows_the_queue_time_of_each_attempt_when_executors_report_starts(store: WarehouseStore) -> None:
    starts = [
        TaskStarted(run_id="r", task_id="1", attempt=1, executor="e1", dispatched_at=at(0), occurred_at=at(0.25)),
        TaskStarted(run_id="r", task_id="1", attempt=2, executor="e2", dispatched_at=at(5), occurred_at=at(7)),
    ]
    write(store, *(record(event, offset=n) for n, event in enumerate(starts)))
    rows = store.connection.execute(
        "SELECT task_id, attempt, executor, queue_s FROM task_starts ORDER BY attempt"
    ).fetchall()
    assert [row[:3] for row in rows] == [("1", 1, "e1"), ("1", 2, "e2")]
    assert [row[3] for row in rows] == [pytest.approx(0.25), pytest.approx(2.0)]


def test_leaves_the_queue_time_empty_when_the_dispatch_time_is_unknown(store: WarehouseStore) -> None:
    write(store, record(TaskStarted(run_id="r", task_id="9", executor="e1", occurred_at=at(1)), offset=1))
    assert store.connection.execute("SELECT queue_s, started_at FROM task_starts").fetchall()[0][0] is None
