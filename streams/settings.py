"""Kafka client settings, one object per process (see configs/settings.py for how it is loaded)."""

from __future__ import annotations

from typing import Literal

import msgspec

from configs.settings import Secret, load_section


class KafkaSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # None: the local broker from deploy/ (genesis kafka up). KAFKA_BOOTSTRAP_SERVERS overrides.
    bootstrap_servers: str | None = None
    topic_prefix: str = "genesis"
    replication_factor: int = 1
    # Replicas that must have a record before acks=all succeeds, set on each topic the services create
    # (min.insync.replicas); None: the broker's default. At most replication_factor; 2 of 3 on a real cluster.
    min_insync_replicas: int | None = None
    request_timeout_ms: int = 30_000
    linger_ms: int = 0
    # How every client (services, CLI, client library, trainer) authenticates; PLAINTEXT for the local broker.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: Secret | None = None  # GENESIS_KAFKA_SASL_PASSWORD; never logged
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    # The largest record, in bytes: the producers' max_request_size and every topic's max.message.bytes (the
    # per-topic form of the broker's message.max.bytes), set together so a record one side accepts the other does.
    max_message_bytes: int = 1_048_576


def load_kafka_settings() -> KafkaSettings:
    return load_section("kafka", KafkaSettings)
