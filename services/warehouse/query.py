"""Answering analysts' SQL without disturbing the writer.

DuckDB lets one process hold a database file for writing. While the warehouse service runs, a reader gets an
in-memory database whose tables are views over the Parquet snapshots (plus the same analyst views as the file);
when no writer holds the file, the reader opens the file itself, read-only. Either way the tables and views have
the same names and columns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from services.warehouse.core.tables import EVENT_TABLES
from services.warehouse.settings import WarehouseSettings
from services.warehouse.snapshots import snapshot_files
from services.warehouse.sql import literal, script


class WarehouseUnavailable(RuntimeError):
    """There is nothing to read yet, or the file cannot be opened; the message says what to do."""


class BadQuery(ValueError):
    """DuckDB refused the SQL; the message is DuckDB's."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Reader:
    def __init__(self, connection: duckdb.DuckDBPyConnection, source: str) -> None:
        self.connection = connection
        self.source = source  # where the answers come from, for people
        connection.execute("SET TimeZone = 'UTC'")

    def query(self, sql: str, parameters: list[Any] | None = None) -> QueryResult:
        try:
            cursor = self.connection.execute(sql, parameters or [])
            rows = cursor.fetchall()
        except duckdb.Error as error:
            raise BadQuery(str(error)) from None
        columns = [column[0] for column in cursor.description or []]
        return QueryResult(columns, rows)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_reader(settings: WarehouseSettings) -> Reader:
    path = settings.database_path
    if path.exists():
        try:
            return Reader(duckdb.connect(str(path), read_only=True), f"{path} (read-only; no writer running)")
        except (duckdb.IOException, duckdb.ConnectionException) as error:
            # Another process's writer holds the file's lock; a writer in this process (tests, an embedded
            # warehouse) makes DuckDB refuse a second, read-only configuration instead.
            if not any(sign in str(error).lower() for sign in ("lock", "different configuration")):
                raise WarehouseUnavailable(f"cannot open {path}: {error}") from None
    snapshot = _newest_snapshot(settings.snapshot_dir)
    if snapshot is None:
        if path.exists():
            raise WarehouseUnavailable(
                f"the warehouse service holds {path} and has not written a snapshot yet "
                f"(it writes one every {settings.snapshot_interval_s:g} s once events arrive); try again shortly"
            )
        raise WarehouseUnavailable(f"no warehouse in {settings.root}: start it with `genesis up`")
    return snapshot_reader(settings.snapshot_dir, f"snapshots in {settings.snapshot_dir}, {_age(snapshot)}")


def snapshot_reader(root: Path, source: str) -> Reader:
    """An in-memory database over the snapshot files; tables without files yet are empty."""
    connection = duckdb.connect()
    for spec in EVENT_TABLES:
        files = snapshot_files(root, spec.name)
        if files:
            listed = ", ".join(literal(path) for path in files)
            connection.execute(
                f"CREATE VIEW {spec.name} AS SELECT * FROM read_parquet([{listed}], "
                # union_by_name: days snapshotted before a column was added (trace ids) read as nulls there.
                "hive_partitioning = true, hive_types = {'day': DATE}, union_by_name = true)"
            )
        else:
            connection.register("empty", spec.schema.empty_table())
            connection.execute(f"CREATE TABLE {spec.name} AS SELECT * FROM empty")
            connection.unregister("empty")
    connection.execute(script("views.sql"))
    return Reader(connection, source)


def _newest_snapshot(root: Path) -> float | None:
    times = [path.stat().st_mtime for path in root.glob("*/day=*/*.parquet")] if root.exists() else []
    return max(times, default=None)


def _age(mtime: float) -> str:
    return f"last written {max(0.0, time.time() - mtime):.0f} s ago"
