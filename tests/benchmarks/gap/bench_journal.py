"""What journal snapshots (planner.journal_snapshot_records) change for a take-over of long-lived runs.

    uv run python -m tests.benchmarks.gap.bench_journal [--runs 40] [--tasks 64] [--settings 0,64,16]

Each run has ``tasks`` independent tasks and a join; every task fails twice before it succeeds (retries), and the
run's journal is flushed after every change through the planner's RunBook. Per setting of snapshot_records: the
records and bytes written, the time to replay one run from its records, and, on a real broker, the time
read_latest_records (the planner's restore reader, best of 9) takes to read one journal partition holding ``runs`` such
journals, as the log cleaner leaves it (the live records) and as written (every record, replaced ones included:
what a take-over reads before the cleaner has compacted the segment). Without KAFKA_BOOTSTRAP_SERVERS a local broker
is started on free ports and stopped after.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import typer
from aiokafka import AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import track
from rich.table import Table

from schemas import Policy
from services.planner.core.journal import group_journal
from services.planner.runbook import RunBook, replay_journal
from streams.admin import ensure_topics
from streams.catalogue import PLANNER_JOURNAL, Catalogue
from streams.reading import read_latest_records
from tests.support.kafka import real_kafka
from tests.unit.planner.runs import at, counting_ids, error, ok, start

Record = tuple[bytes, bytes | None]


@dataclass
class Journal:
    written: list[Record]  # every record, in order, tombstones included
    live: dict[bytes, bytes]  # what compaction keeps
    replay_ms: float


def plan(tasks: int) -> str:
    independent = [f"Task {n}: sleep(seconds=1) | Dependencies: none" for n in range(1, tasks + 1)]
    join = f"Task {tasks + 1}: sleep(seconds=1) | Dependencies: " + ", ".join(f"Task {n}" for n in range(1, tasks + 1))
    return "\n".join([*independent, join])


def journal(tasks: int, snapshot_records: int, run_id: str) -> Journal:
    book = RunBook(10, snapshot_records=snapshot_records)
    state, _ = start(plan(tasks), policy=Policy(max_attempts=3))
    book.hold(state, 0)
    written: list[Record] = []
    live: dict[bytes, bytes] = {}

    def flush() -> None:
        if (write := book.journal_write(state)) is None:
            return
        for key, value in write.records:
            key = run_id.encode() + key.removeprefix(state.run_id.encode())
            written.append((key, value))
            if value is None:
                live.pop(key, None)
            else:
                live[key] = value
        book.journaled(write)

    flush()
    now = 0.0
    for attempt in (1, 2, 3):
        for n in range(1, tasks + 1):
            now += 0.01
            result = (
                ok(str(n), started_s=now, finished_s=now, result="r" * 200, attempt=attempt)
                if attempt == 3
                else error(str(n), at_s=now, attempt=attempt)
            )
            state.on_task_finished(result, at(now))
            flush()
        now += 10  # past the backoff: the retries are dispatched
        state.on_tick(at(now))
        flush()
    began = time.perf_counter()
    [(_, records)] = group_journal(live).items()
    restored, _ = replay_journal(records, new_id=counting_ids("r"))
    replay_ms = (time.perf_counter() - began) * 1000
    assert restored.history == state.history
    return Journal(written, live, replay_ms)


async def read_ms(bootstrap: str, producer: AIOKafkaProducer, records: list[Record], repeats: int = 9) -> float:
    """The best of ``repeats`` reads (the machine is shared: the best is the least disturbed)."""
    catalogue = Catalogue(prefix=f"bj{uuid.uuid4().hex[:8]}")
    await ensure_topics(bootstrap, catalogue)
    topic = catalogue.name(PLANNER_JOURNAL)
    for key, value in records:
        await producer.send(topic, value, key=key, partition=0)
    await producer.flush()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        await read_latest_records(bootstrap, [TopicPartition(topic, 0)], timeout_s=300)
        times.append(time.perf_counter() - began)
    return min(times) * 1000


async def measure(bootstrap: str, runs: int, tasks: int, settings: list[int]) -> Table:
    table = Table(title=f"{runs} runs of {tasks} tasks + a join, each task failing twice, flushed after every change")
    for column in (
        "snapshot_records",
        "records/run, compacted",
        "read, compacted",
        "records/run, as written",
        "read, as written",
        "MB written",
        "replay one run",
    ):
        table.add_column(column, justify="right")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    try:
        for setting in track(settings, description="journals"):
            journals = [journal(tasks, setting, f"run-{n}") for n in range(runs)]
            live = [record for j in journals for record in j.live.items()]
            written = [record for j in journals for record in j.written]
            compacted_ms = await read_ms(bootstrap, producer, live)
            written_ms = await read_ms(bootstrap, producer, written)
            table.add_row(
                str(setting) if setting else "0 (off)",
                f"{len(live) / runs:.0f}",
                f"{compacted_ms:.0f} ms",
                f"{len(written) / runs:.0f}",
                f"{written_ms:.0f} ms",
                f"{sum(len(value or b'') for _, value in written) / 2**20:.1f}",
                f"{statistics.median(j.replay_ms for j in journals):.1f} ms",
            )
    finally:
        await producer.stop()
    return table


def main(
    runs: int = typer.Option(40, help="Runs journaled on the one partition read."),
    tasks: int = typer.Option(64, help="Independent tasks per run (plus a join)."),
    settings: str = typer.Option("0,64,16", help="planner.journal_snapshot_records values to compare."),
) -> None:
    chosen = [int(value) for value in settings.split(",")]
    with real_kafka(Path(tempfile.mkdtemp(prefix="bench-journal-"))) as bootstrap:
        Console(width=160).print(asyncio.run(measure(bootstrap, runs, tasks, chosen)))


if __name__ == "__main__":
    typer.run(main)
