"""What the planner's Kafka transactions cost: one flush, and whole runs, with and without a transaction.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 uv run python -m tests.benchmarks.gap.bench_transactions

Part 1 times one flush of n runs (a journal record, a TaskReady and an input offset each) on a real broker, the way
the planner wrote it before (idempotent producer, wait for the acknowledgements, then commit the offsets) and the way
it writes it now (begin, send, send the offsets to the transaction, commit).
Part 2 runs whole plans through the in-process planner and executors (tests/e2e/system.py) on the same broker: the
transactional planner as shipped, then the same planner with the pre-transaction flush put back, and prints runs/s
and the latency of a run. Without KAFKA_BOOTSTRAP_SERVERS a local broker is started on free ports and stopped after.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table

from services.planner.app import Planner
from services.planner.changes import Changes
from streams.admin import ensure_topics
from streams.broker import transactional_producer
from streams.catalogue import PLANNER_JOURNAL, RUNS_REQUESTED, TASKS_READY, Catalogue
from streams.settings import KafkaSettings
from tests.e2e.system import running_system
from tests.support.kafka import real_kafka

console = Console()
PLAN = (
    'Task 1: calculator(expression="1 + 1") | Dependencies: none\n'
    'Task 2: calculator(expression="$1 * 2") | Dependencies: Task 1\n'
    'Task 3: calculator(expression="$1 * 3") | Dependencies: Task 1\n'
    'Task 4: calculator(expression="$2 + $3") | Dependencies: Task 2, Task 3\n'
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def flush_costs(bootstrap: str, sizes: list[int], flushes: int) -> list[tuple[str, int, list[float]]]:
    catalogue = Catalogue(prefix=f"bench{uuid.uuid4().hex[:8]}")
    await ensure_topics(bootstrap, catalogue)
    journal, ready, inputs = (catalogue.name(spec) for spec in (PLANNER_JOURNAL, TASKS_READY, RUNS_REQUESTED))
    group = f"{catalogue.prefix}-group"
    plain = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    transactional = transactional_producer(
        KafkaSettings(), bootstrap, transactional_id=f"{group}.0", client_id="bench", transaction_timeout_ms=30_000
    )
    for client in (plain, committer, transactional):
        await client.start()
    committer.assign([TopicPartition(inputs, 0)])  # commits as the group, as the planner's consumer did
    journal_value, ready_value = b"j" * 600, b"r" * 450  # about a journal record and a TaskReady
    results = []
    try:
        for size in sizes:
            for name in ("idempotent + commit", "transaction"):
                durations = []
                for flush in range(flushes):
                    offsets = {TopicPartition(inputs, 0): flush * size + size}
                    started = time.perf_counter()
                    if name == "transaction":
                        await transactional.begin_transaction()
                    producer = transactional if name == "transaction" else plain
                    sent = []
                    for n in range(size):
                        key = f"run-{n}".encode()
                        sent.append(await producer.send(journal, journal_value, key=key, partition=0))
                        sent.append(await producer.send(ready, ready_value, key=key))
                    if name == "transaction":
                        await transactional.send_offsets_to_transaction(offsets, group)
                        await asyncio.gather(*sent)
                        await transactional.commit_transaction()
                    else:
                        await asyncio.gather(*sent)
                        await committer.commit(offsets)
                    durations.append(time.perf_counter() - started)
                results.append((name, size, durations))
    finally:
        for client in (plain, committer, transactional):
            await client.stop()
    return results


class AtLeastOncePlanner(Planner):
    """The planner with its flush as it was before transactions: journal and events with the idempotent producer,
    then the input offsets committed by the consumer (for comparison only)."""

    def _start_flushes(self) -> None:
        if self._in_flight:
            return  # one flush at a time, as it was
        changes, self._pending = self._pending, Changes()
        parts = changes.split(self._partition_of)
        batches = [batch for partition, part in parts.items() if (batch := self._batch(partition, part)) is not None]
        if batches:
            flushing = asyncio.create_task(self._publish(batches))
            self._in_flight[-1] = flushing
            flushing.add_done_callback(lambda _: self._flushed(-1))

    async def _publish(self, batches: list) -> None:
        records = [record for batch in batches for record in batch.records]
        await self._publisher.publish_all([], raw=records)
        for batch in batches:
            self._committed(batch)
        offsets = {tp: offset for batch in batches for tp, offset in batch.offsets.items()}
        if offsets and self._consumer is not None:
            await self._consumer.commit(offsets)


async def runs_through_planner(bootstrap: str, runs: int, concurrency: int, transactional: bool) -> dict[str, float]:
    import tests.e2e.system as system

    catalogue = Catalogue(prefix=f"bench{uuid.uuid4().hex[:8]}")
    await ensure_topics(bootstrap, catalogue)
    original = system.Planner
    system.Planner = Planner if transactional else AtLeastOncePlanner
    try:
        async with running_system(bootstrap, catalogue, executors=2) as (_, client):
            await client.run(plan_text=PLAN, timeout_s=120)  # warm up: groups joined, partitions assigned
            latencies: list[float] = []
            gate = asyncio.Semaphore(concurrency)

            async def one() -> None:
                async with gate:
                    started = time.perf_counter()
                    outcome = await client.run(plan_text=PLAN, timeout_s=120)
                    assert outcome.status == "succeeded", outcome
                    latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(runs)))
            elapsed = time.perf_counter() - started
    finally:
        system.Planner = original
    return {
        "runs/s": runs / elapsed,
        "p50 ms": 1000 * statistics.median(latencies),
        "p95 ms": 1000 * percentile(latencies, 0.95),
    }


def main(
    flushes: int = typer.Option(200, help="Flushes timed per size in part 1."),
    runs: int = typer.Option(300, help="Runs per planner variant in part 2 (0: part 1 only)."),
    concurrency: int = typer.Option(20, help="Runs in flight at a time in part 2."),
) -> None:
    with tempfile.TemporaryDirectory() as data, real_kafka(Path(data)) as bootstrap:
        costs = asyncio.run(flush_costs(str(bootstrap), [1, 10, 100], flushes))
        table = Table(title=f"One flush on a real broker ({flushes} flushes per row)")
        for column in ("write", "runs per flush", "p50 ms", "p95 ms", "records/s"):
            table.add_column(column)
        for name, size, durations in costs:
            table.add_row(
                name,
                str(size),
                f"{1000 * statistics.median(durations):.1f}",
                f"{1000 * percentile(durations, 0.95):.1f}",
                f"{2 * size * len(durations) / sum(durations):,.0f}",
            )
        console.print(table)
        if not runs:
            return
        table = Table(title=f"{runs} runs of a 4-task plan, {concurrency} in flight, 2 executors, in-process planner")
        for column in ("planner flush", "runs/s", "p50 ms", "p95 ms"):
            table.add_column(column)
        for transactional in (True, False):
            figures = asyncio.run(runs_through_planner(str(bootstrap), runs, concurrency, transactional))
            table.add_row(
                "transaction per partition" if transactional else "idempotent + commit (before)",
                f"{figures['runs/s']:.1f}",
                f"{figures['p50 ms']:.0f}",
                f"{figures['p95 ms']:.0f}",
            )
        console.print(table)


if __name__ == "__main__":
    typer.run(main)
