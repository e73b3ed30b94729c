"""Reading topics without a consumer group: a topic's partitions, and a compacted topic's latest values."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


class MissingTopic(RuntimeError):
    pass


async def topic_partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [entry["partition"] for item in described if item["topic"] == topic for entry in item["partitions"]]
    if not partitions:
        raise MissingTopic(f"topic {topic} does not exist: run `genesis kafka topics` first")
    return [TopicPartition(topic, partition) for partition in sorted(partitions)]


@contextlib.asynccontextmanager
async def groupless_consumer(bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        yield consumer
    finally:
        # aiokafka raises CancelledError when stopping a consumer that has no group.
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()


async def read_latest_values(
    bootstrap: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, dict[bytes, bytes]]:
    """Per partition, the newest value of each key, read up to the current end; tombstones remove keys."""
    partitions = list(partitions)
    latest: dict[TopicPartition, dict[bytes, bytes]] = {partition: {} for partition in partitions}
    if not partitions:
        return latest
    async with groupless_consumer(bootstrap) as consumer:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {partition for partition in partitions if ends[partition] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for partition, records in batches.items():
                values = latest[partition]
                for record in records:
                    if record.value is None:
                        values.pop(record.key, None)
                    else:
                        values[record.key] = record.value
            remaining = {p for p in remaining if await consumer.position(p) < ends[p]}
    return latest
