"""The broker factory: every Kafka setting the services use, chosen on purpose, in one place.

Producers: acks=all and idempotence on, so an acknowledged event is on every in-sync replica exactly once.
Consumers: read committed transactions only, start from the earliest offset when a group is new, and commit
only after the effect is published (NACK_ON_ERROR: a failure to publish the effect rewinds and retries; poison
messages never reach that point, because the inbox sends them to the dead-letter topic first).
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.message import StreamMessage
from prometheus_client import REGISTRY

from streams.connection import KafkaEndpoint, client_options, faststream_security
from streams.partitioning import RememberingPartitioner
from streams.settings import KafkaSettings


def make_broker(settings: KafkaSettings, bootstrap_servers: str, *, client_id: str) -> KafkaBroker:
    # An endpoint that carries its own security settings (streams.connection) wins: it says how to reach that cluster.
    carried = bootstrap_servers.security if isinstance(bootstrap_servers, KafkaEndpoint) else None
    return KafkaBroker(
        [address.strip() for address in str(bootstrap_servers).split(",")],  # every broker of a cluster
        security=faststream_security(carried or settings),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.linger_ms,
        partitioner=RememberingPartitioner(),
        max_request_size=settings.max_message_bytes,
        request_timeout_ms=settings.request_timeout_ms,
        # Per-message lines at DEBUG; handler errors are still logged at ERROR.
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
        # Trace context travels in every record's headers (W3C traceparent), so a run is one trace across
        # services; messages in and out, handler latency and errors are counted for Prometheus (faststream_*).
        middlewares=(KafkaTelemetryMiddleware(), KafkaPrometheusMiddleware(registry=REGISTRY, app_name="genesis")),
    )


async def raw_body(message: StreamMessage[Any]) -> bytes:
    """Hand handlers the bytes as they came: decoding is the inbox's job, so bad bytes reach the DLQ."""
    return message.body


# Every reader sees only committed transactions: the planner writes its journal, its events and its input offsets
# in one transaction (streams/transactions.py), so an aborted or fenced planner's writes are never acted on.
READ_COMMITTED = "read_committed"


def consumer_options(
    group_id: str, *, ack_policy: AckPolicy = AckPolicy.NACK_ON_ERROR, session_timeout_ms: int = 10_000
) -> dict[str, Any]:
    """Options for ``broker.subscriber(...)``: a named group, earliest offsets, commit after the effect,
    committed transactions only."""
    return {
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "ack_policy": ack_policy,
        "decoder": raw_body,
        "isolation_level": READ_COMMITTED,
        # Quicker rebalances when executors join or leave (the defaults take several seconds each).
        "heartbeat_interval_ms": min(1000, session_timeout_ms // 3),
        "session_timeout_ms": session_timeout_ms,
    }


# For readers that may trail by a fraction of a second (the warehouse): under load a fetch waits to fill 64 KiB (at
# most 200 ms) instead of returning a few records, so there are fewer fetches to make, answer and decode. The
# console's live feed waits the same way, for at most console.feed_batch_wait_ms. The dispatch path (planner,
# executors) keeps the defaults: a fetch returns as soon as a record is there.
TRAILING_READER = {"fetch_min_bytes": 64 * 1024, "fetch_max_wait_ms": 200}


def group_consumer(
    bootstrap_servers: str, group_id: str, *, client_id: str, session_timeout_ms: int = 10_000, **options: Any
) -> AIOKafkaConsumer:
    """A raw aiokafka consumer with the same group options as ``consumer_options``, for services that read in
    batches (``getmany``) and commit offsets themselves: no per-message middleware, no auto-commit."""
    chosen = consumer_options(group_id, session_timeout_ms=session_timeout_ms)
    return AIOKafkaConsumer(
        **client_options(bootstrap_servers),
        client_id=client_id,
        enable_auto_commit=False,
        **{
            key: chosen[key]
            for key in (
                "group_id",
                "auto_offset_reset",
                "isolation_level",
                "heartbeat_interval_ms",
                "session_timeout_ms",
            )
        },
        **options,
    )


def event_producer(settings: KafkaSettings, bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    """A raw aiokafka producer with ``make_broker``'s producer settings (acks=all, idempotence, linger, size limit),
    for services that publish many events per batch without FastStream's per-message middleware (the executor).
    The owner starts and stops it; ``streams.outbox.RecordSender`` sends events through it."""
    return AIOKafkaProducer(
        **client_options(bootstrap_servers),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.linger_ms,
        partitioner=RememberingPartitioner(),
        max_request_size=settings.max_message_bytes,
        request_timeout_ms=settings.request_timeout_ms,
    )


TRANSACTION_RETRY_BACKOFF_MS = 10


def transactional_producer(
    settings: KafkaSettings,
    bootstrap_servers: str,
    *,
    transactional_id: str,
    client_id: str,
    transaction_timeout_ms: int,
) -> AIOKafkaProducer:
    """A raw aiokafka producer for Kafka transactions (FastStream has none): the same connection, security and
    size limit as ``make_broker``. Starting it fences every older producer with the same transactional id."""
    return AIOKafkaProducer(
        **client_options(bootstrap_servers),
        client_id=client_id,
        transactional_id=transactional_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.linger_ms,
        partitioner=RememberingPartitioner(),
        max_request_size=settings.max_message_bytes,
        request_timeout_ms=settings.request_timeout_ms,
        transaction_timeout_ms=transaction_timeout_ms,
        # A transaction begun right after the previous commit finds the coordinator still writing that one's markers
        # (CONCURRENT_TRANSACTIONS) and retries after this backoff: aiokafka's 100 ms default would add up per hop.
        retry_backoff_ms=TRANSACTION_RETRY_BACKOFF_MS,
    )
