"""What a read_committed consumer sees, for the fault tests: every record of a topic up to its current end, and the
counts that say whether an effect was applied twice (TaskReady and TaskStarted per (run, task, attempt), RunFinished
per run)."""

from __future__ import annotations

import asyncio
from collections import Counter

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import RunFinished, TaskReady, TaskStarted, decode_event
from streams.broker import READ_COMMITTED
from streams.catalogue import RUNS_FINISHED, TASKS_FINISHED, TASKS_READY, Catalogue
from streams.connection import client_options
from streams.reading import topic_partitions

READ_TIMEOUT_S = 60


async def read_all(bootstrap: str, topic: str, *, committed: bool = True) -> list:
    """Every record of ``topic`` up to its end, as a read_committed (or read_uncommitted) reader sees it."""
    partitions = await topic_partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        **client_options(bootstrap),
        group_id=None,
        enable_auto_commit=False,
        isolation_level=READ_COMMITTED if committed else "read_uncommitted",
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list = []
        async with asyncio.timeout(READ_TIMEOUT_S):
            while [p for p in partitions if await consumer.position(p) < ends[p]]:
                for batch in (await consumer.getmany(timeout_ms=1000)).values():
                    records += [r for r in batch if r.offset < ends[TopicPartition(r.topic, r.partition)]]
        return records
    finally:
        await consumer.stop()


async def dispatch_counts(bootstrap: str, catalogue: Catalogue, *, committed: bool = True) -> Counter:
    """TaskReady per (run, task, attempt)."""
    records = await read_all(bootstrap, catalogue.name(TASKS_READY), committed=committed)
    events = [decode_event(record.value) for record in records if record.value is not None]
    return Counter((e.run_id, e.task_id, e.attempt) for e in events if isinstance(e, TaskReady))


async def start_counts(bootstrap: str, catalogue: Catalogue) -> Counter:
    """Distinct TaskStarted per (run, task, attempt): how often an executor called each attempt's tool (an executor
    answers a repeated dispatch with the first start again, the same event)."""
    records = await read_all(bootstrap, catalogue.name(TASKS_FINISHED))
    events = [decode_event(record.value) for record in records if record.value is not None]
    starts = {(e.run_id, e.task_id, e.attempt, e.event_id) for e in events if isinstance(e, TaskStarted)}
    return Counter((run_id, task_id, attempt) for run_id, task_id, attempt, _ in starts)


async def finished_counts(bootstrap: str, catalogue: Catalogue) -> Counter:
    """RunFinished per run."""
    records = await read_all(bootstrap, catalogue.name(RUNS_FINISHED))
    events = (decode_event(record.value) for record in records if record.value is not None)
    return Counter(e.run_id for e in events if isinstance(e, RunFinished))


def report(fault: str, **figures: object) -> None:
    """One line per fault test, printed with -s: the figures docs/RELIABILITY.md quotes."""
    print(f"\nFAULT {fault}: " + ", ".join(f"{name}={value}" for name, value in figures.items()))
