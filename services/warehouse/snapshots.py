"""Parquet snapshots for analysts: `<dir>/<table>/day=YYYY-MM-DD/data.parquet`, one file per table and day.

DuckDB lets one process hold a database file for writing, so analysts read these files while the writer runs.
Only the days a batch touched are rewritten. Each file is written beside its final name and renamed over it,
so a reader sees the old file or the new one, never half of one; all files of one snapshot are exported in a
single read transaction, so they show the same moment of the warehouse.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb

from services.warehouse.core.tables import EVENT_TABLES

SNAPSHOT_TABLES = tuple(spec.name for spec in EVENT_TABLES)
FILE_NAME = "data.parquet"
PARTIAL_NAME = ".data.parquet.partial"  # does not match *.parquet, so readers never pick it up


def partition_dir(root: Path, table: str, day: date) -> Path:
    return root / table / f"day={day.isoformat()}"


def every_day(connection: duckdb.DuckDBPyConnection) -> dict[str, set[date]]:
    """Every (table, day) the warehouse holds: what a first snapshot after start-up writes."""
    return {
        table: {row[0] for row in connection.execute(f"SELECT DISTINCT day FROM {table}").fetchall()}
        for table in SNAPSHOT_TABLES
    }


def write_snapshot(connection: duckdb.DuckDBPyConnection, root: Path, touched: dict[str, set[date]]) -> int:
    """Rewrite the partitions of the touched days; returns the number of files written."""
    written = 0
    connection.begin()
    try:
        for table in SNAPSHOT_TABLES:
            for day in sorted(touched.get(table, ())):
                target = partition_dir(root, table, day) / FILE_NAME
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(PARTIAL_NAME)
                # COPY takes no parameters; the day is a date's ISO form and the path is ours, quotes doubled.
                connection.execute(
                    f"COPY (SELECT * EXCLUDE (day) FROM {table} WHERE day = DATE '{day.isoformat()}') "
                    f"TO '{_sql_string(partial)}' (FORMAT parquet)"
                )
                os.replace(partial, target)
                written += 1
    finally:
        connection.commit()  # a read-only transaction: nothing to keep or undo
    return written


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")
