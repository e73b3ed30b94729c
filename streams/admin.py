"""Creating the catalogue's topics, idempotently (existing topics are left as they are), deleting a namespace's
topics, and checking that the topics one consumer reads together are partitioned alike."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.catalogue import CO_PARTITIONED, TOPIC_SPECS, Catalogue, TopicSpec
from streams.connection import client_options
from streams.settings import KafkaSettings

DEFAULT_MAX_MESSAGE_BYTES = KafkaSettings().max_message_bytes


async def ensure_topics(
    bootstrap_servers: str,
    catalogue: Catalogue,
    *,
    replication_factor: int = 1,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    min_insync_replicas: int | None = None,
) -> list[str]:
    """Create the topics that are missing; return the names of those created.

    Each gets ``max.message.bytes`` from ``kafka.max_message_bytes``, the same setting as the producers' request
    limit, so a record a producer sends is one the broker stores, on a local broker and on any cluster alike.
    """
    configs = {"max.message.bytes": str(max_message_bytes)}
    if min_insync_replicas is not None:
        if not 1 <= min_insync_replicas <= replication_factor:
            raise TopologyError(
                f"kafka.min_insync_replicas is {min_insync_replicas}: it must be between 1 and "
                f"kafka.replication_factor ({replication_factor}), or no write with acks=all could succeed"
            )
        configs["min.insync.replicas"] = str(min_insync_replicas)
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=catalogue.name(spec),
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs={**spec.configs(), **configs},
            )
            for spec in TOPIC_SPECS
            if catalogue.name(spec) not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process created them first: the goal is met
        return [topic.name for topic in missing]
    finally:
        await admin.close()


async def delete_topics(bootstrap_servers: str, catalogue: Catalogue) -> list[str]:
    """Delete the catalogue's topics that exist (a benchmark's or a test's namespace, once it is done with them);
    return the names deleted."""
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [catalogue.name(spec) for spec in TOPIC_SPECS if catalogue.name(spec) in existing]
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()


class TopologyError(RuntimeError):
    """The topics on the cluster do not fit together; the message says which and how to fix it."""


async def check_copartitioned(
    bootstrap_servers: str,
    catalogue: Catalogue,
    specs: tuple[TopicSpec, ...] = CO_PARTITIONED,
    *,
    metadata_wait_s: float = 10.0,
) -> int:
    """The common partition count of topics read together by one consumer (the planner's inputs and its
    journals); TopologyError, in one line, when a topic is missing or the counts differ: with the range assignor,
    partition p of each must hold the same runs, and unequal counts would split a run's events across planners."""
    names = [catalogue.name(spec) for spec in specs]
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers))
    await admin.start()
    try:
        # Topics created a moment ago may not be described yet: their metadata reaches the brokers in a while.
        give_up_at = asyncio.get_running_loop().time() + metadata_wait_s
        while True:
            described = await admin.describe_topics(names)
            counts = {item["topic"]: len(item["partitions"]) for item in described if item.get("partitions")}
            missing = [name for name in names if not counts.get(name)]
            if not missing or asyncio.get_running_loop().time() >= give_up_at:
                break
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    if missing:
        raise TopologyError(f"topics {', '.join(missing)} do not exist: run `genesis kafka topics` first")
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{name} has {counts[name]}" for name in names)
        raise TopologyError(
            f"co-partitioned topics must have equal partition counts, but {listed}: "
            "give them the same number (with no runs in flight, as adding partitions moves keys)"
        )
    return counts[names[0]]
