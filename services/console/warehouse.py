"""What the console reads from the warehouse: finished runs, the runs list, the SQL box, the charts, the trainer.

Every read opens the warehouse the way `genesis warehouse sql` does (services/warehouse/query.py: the Parquet
snapshots while the warehouse service holds the DuckDB file, else the file read-only) and closes it again. The
connection is then fenced: external access off (only the snapshot folder stays readable, for the views already
defined over it) and the configuration locked, so no query can read or write a file, attach a database or
install an extension. The calls block; the web app runs them on worker threads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import duckdb

from schemas import UndecodableEvent, UnknownEvent, decode_event
from services.console.core import charts
from services.console.core.board import RunState, fold, label_matches
from services.console.core.sql_guard import single_select
from services.warehouse.query import BadQuery, QueryResult, Reader, open_reader
from services.warehouse.settings import WarehouseSettings
from services.warehouse.sql import NamedStatement, literal, named_statements

RUNS = """
SELECT
    r.run_id,
    r.status,
    coalesce(r.requested_at, r.planned_at, r.finished_at) AS requested_at,
    r.tasks,
    r.makespan_s,
    r.critical_path_s,
    r.speedup,
    CAST(r.labels AS VARCHAR) AS labels,
    r.reason,
    (SELECT arg_max(w.reward, w.assigned_at) FROM rewards AS w WHERE w.run_id = r.run_id) AS reward
FROM runs AS r
WHERE (CAST(? AS VARCHAR) IS NULL OR r.status = ?)
ORDER BY requested_at DESC NULLS LAST, r.run_id
LIMIT ?
"""
LABEL_SCAN_ROWS = 5000
RUN_EVENTS = "SELECT payload FROM events WHERE run_id = ? AND known ORDER BY occurred_at, kafka_offset"
CHARTS = {
    "tool_latency": (
        "p95 tool latency (s)",
        "SELECT tool, p95_s FROM tool_latency ORDER BY p95_s DESC NULLS LAST LIMIT 8",
        " s",
    ),
    "speedup": (
        "speedup of the latest runs (one by one / makespan)",
        "SELECT left(run_id, 12), speedup FROM run_speedup ORDER BY finished_at DESC NULLS LAST LIMIT 8",
        "x",
    ),
    "error_rates": (
        "error rate per tool",
        "SELECT tool, error_rate FROM tool_error_rates ORDER BY error_rate DESC, tool LIMIT 8",
        "",
    ),
    "tokens": (
        "tokens per tool or model",
        "SELECT coalesce(tool_name, request_model, operation_name), total_tokens FROM token_use "
        "ORDER BY total_tokens DESC NULLS LAST LIMIT 8",
        "",
    ),
}
REWARDS = "SELECT reward FROM rewards ORDER BY assigned_at, event_id"
POLICIES = """
SELECT version, max_parallelism, gap_threshold, max_attempts, round(mean_reward, 3) AS mean_reward, reason,
       updated_at
FROM policies ORDER BY version DESC LIMIT 20
"""


class WarehouseViews:
    def __init__(self, settings: WarehouseSettings, *, max_rows: int, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._max_rows = max_rows
        self._timeout_s = timeout_s

    def runs(self, *, status: str | None, label: str | None, limit: int) -> list[dict[str, Any]]:
        # Labels are filtered here, as on the live board (board.label_matches); from enough rows to fill the page.
        with self._reader() as reader:
            result = reader.query(RUNS, [status, status, limit if label is None else LABEL_SCAN_ROWS])
        rows = [_run_row(record) for record in result.records()]
        return [row for row in rows if label is None or label_matches(row["labels"], label)][:limit]

    def run(self, run_id: str) -> RunState | None:
        """The run folded from its stored events (scrubbed as stored), or None when the warehouse has none."""
        with self._reader() as reader:
            payloads = [row[0] for row in reader.query(RUN_EVENTS, [run_id]).rows]
        events = []
        for payload in payloads:
            try:
                event = decode_event(payload.encode() if isinstance(payload, str) else payload)
            except UndecodableEvent:
                continue  # stored raw by an older writer: nothing this page can show
            if not isinstance(event, UnknownEvent):
                events.append(event)
        return fold(run_id, events) if events else None

    def sql(self, query: str) -> tuple[QueryResult, bool, str]:
        """The query's columns and rows (at most sql_max_rows), whether more were cut off, and where they came from.
        A query still running after the time limit is interrupted: one user's cross join must not hold a worker
        thread and a core for as long as it likes."""
        single_select(query)
        with self._reader() as reader:
            limit = threading.Timer(self._timeout_s, reader.connection.interrupt)
            limit.start()
            try:
                cursor = reader.connection.execute(query)
                rows = cursor.fetchmany(self._max_rows + 1)
            except duckdb.InterruptException:
                raise BadQuery(
                    f"the query ran longer than console.sql_timeout_s ({self._timeout_s:g} s) and was stopped"
                ) from None
            except duckdb.Error as error:
                raise BadQuery(str(error).splitlines()[0] if str(error) else type(error).__name__) from None
            finally:
                limit.cancel()
            columns = [column[0] for column in cursor.description or []]
            return QueryResult(columns, rows[: self._max_rows]), len(rows) > self._max_rows, reader.source

    def charts(self) -> dict[str, str]:
        with self._reader() as reader:
            drawn = {
                name: charts.bars(
                    title, [(str(label), _number(value)) for label, value in reader.query(sql).rows], unit
                )
                for name, (title, sql, unit) in CHARTS.items()
            }
            rewards = [row[0] for row in reader.query(REWARDS).rows]
            policies = reader.query(POLICIES).records()
        drawn["rewards"] = charts.line(
            "reward per scored run, in the order the trainer scored them",
            [(float(index), float(value)) for index, value in enumerate(rewards, start=1)],
            x_label="scored runs →",
            y_label="reward",
        )
        return drawn | {"policies": policies}  # type: ignore[dict-item]

    @contextmanager
    def _reader(self) -> Iterator[Reader]:
        reader = open_reader(self._settings)
        try:
            fence(reader.connection, self._settings)
            yield reader
        finally:
            reader.close()


def fence(connection: duckdb.DuckDBPyConnection, settings: WarehouseSettings) -> None:
    """No file access beyond the snapshots the views read, and no way to turn that back on."""
    connection.execute(f"SET allowed_directories = [{literal(f'{settings.snapshot_dir}/')}]")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def examples() -> list[NamedStatement]:
    return list(named_statements("examples.sql").values())


def _run_row(record: dict[str, Any]) -> dict[str, Any]:
    labels = json.loads(record["labels"]) if record["labels"] else {}
    requested: datetime | None = record["requested_at"]
    return {
        "run_id": record["run_id"],
        "status": record["status"],
        "requested_at": requested.isoformat() if requested else None,
        "tasks": record["tasks"],
        "settled": None,
        "running": 0,
        "makespan_s": _number(record["makespan_s"], 2),
        "critical_path_s": _number(record["critical_path_s"], 2),
        "speedup": _number(record["speedup"], 2),
        "reward": _number(record["reward"], 3),
        "labels": labels if isinstance(labels, dict) else {},
        "reason": record["reason"],
        "source": "warehouse",
    }


def _number(value: Any, digits: int | None = None) -> float | None:
    if value is None:
        return None
    return round(float(value), digits) if digits is not None else float(value)
