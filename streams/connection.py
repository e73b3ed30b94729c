"""Where Kafka is: an explicitly configured cluster wins; otherwise the local broker from deploy/."""

from __future__ import annotations

from deploy.local_kafka import LocalKafkaSettings
from streams.settings import KafkaSettings


def bootstrap_servers(kafka: KafkaSettings, local: LocalKafkaSettings) -> str:
    return kafka.bootstrap_servers or local.bootstrap_servers


def uses_local_broker(kafka: KafkaSettings) -> bool:
    return not kafka.bootstrap_servers
