"""The writer's DuckDB side: the schema, and one transaction per batch that holds its rows and its offsets.

Exactly-once rests on that transaction: the rows of a batch and the Kafka offsets just past it commit together or
not at all, and a restarted consumer starts from the stored offsets. A crash anywhere (before, during or after the
commit, or between it and the informational Kafka commit) therefore neither loses nor repeats a row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from services.warehouse.core.batch import Partition
from services.warehouse.core.prepare import PreparedBatch
from services.warehouse.core.tables import EVENTS, KAFKA_OFFSETS, UPSERTED
from services.warehouse.sql import named_statements, script

_WRITES = named_statements("writes.sql")
_LOCK_RETRY_S = 0.1


class BatchRefused(RuntimeError):
    pass


@dataclass
class WriteResult:
    events: int = 0  # new events stored
    repeated: int = 0  # events whose id was already stored (kept once)
    # Per table, the days whose rows changed: the snapshot partitions to rewrite.
    touched: dict[str, set[date]] = field(default_factory=dict)


class WarehouseStore:
    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self._failed: BaseException | None = None
        connection.execute(script("schema.sql"))
        _migrate(connection)
        connection.execute(script("views.sql"))

    @classmethod
    def open(cls, path: Path, *, checkpoint_threshold: str, timeout_s: float) -> WarehouseStore:
        """Open the file for writing; a reader holding it briefly (`genesis warehouse sql`) is waited for.

        DuckDB gets one thread: the writer's other thread prepares the next batch on the second core.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                config = {"checkpoint_threshold": checkpoint_threshold, "threads": 1}
                return cls(duckdb.connect(str(path), config=config))
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(_LOCK_RETRY_S)

    def stored_offsets(self) -> dict[Partition, int]:
        rows = self.connection.execute("SELECT topic, partition, next_offset FROM kafka_offsets").fetchall()
        return {(topic, partition): next_offset for topic, partition, next_offset in rows}

    def count(self, table: str) -> int:
        return self.connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]

    def commit(self, batch: PreparedBatch) -> WriteResult:
        """Store a prepared batch and the offsets it reached, in one transaction.

        After a failed commit every later one is refused: batches are handed over ahead of their commit, and a
        later batch's offsets are past the failed batch's records, so committing it would lose them.
        """
        if self._failed is not None:
            raise BatchRefused(
                "an earlier batch failed to commit; restart to resume from the stored offsets"
            ) from self._failed
        self.connection.begin()
        try:
            try:
                result = self._write(batch, skip_stored=False)
            except duckdb.ConstraintException:
                # The batch repeats something stored before (an event published twice, a second report of an
                # attempt's dispatch or end): start the transaction again and skip what is stored.
                self.connection.rollback()
                self.connection.begin()
                result = self._write(batch, skip_stored=True)
            self.connection.commit()
        except BaseException as error:
            self._failed = error
            self.connection.rollback()
            raise
        return result

    def _write(self, batch: PreparedBatch, *, skip_stored: bool) -> WriteResult:
        """The batch's rows and offsets, inside the open transaction.

        Plain inserts unless ``skip_stored``: checking every row for a conflict costs about three times as much,
        and almost no batch repeats anything.
        """
        fresh = None
        if skip_stored:
            fresh = {row[0] for row in self._run(EVENTS.name, batch.events, statement="events_not_stored")}
        else:
            self._run(EVENTS.name, batch.events)
        result = WriteResult()
        stored = batch.unique if fresh is None else len(fresh)
        result.events, result.repeated = stored, batch.received - stored
        if stored == batch.unique:
            derived = batch.derived
        elif batch.derive_only is None:
            raise BatchRefused("the batch repeats stored events, and whoever prepared it left no way to derive anew")
        else:
            derived = batch.derive_only(fresh or ())
        if stored:
            result.touched[EVENTS.name] = _days(batch.events)
        for name, table in derived.items():
            careful = f"{name}_not_stored"
            written = self._run(name, table, statement=careful if skip_stored and careful in _WRITES else name)
            result.touched[name] = {row[0] for row in written} if name in UPSERTED else _days(table)
        if batch.offsets.num_rows:
            self._run(KAFKA_OFFSETS.name, batch.offsets)
        return result

    def close(self) -> None:
        self.connection.close()

    def _run(self, name: str, table: pa.Table, *, statement: str | None = None) -> list[tuple[Any, ...]]:
        """Run the write named ``statement`` (default: the table's name) with the batch's rows for table ``name``
        registered as `batch_<name>`; its RETURNING rows.

        Runs inside the batch's transaction: when the statement fails, the rollback that follows drops the view
        too (DuckDB cannot unregister it in a failed transaction).
        """
        view = f"batch_{name}"
        self.connection.register(view, table)
        rows = self.connection.execute(_WRITES[statement or name].sql).fetchall()
        self.connection.unregister(view)
        return rows


def _days(table: pa.Table) -> set[date]:
    return set(pc.unique(table.column("day")).to_pylist())


def _migrate(connection: duckdb.DuckDBPyConnection) -> None:
    """Bring a warehouse written by an earlier version to this schema."""
    found = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'task_attempts' AND schema_name = 'main'"
    ).fetchone()
    if found and found[0]:  # task_attempts was a table; it is now a view over task_dispatches and task_ends
        connection.execute(script("migrate_task_attempts.sql"))
    # Trace and span ids came later; they end the tables, where ADD COLUMN puts them in a file written before.
    connection.execute(script("migrate_trace_ids.sql"))
