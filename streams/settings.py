"""Kafka client settings, one object per process (see configs/settings.py for how it is loaded)."""

from __future__ import annotations

import msgspec

from configs.settings import load_section


class KafkaSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # None: the local broker from deploy/ (genesis kafka up). KAFKA_BOOTSTRAP_SERVERS overrides.
    bootstrap_servers: str | None = None
    topic_prefix: str = "genesis"
    replication_factor: int = 1
    request_timeout_ms: int = 30_000
    linger_ms: int = 0


def load_kafka_settings() -> KafkaSettings:
    return load_section("kafka", KafkaSettings)
