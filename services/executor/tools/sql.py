"""``sql``: one read-only query against DuckDB.

By default the database is in memory and holds the knowledge base as tables (``countries``, ``films``), so the
tool works offline. A configured database file is opened read-only. Either way only a single SELECT (including
WITH ... SELECT) is accepted, judged by DuckDB's own parser rather than by the first word of the text, and file
access from SQL (read_csv('/etc/...'), ATTACH, COPY) is switched off and locked.
"""

from __future__ import annotations

import asyncio
import decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow

from services.executor.tools.knowledge_base import KnowledgeBase
from services.executor.tools.registry import ToolArgumentsError, ToolError, ToolSpec

MAX_ROWS = 200
LOCKED_DOWN = {"enable_external_access": False, "lock_configuration": True}


def open_database(database: Path | None, kb: KnowledgeBase) -> duckdb.DuckDBPyConnection:
    if database is not None:
        return duckdb.connect(str(database), read_only=True, config=LOCKED_DOWN)
    connection = duckdb.connect(":memory:")
    for table, rows in kb.table_rows().items():
        connection.from_arrow(pyarrow.Table.from_pylist(rows)).create(table)
    # Set after loading: from here on nothing in SQL can reach the file system or undo this.
    for option, value in LOCKED_DOWN.items():
        connection.execute(f"SET {option} = {str(value).lower()}")
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


def make_sql(connection: duckdb.DuckDBPyConnection) -> ToolSpec:
    def run(cursor: duckdb.DuckDBPyConnection, query: str) -> Any:
        # The cursor is closed here, in its own thread, never while a query still runs on it.
        with cursor:
            result = cursor.execute(query)
            columns = [column[0] for column in result.description]
            rows = result.fetchmany(MAX_ROWS + 1)
        if len(rows) == 1 and len(columns) == 1:
            # One value ("SELECT population FROM countries WHERE ...") is returned bare, ready for arithmetic.
            return _plain(rows[0][0])
        if len(rows) > MAX_ROWS:
            raise ToolArgumentsError(f"sql: the query returns more than {MAX_ROWS} rows; add a LIMIT or aggregate")
        return [{column: _plain(value) for column, value in zip(columns, row, strict=True)} for row in rows]

    async def sql(query: str) -> Any:
        if not isinstance(query, str) or not query.strip():
            raise ToolArgumentsError("sql: argument 'query' must be a non-empty string")
        check_read_only(query)
        # A cursor per call: DuckDB connections are not shared between threads, cursors are cheap.
        cursor = connection.cursor()
        try:
            return await asyncio.to_thread(run, cursor, query)
        except asyncio.CancelledError:
            # Timed out: stop the query in its thread too, or it keeps a core busy after we gave up on it.
            cursor.interrupt()
            raise
        except duckdb.Error as error:
            raise ToolError(f"sql: {type(error).__name__}: {error}", retryable=False) from None

    return ToolSpec(
        name="sql",
        fn=sql,
        description="Run one read-only SQL SELECT on DuckDB; tables countries and films hold the knowledge base.",
        timeout_s=30.0,
    )
