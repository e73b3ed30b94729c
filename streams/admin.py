"""Creating the catalogue's topics, idempotently: existing topics are left as they are."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.catalogue import TOPIC_SPECS, Catalogue


async def ensure_topics(bootstrap_servers: str, catalogue: Catalogue, *, replication_factor: int = 1) -> list[str]:
    """Create the topics that are missing; return the names of those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=catalogue.name(spec),
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs=spec.configs(),
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
