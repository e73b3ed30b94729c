"""The inbox's three outcomes, wired through FastStream's in-memory broker (fast; no Kafka)."""

from __future__ import annotations

import logging

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas import RunRequested, encode_event
from streams.broker import consumer_options
from streams.catalogue import DEAD_LETTERS, RUNS_REQUESTED, Catalogue
from streams.inbox import Inbox
from streams.outbox import EventPublisher

CATALOGUE = Catalogue("wiring")


def build() -> tuple[KafkaBroker, list[RunRequested], list[tuple[bytes, dict]]]:
    broker = KafkaBroker("localhost:9092", logger=None)
    inbox = Inbox(EventPublisher(broker, CATALOGUE, source="test"), CATALOGUE, consumer="test-consumer")
    handled: list[RunRequested] = []
    dead: list[tuple[bytes, dict]] = []

    async def on_event(event: RunRequested) -> None:
        if event.query == "explode":
            raise RuntimeError("the handler cannot use this request")
        handled.append(event)

    @broker.subscriber(CATALOGUE.name(RUNS_REQUESTED), **consumer_options("planner"))
    async def on_run_requested(body: bytes, message: KafkaMessage) -> None:
        await inbox.handle(message, on_event)

    @broker.subscriber(CATALOGUE.name(DEAD_LETTERS), **consumer_options("dlq-reader"))
    async def on_dead_letter(body: bytes, message: KafkaMessage) -> None:
        dead.append((body, message.headers))

    return broker, handled, dead


async def test_event_reaches_handler_when_it_decodes() -> None:
    broker, handled, dead = build()
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(encode_event(RunRequested(run_id="r1", query="q")), CATALOGUE.name(RUNS_REQUESTED))
    assert [event.run_id for event in handled] == ["r1"] and dead == []


async def test_bytes_go_to_dead_letters_with_reason_when_undecodable() -> None:
    broker, handled, dead = build()
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"\x00garbage", CATALOGUE.name(RUNS_REQUESTED), key=b"r9")
        await test_broker.publish(encode_event(RunRequested(run_id="r2", query="q")), CATALOGUE.name(RUNS_REQUESTED))
    assert dead[0][0] == b"\x00garbage"
    assert dead[0][1]["reason"].startswith("undecodable: not JSON")
    assert dead[0][1]["consumer"] == "test-consumer"
    assert [event.run_id for event in handled] == ["r2"]  # the consumer carried on


async def test_unknown_event_type_is_skipped_with_a_log_line_when_from_a_newer_producer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker, handled, dead = build()
    with caplog.at_level(logging.WARNING, logger="streams.inbox"):
        async with TestKafkaBroker(broker) as test_broker:
            await test_broker.publish(b'{"type": "RunPaused.v1", "run_id": "r3"}', CATALOGUE.name(RUNS_REQUESTED))
    assert handled == [] and dead == []
    assert "skips event type RunPaused.v1" in caplog.text


async def test_message_goes_to_dead_letters_when_its_handler_raises() -> None:
    broker, handled, dead = build()
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            encode_event(RunRequested(run_id="r4", query="explode")), CATALOGUE.name(RUNS_REQUESTED)
        )
        await test_broker.publish(encode_event(RunRequested(run_id="r5", query="fine")), CATALOGUE.name(RUNS_REQUESTED))
    assert dead[0][1]["reason"] == "RuntimeError: the handler cannot use this request"
    assert [event.run_id for event in handled] == ["r5"]
