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
                self._run(EVENTS.name, batch.events)
                fresh = None
            except duckdb.ConstraintException:
                # The batch repeats an event stored before (a producer published it twice): start the
                # transaction again and store only the events that are new.
                self.connection.rollback()
                self.connection.begin()
                fresh = {row[0] for row in self._run(EVENTS.name, batch.events, statement="events_not_stored")}
            return self._write_derived(batch, fresh)
        except BaseException as error:
            self._failed = error
            self.connection.rollback()
            raise

    def _write_derived(self, batch: PreparedBatch, fresh: set[str] | None) -> WriteResult:
        """The rest of the batch's transaction, after its events: derived rows, offsets, commit.

        ``fresh`` holds the ids of the events that were new, or is None when all of them were.
        """
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
            written = self._run(name, table)
            result.touched[name] = {row[0] for row in written} if name in UPSERTED else _days(table)
        if batch.offsets.num_rows:
            self._run(KAFKA_OFFSETS.name, batch.offsets)
        self.connection.commit()
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
