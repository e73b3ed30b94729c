"""Warehouse benchmark through Kafka: the service as it is deployed, reading a topic backlog into DuckDB.

Run: uv run python -m tests.benchmarks.warehouse.bench_service [--attempts N] [--random-ids] [--set KEY=VALUE] [--dir D]

Where bench_warehouse measures the writer core alone, this measures everything the service does: a local Apache
Kafka broker (the same launcher as the tests, on free ports, on the same cores) holds the synthetic stream on the
catalogue's topics and partitions; `genesis serve warehouse` then runs as its own process with its default
configuration (PII scrubbing on, Parquet snapshots every few seconds; --set changes a setting) and consumes the
backlog. Its heartbeat reports the events stored; the ingest rate is events over the time from the first stored
batch to the last. Produce time is reported but not counted. The target on this two-core machine, where the
broker shares the cores with the service: at least 50,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.runtime.health import read_health
from services.warehouse.core.batch import RawRecord
from streams.admin import ensure_topics
from streams.catalogue import Catalogue
from tests.benchmarks.warehouse.synthetic import SyntheticStream
from tests.support.kafka import real_kafka

INGEST_TARGET = 50_000
HEARTBEAT_S = 0.2
STALL_S = 120.0  # no progress for this long: the service is stuck, stop and say so
NAME = "warehouse-bench"
PREFIX = "bench"
console = Console()


async def produce(bootstrap: str, records: list[RawRecord]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=1 << 20, compression_type=None
    )
    await producer.start()
    try:
        with _progress() as progress:
            task = progress.add_task("producing the backlog", total=len(records))
            for start in range(0, len(records), 20_000):
                chunk = records[start : start + 20_000]
                # Stamped now, not with the synthetic event times: those start days ago, and the topics' 7-day
                # retention would delete the oldest records while the warehouse reads them.
                sent = [await producer.send(r.topic, r.value, partition=r.partition) for r in chunk]
                await asyncio.gather(*sent)
                progress.update(task, completed=start + len(chunk))
    finally:
        await producer.stop()


def serve(bootstrap: str, root: Path, overrides: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **overrides,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "GENESIS_KAFKA_TOPIC_PREFIX": PREFIX,
        "GENESIS_WAREHOUSE_DIR": str(root / "warehouse"),
        "GENESIS_WAREHOUSE_GROUP_ID": "warehouse-bench",
        "GENESIS_RUNTIME_STATE_DIR": str(root / "state"),
        "GENESIS_RUNTIME_HEARTBEAT_INTERVAL_S": str(HEARTBEAT_S),
    }
    log = (root / "warehouse.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "serve", "warehouse", "--name", NAME],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stored_events(root: Path, process: subprocess.Popen[bytes]) -> int:
    health = read_health(root / "state" / "run", NAME)
    if health is None or health.pid != process.pid:
        return 0
    return int(health.detail.get("events", 0))


def watch(root: Path, process: subprocess.Popen[bytes], expected: int) -> tuple[float, float, float]:
    """Seconds from the process start to the first stored events, from those to the last, and their count."""
    started = time.monotonic()
    first_at = first_count = None
    last_count, last_progress = 0, started
    with _progress() as progress:
        task = progress.add_task("warehouse ingesting", total=expected)
        while last_count < expected:
            if process.poll() is not None:
                raise SystemExit(f"the warehouse exited with {process.returncode}; see {root / 'warehouse.log'}")
            count = stored_events(root, process)
            now = time.monotonic()
            if count > last_count:
                if first_at is None:
                    first_at, first_count = now, count
                last_count, last_progress = count, now
                progress.update(task, completed=count)
            elif now - last_progress > STALL_S:
                raise SystemExit(f"no progress for {STALL_S:.0f} s at {last_count:,} events; see {root}")
            time.sleep(HEARTBEAT_S / 2)  # the heartbeat file is the service's only report: read it as it changes
    assert first_at is not None and first_count is not None
    return first_at - started, last_progress - first_at, float(last_count - first_count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=1_000_000, help="task attempts to generate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--random-ids", action="store_true", help="random (v4) event ids instead of time-ordered")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a warehouse setting for the service, e.g. snapshot_interval_s=60 (repeatable)",
    )
    parser.add_argument("--dir", type=Path, default=None, help="where broker and warehouse go; kept (default: removed)")
    args = parser.parse_args()

    overrides = {f"GENESIS_WAREHOUSE_{key.upper()}": value for key, _, value in (s.partition("=") for s in args.set)}
    root = args.dir or Path(tempfile.mkdtemp(prefix="warehouse-service-bench-"))
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    stream = SyntheticStream(args.seed, PREFIX, random_ids=args.random_ids)
    with console.status("generating events"):
        records = list(stream.records(args.attempts))
    console.print(f"{len(records):,} events: {stream.runs:,} runs, {stream.attempts:,} task attempts")
    console.print("starting a local Kafka broker")
    with real_kafka(root / "kafka") as bootstrap:
        asyncio.run(ensure_topics(bootstrap, Catalogue(PREFIX)))
        started = time.perf_counter()
        asyncio.run(produce(bootstrap, records))
        console.print(f"produced in {time.perf_counter() - started:.1f} s")
        expected = len(records)
        del records
        process = serve(bootstrap, root, overrides)
        try:
            startup_s, ingest_s, counted = watch(root, process, expected)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(120)
    if args.dir is None:
        shutil.rmtree(root, ignore_errors=True)
    rate = counted / ingest_s
    console.print(
        f"[bold]service ingest through Kafka: {rate:,.0f} events/s[/] ({counted:,.0f} events in {ingest_s:.1f} s "
        f"after the first stored batch, {startup_s:.1f} s from the process start to it; "
        f"{'random v4' if args.random_ids else 'time-ordered v7'} event ids, "
        f"settings {', '.join(args.set) or 'as configured'}) "
        + ("[green]meets[/]" if rate >= INGEST_TARGET else "[red]misses[/]")
        + f" the {INGEST_TARGET:,}/s target"
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


if __name__ == "__main__":
    main()
