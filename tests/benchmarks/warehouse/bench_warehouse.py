"""Warehouse benchmark: the writer core's sustained ingest rate, and the analyst queries at a million attempts.

Run: uv run python -m tests.benchmarks.warehouse.bench_warehouse [--attempts N] [--batch N] [--repeat R] [--dir D]
     [--random-ids] [--no-scrub] [--prepare-on-thread] [--as-consumed]

Not a timed test: the figures depend on the machine. What is measured:
  ingest   The writer core exactly as the service runs it, minus Kafka: synthetic records (generated first, as the
           consumer would hand them over) are cut into batches, each decoded, scrubbed for PII (on, the default),
           mapped to rows and Arrow tables by the preparer, and committed with its Kafka offsets in one
           DuckDB transaction on the database thread while the next batch is prepared. events/s = events over the
           wall time from the first batch to the last commit; DuckDB's automatic checkpoints fall inside it. The
           final checkpoint when the file is closed is timed separately. Event ids are time-ordered (UUIDv7, as
           this project's producers write them); --random-ids gives random v4 ids instead, as other producers
           may write them, which makes the index on event_id costlier. --no-scrub turns PII scrubbing off.
           Batches are prepared in a worker process, as in the service; --prepare-on-thread on a thread.
           Records come in the order they were generated, whole runs together, so most task attempts are
           dispatched and finished within one batch; --as-consumed orders them as a consumer reading the
           topics' backlog gets them (partition by partition, a fetch at a time), which splits every attempt
           over two batches and makes the second an update of the row the first inserted.
  snapshot One full Parquet snapshot of every table and day (what the service writes after a restart); then,
           once the rows of --tail-runs more runs are appended (copies of the last runs under new ids: about 5 s of
           `genesis bench load`'s runs), the next snapshot as the service writes it (a part per table and day)
           side by side with rewriting every day whole (how each snapshot was written before parts).
  queries  Every documented analyst query (services/warehouse/sql/examples.sql), against the DuckDB file opened
           read-only (no writer running) and against the snapshots (how analysts read while the writer runs):
           the first (cold) run and the median of the next --repeat runs.
Targets on this two-core machine: at least 50,000 events/s ingest, every query under 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.warehouse.bootstrap import build_preparer
from services.warehouse.core.batch import Batch, RawRecord
from services.warehouse.query import Reader, snapshot_reader
from services.warehouse.settings import WarehouseSettings
from services.warehouse.snapshots import SNAPSHOT_TABLES, Snapshots
from services.warehouse.sql import named_statements
from services.warehouse.store import WarehouseStore
from services.warehouse.tuning import tune_process_for_ingest
from services.warehouse.writer import BatchWriter
from tests.benchmarks.warehouse.synthetic import SyntheticStream, as_consumed

INGEST_TARGET = 50_000
QUERY_TARGET_MS = 500.0
console = Console()


def generate(attempts: int, seed: int, *, random_ids: bool) -> tuple[list[RawRecord], SyntheticStream]:
    stream = SyntheticStream(seed, random_ids=random_ids)
    records: list[RawRecord] = []
    with _progress() as progress:
        task = progress.add_task("generating events", total=attempts)
        for record in stream.records(attempts):
            records.append(record)
            if len(records) % 10_000 == 0:
                progress.update(task, completed=stream.attempts)
        progress.update(task, completed=stream.attempts)
    return records, stream


async def ingest(records: list[RawRecord], settings: WarehouseSettings) -> tuple[float, float]:
    """Seconds for the whole stream, and for the final checkpoint."""
    store = WarehouseStore.open(settings.database_path, checkpoint_threshold=settings.checkpoint_threshold, timeout_s=5)
    writer = BatchWriter(store, build_preparer(settings))
    await writer.start()
    size = settings.batch_max_events
    with _progress() as progress:
        task = progress.add_task("ingesting", total=len(records))
        started = time.perf_counter()
        for start in range(0, len(records), size):
            batch = Batch()
            for record in records[start : start + size]:
                batch.add(record, 0.0)
            await writer.commit(await writer.prepare(batch))
            progress.update(task, completed=start + len(batch))
        await writer.settled()
        elapsed = time.perf_counter() - started
    assert writer.events == len(records), (writer.events, len(records))
    closing = time.perf_counter()
    await writer.close()
    return elapsed, time.perf_counter() - closing


def time_next_snapshot(connection: duckdb.DuckDBPyConnection, snapshots: Snapshots, root: Path, runs: int) -> None:
    """The snapshot after ``runs`` more runs' rows, written in parts, against every day rewritten whole."""
    connection.execute(f"CREATE TEMP TABLE again AS SELECT run_id FROM runs ORDER BY rowid DESC LIMIT {runs}")
    appended = 0
    for table in SNAPSHOT_TABLES:
        columns = {row[0] for row in connection.execute(f"DESCRIBE {table}").fetchall()}
        if "run_id" not in columns:
            continue
        renamed = ", ".join(f"{column} || '~' AS {column}" for column in ("run_id", "event_id") if column in columns)
        appended += connection.execute(
            f"INSERT INTO {table} SELECT * REPLACE ({renamed}) FROM {table} WHERE run_id IN (SELECT run_id FROM again)"
        ).fetchone()[0]
    days = {row[0] for row in connection.execute("SELECT DISTINCT day FROM runs WHERE run_id LIKE '%~'").fetchall()}
    started = time.perf_counter()
    files = snapshots.write(connection.cursor(), {"runs": days})
    in_parts = time.perf_counter() - started
    started = time.perf_counter()
    whole = Snapshots(root / "whole-days").write(connection.cursor())
    rewritten = time.perf_counter() - started
    console.print(
        f"next snapshot, {runs:,} runs later ({appended:,} rows): [bold]{in_parts * 1000:,.0f} ms[/] in parts "
        f"({files} files) against {rewritten * 1000:,.0f} ms rewriting every day ({whole} files)"
    )


def time_queries(reader: Reader, repeat: int) -> dict[str, tuple[float, float]]:
    """Per documented query: the first run and the median of the next ``repeat`` runs, in milliseconds."""
    timings = {}
    for name, query in named_statements("examples.sql").items():
        runs = []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            reader.query(query.sql)
            runs.append((time.perf_counter() - started) * 1000)
        timings[name] = (runs[0], statistics.median(runs[1:]))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=1_000_000, help="task attempts to generate")
    parser.add_argument("--batch", type=int, default=WarehouseSettings().batch_max_events, help="events per batch")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each query after the first")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tail-runs", type=int, default=1_250, help="runs appended before the second snapshot")
    parser.add_argument("--dir", type=Path, default=None, help="where the warehouse goes (default: a temporary dir)")
    parser.add_argument("--random-ids", action="store_true", help="random (v4) event ids instead of time-ordered")
    parser.add_argument("--no-scrub", action="store_true", help="store text without PII scrubbing")
    parser.add_argument(
        "--as-consumed", action="store_true", help="records in the order a consumer reading a backlog gets them"
    )
    parser.add_argument("--prepare-on-thread", action="store_true", help="prepare on a thread, not a worker process")
    args = parser.parse_args()

    root = args.dir or Path(tempfile.mkdtemp(prefix="warehouse-bench-"))
    shutil.rmtree(root, ignore_errors=True)
    settings = WarehouseSettings(
        dir=str(root),
        batch_max_events=args.batch,
        scrub_pii=not args.no_scrub,
        prepare_in_process=not args.prepare_on_thread,
    )
    tune_process_for_ingest()  # as the service's bootstrap does
    records, stream = generate(args.attempts, args.seed, random_ids=args.random_ids)
    if args.as_consumed:
        records = as_consumed(records)
    # The generated records stay in memory for the whole run, which a service never does: keep the collector
    # from rescanning them, so the figure is the writer's and not an artefact of generating everything first.
    gc.freeze()
    console.print(f"{len(records):,} events: {stream.runs:,} runs, {stream.attempts:,} task attempts")

    elapsed, checkpoint_s = asyncio.run(ingest(records, settings))
    rate = len(records) / elapsed
    size_mb = settings.database_path.stat().st_size / 1e6
    console.print(
        f"[bold]ingest: {rate:,.0f} events/s[/] ({len(records):,} events in {elapsed:.1f} s, "
        f"batches of {args.batch:,}, "
        f"{'random v4' if args.random_ids else 'time-ordered v7'} event ids, "
        f"{'as consumed from a backlog' if args.as_consumed else 'whole runs per batch'}, "
        f"PII scrubbing {'off' if args.no_scrub else 'on'}, "
        f"prepared {'on a thread' if args.prepare_on_thread else 'in a worker process'}; "
        f"final checkpoint {checkpoint_s:.1f} s; file {size_mb:,.0f} MB) "
        + ("[green]meets[/]" if rate >= INGEST_TARGET else "[red]misses[/]")
        + f" the {INGEST_TARGET:,}/s target"
    )
    del records
    gc.unfreeze()

    with duckdb.connect(str(settings.database_path)) as connection:
        snapshots = Snapshots(settings.snapshot_dir)
        with console.status("writing a full Parquet snapshot"):
            started = time.perf_counter()
            files = snapshots.write(connection.cursor())
            console.print(f"snapshot: {files} files in {time.perf_counter() - started:.1f} s")
        time_next_snapshot(connection, snapshots, root, args.tail_runs)
        attempts = connection.execute("SELECT count(*) FROM task_attempts").fetchone()[0]

    with Reader(duckdb.connect(str(settings.database_path), read_only=True), "file") as reader:
        on_file = time_queries(reader, args.repeat)
    with snapshot_reader(settings.snapshot_dir, "snapshots") as reader:
        on_snapshots = time_queries(reader, args.repeat)
    table = Table(
        f"query ({attempts:,} task attempts)",
        "file: first ms",
        "file: median ms",
        "snapshots: first ms",
        "snapshots: median ms",
    )
    for name in on_file:
        cells = [*on_file[name], *on_snapshots[name]]
        table.add_row(name, *(f"[red]{ms:.0f}" if ms >= QUERY_TARGET_MS else f"{ms:.0f}" for ms in cells))
    console.print(table)
    slowest = max(max(cells) for cells in (*on_file.values(), *on_snapshots.values()))
    verdict = "[green]meets[/]" if slowest < QUERY_TARGET_MS else "[red]misses[/]"
    console.print(f"slowest query run: {slowest:.0f} ms, {verdict} the {QUERY_TARGET_MS:.0f} ms target")
    if args.dir is None:
        shutil.rmtree(root, ignore_errors=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


if __name__ == "__main__":
    main()
