"""Reading topics without a consumer group: a topic's partitions, and a compacted topic's latest values."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.broker import READ_COMMITTED
from streams.connection import client_options


class MissingTopic(RuntimeError):
    pass


async def describe_partitions(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """The topic's partitions as a broker describes them (partition, leader, replicas, isr), by partition; none for
    a topic the broker does not know."""
    admin = AIOKafkaAdminClient(**client_options(bootstrap))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    entries = (entry for item in described if item["topic"] == topic for entry in item["partitions"])
    return sorted(entries, key=lambda entry: entry["partition"])


async def topic_partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    partitions = [entry["partition"] for entry in await describe_partitions(bootstrap, topic)]
    if not partitions:
        raise MissingTopic(f"topic {topic} does not exist: run `genesis kafka topics` first")
    return [TopicPartition(topic, partition) for partition in partitions]


@contextlib.asynccontextmanager
async def groupless_consumer(bootstrap: str, **fetch_options: int) -> AsyncIterator[AIOKafkaConsumer]:
    # read_committed: what an aborted or fenced transaction wrote is never read back (see streams/broker.py).
    consumer = AIOKafkaConsumer(
        **client_options(bootstrap),
        enable_auto_commit=False,
        group_id=None,
        isolation_level=READ_COMMITTED,
        **fetch_options,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        # aiokafka raises CancelledError when stopping a consumer that has no group.
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()


@dataclass
class LatestRecords:
    """Per partition, the newest record of each key (tombstones remove keys), and where reading stopped short."""

    records: dict[TopicPartition, dict[bytes, ConsumerRecord]]
    # Partitions not read to their end in time: (the next offset that was not read, the end offset).
    unread: dict[TopicPartition, tuple[int, int]] = field(default_factory=dict)


async def read_latest_records(
    bootstrap: str, partitions: Iterable[TopicPartition], *, timeout_s: float | None = None
) -> LatestRecords:
    """The newest committed record of each key, read up to the end the partitions had when reading began.

    With ``timeout_s``, reading stops at that bound and ``unread`` says, per partition, which offsets were left.
    """
    partitions = list(partitions)
    latest = LatestRecords({partition: {} for partition in partitions})
    if not partitions:
        return latest
    loop = asyncio.get_running_loop()
    give_up_at = None if timeout_s is None else loop.time() + timeout_s
    async with groupless_consumer(bootstrap) as consumer:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # The last stable offset (read_committed): nothing after an open transaction is read.
        ends = await consumer.end_offsets(partitions)
        remaining = {partition for partition in partitions if ends[partition] > 0}
        while remaining:
            if give_up_at is not None and loop.time() >= give_up_at:
                latest.unread = {p: (await consumer.position(p), ends[p]) for p in remaining}
                break
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for partition, records in batches.items():
                by_key = latest.records[partition]
                for record in records:
                    if record.offset >= ends[partition]:
                        continue  # written after reading began
                    if record.value is None:
                        by_key.pop(record.key, None)
                    else:
                        by_key[record.key] = record
            remaining = {p for p in remaining if await consumer.position(p) < ends[p]}
    return latest


async def read_latest_values(
    bootstrap: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, dict[bytes, bytes]]:
    """Per partition, the newest value of each key, read up to the current end; tombstones remove keys."""
    latest = await read_latest_records(bootstrap, partitions)
    return {
        partition: {key: record.value for key, record in records.items()}
        for partition, records in latest.records.items()
    }
