"""The broker factory: every Kafka setting the services use, chosen on purpose, in one place.

Producers: acks=all and idempotence on, so an acknowledged event is on every in-sync replica exactly once.
Consumers: start from the earliest offset when a group is new, and commit only after the effect is published
(NACK_ON_ERROR: a failure to publish the effect rewinds and retries; poison messages never reach that point,
because the inbox sends them to the dead-letter topic first).
"""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage

from streams.settings import KafkaSettings


def make_broker(settings: KafkaSettings, bootstrap_servers: str, *, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.linger_ms,
        request_timeout_ms=settings.request_timeout_ms,
        # Per-message lines at DEBUG; handler errors are still logged at ERROR.
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
    )


async def raw_body(message: StreamMessage[Any]) -> bytes:
    """Hand handlers the bytes as they came: decoding is the inbox's job, so bad bytes reach the DLQ."""
    return message.body


def consumer_options(group_id: str, *, ack_policy: AckPolicy = AckPolicy.NACK_ON_ERROR) -> dict[str, Any]:
    """Options for ``broker.subscriber(...)``: a named group, earliest offsets, commit after the effect."""
    return {
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "ack_policy": ack_policy,
        "decoder": raw_body,
        # Quicker rebalances when executors join or leave (the defaults take several seconds each).
        "heartbeat_interval_ms": 1000,
        "session_timeout_ms": 10_000,
    }
