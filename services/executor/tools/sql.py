"""``sql``: one read-only query against DuckDB.

By default the database is in memory and holds the knowledge base as tables (``countries``, ``films``), so the
tool works offline. A configured database file is opened read-only. Either way only a single SELECT (including
WITH ... SELECT) is accepted, judged by DuckDB's own parser rather than by the first word of the text, and file
access from SQL (read_csv('/etc/...'), ATTACH, COPY) is switched off and locked, as are DuckDB's memory and thread
limits; a query past its time limit is interrupted.

Values from other tasks go in ``params`` and are bound by DuckDB (``?`` or ``$1`` positional with a list,
``$name`` with an object), never pasted into the text: ``sql(query="SELECT * FROM countries WHERE name = ?",
params=[$1])``.
"""

from __future__ import annotations

import asyncio
import decimal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow

from services.executor.tools.knowledge_base import KnowledgeBase
from services.executor.tools.registry import ToolArgumentsError, ToolError, ToolSpec

MAX_ROWS = 200
LOCKED_DOWN = {"enable_external_access": False, "lock_configuration": True}


@dataclass(frozen=True)
class SqlLimits:
    memory_limit: str = "256MB"
    threads: int = 2
    timeout_s: float = 10.0

    def config(self) -> dict[str, str | int | bool]:
        # lock_configuration last: once set, no query can raise these limits again.
        return {"memory_limit": self.memory_limit, "threads": self.threads, **LOCKED_DOWN}


def open_database(
    database: Path | None, kb: KnowledgeBase, limits: SqlLimits | None = None
) -> duckdb.DuckDBPyConnection:
    config = (limits or SqlLimits()).config()
    if database is not None:
        return duckdb.connect(str(database), read_only=True, config=config)
    connection = duckdb.connect(":memory:")
    for table, rows in kb.table_rows().items():
        connection.from_arrow(pyarrow.Table.from_pylist(rows)).create(table)
    # Set after loading: from here on nothing in SQL can reach the file system or undo this.
    for option, value in config.items():
        connection.execute(f"SET {option} = ?", [value])
    return connection


def check_read_only(query: str) -> None:
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as error:
        raise ToolArgumentsError(f"sql: argument 'query' does not parse: {error}") from None
    if len(statements) != 1:
        raise ToolArgumentsError(f"sql: argument 'query' must hold exactly one statement, got {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise ToolArgumentsError(f"sql: argument 'query' must be a read-only SELECT, got {statements[0].type.name}")


def _plain(value: Any) -> Any:
    # Results travel as JSON: DuckDB's decimals, dates and intervals become numbers or text.
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def check_params(params: Any) -> list[Any] | dict[str, Any] | None:
    if params is None or isinstance(params, list | dict):
        return params
    # A single upstream value (params=$1) binds as the one positional parameter.
    if isinstance(params, str | int | float | bool):
        return [params]
    raise ToolArgumentsError("sql: argument 'params' must be a list (for ? or $1) or an object (for $name)")


def make_sql(connection: duckdb.DuckDBPyConnection, limits: SqlLimits | None = None) -> ToolSpec:
    limits = limits or SqlLimits()

    def run(cursor: duckdb.DuckDBPyConnection, query: str, params: list[Any] | dict[str, Any] | None) -> Any:
        # The cursor is closed here, in its own thread, never while a query still runs on it.
        with cursor:
            result = cursor.execute(query, params)
            columns = [column[0] for column in result.description]
            rows = result.fetchmany(MAX_ROWS + 1)
        if len(rows) == 1 and len(columns) == 1:
            # One value ("SELECT population FROM countries WHERE ...") is returned bare, ready for arithmetic.
            return _plain(rows[0][0])
        if len(rows) > MAX_ROWS:
            raise ToolArgumentsError(f"sql: the query returns more than {MAX_ROWS} rows; add a LIMIT or aggregate")
        return [{column: _plain(value) for column, value in zip(columns, row, strict=True)} for row in rows]

    async def sql(query: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        if not isinstance(query, str) or not query.strip():
            raise ToolArgumentsError("sql: argument 'query' must be a non-empty string")
        check_read_only(query)
        bound = check_params(params)
        # A cursor per call: DuckDB connections are not shared between threads, cursors are cheap.
        cursor = connection.cursor()
        try:
            return await asyncio.to_thread(run, cursor, query, bound)
        except asyncio.CancelledError:
            # Timed out: stop the query in its thread too, or it keeps a core busy after we gave up on it.
            cursor.interrupt()
            raise
        except duckdb.Error as error:
            raise ToolError(f"sql: {type(error).__name__}: {error}", retryable=False) from None

    return ToolSpec(
        name="sql",
        fn=sql,
        description=(
            "Run one read-only SQL SELECT on DuckDB; tables countries and films hold the knowledge base. "
            "Pass other tasks' results in params (bound to ? or $name), never inside the query text."
        ),
        timeout_s=limits.timeout_s,
    )
