"""Finished runs from the warehouse (DuckDB tables ``runs`` and ``turns``, docs/WAREHOUSE.md) as the events the
trainer service would have read from Kafka, so history becomes rollouts the same way live runs do."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from schemas.events import RunFinished, RunMetrics, TurnRecorded

# Runs still requested or planned have not finished; rejected runs never ran, so there is nothing to score.
FINISHED_STATUSES = ("succeeded", "failed", "partial", "timed_out")

RUNS_SQL = f"""
SELECT run_id, status, strategy, finished_at, makespan_s, sequential_s, critical_path_s, speedup, turns,
       tool_errors, tokens, tasks, attempts, answer, expected_answer, reason, labels
FROM runs
WHERE status IN ({", ".join(f"'{status}'" for status in FINISHED_STATUSES)}) AND finished_at IS NOT NULL
ORDER BY finished_at, run_id
"""
TURNS_SQL = """
SELECT event_id, run_id, task_id, attempt, operation_name, tool_name, request_model, input_tokens, output_tokens,
       arguments_bytes, output_bytes, started_at, latency_s, status, error, executor
FROM turns
WHERE run_id IN (SELECT run_id FROM runs WHERE finished_at IS NOT NULL)
"""


class WarehouseUnavailable(RuntimeError):
    pass


def finished_runs(database: Path | duckdb.DuckDBPyConnection) -> Iterator[tuple[RunFinished, list[TurnRecorded]]]:
    """Every finished run in the warehouse with its turns, oldest first: from a DuckDB file, or from a connection
    that has the warehouse's tables (the reader `genesis warehouse sql` uses: snapshots while the writer runs)."""
    if isinstance(database, duckdb.DuckDBPyConnection):
        yield from _finished_runs_in(database)
        return
    if not database.exists():
        raise WarehouseUnavailable(f"no warehouse at {database}: run the warehouse service first, or pass --database")
    try:
        connection = duckdb.connect(str(database), read_only=True)
    except duckdb.IOException as error:
        raise WarehouseUnavailable(
            f"cannot open {database} read-only (is the warehouse writer holding it?): {error}"
        ) from None
    with connection:
        yield from _finished_runs_in(connection)


def _finished_runs_in(connection: duckdb.DuckDBPyConnection) -> Iterator[tuple[RunFinished, list[TurnRecorded]]]:
    turns: dict[str, list[TurnRecorded]] = defaultdict(list)
    for row in _rows(connection, TURNS_SQL):
        turns[row["run_id"]].append(turn_from_row(row))
    for row in _rows(connection, RUNS_SQL):
        yield run_from_row(row), turns.pop(row["run_id"], [])


def run_from_row(row: dict[str, Any]) -> RunFinished:
    return RunFinished(
        run_id=row["run_id"],
        occurred_at=row["finished_at"],
        source="warehouse",
        status=row["status"],
        answer=_json(row["answer"]),
        metrics=RunMetrics(
            makespan_s=row["makespan_s"] or 0.0,
            sequential_s=row["sequential_s"] or 0.0,
            critical_path_s=row["critical_path_s"] or 0.0,
            speedup=row["speedup"] or 0.0,
            turns=row["turns"] or 0,
            tool_errors=row["tool_errors"] or 0,
            tokens=row["tokens"] or 0,
            tasks=row["tasks"] or 0,
            attempts=row["attempts"] or 0,
        ),
        reason=row["reason"],
        strategy=row["strategy"],
        expected_answer=row["expected_answer"],
        labels={str(key): str(value) for key, value in (_json(row["labels"]) or {}).items()},
    )


def turn_from_row(row: dict[str, Any]) -> TurnRecorded:
    return TurnRecorded(
        event_id=row["event_id"],
        run_id=row["run_id"],
        source="warehouse",
        task_id=row["task_id"],
        attempt=row["attempt"],
        operation=row["operation_name"],
        tool_name=row["tool_name"] or "",
        model=row["request_model"],
        input_tokens=row["input_tokens"] or 0,
        output_tokens=row["output_tokens"] or 0,
        arguments_bytes=row["arguments_bytes"] or 0,
        output_bytes=row["output_bytes"] or 0,
        started_at=row["started_at"],
        latency_s=row["latency_s"] or 0.0,
        status=row["status"],
        error=row["error"],
        executor=row["executor"] or "",
    )


def _rows(connection: duckdb.DuckDBPyConnection, sql: str) -> Iterator[dict[str, Any]]:
    cursor = connection.execute(sql)
    columns = [description[0] for description in cursor.description]
    while batch := cursor.fetchmany(10_000):
        yield from (dict(zip(columns, values, strict=True)) for values in batch)


def _json(value: Any) -> Any:
    # DuckDB hands JSON columns over as text.
    return json.loads(value) if isinstance(value, str) else value
