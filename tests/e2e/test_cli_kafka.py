"""The genesis command against a real Kafka broker with no services, or with a stand-in planner: it says quickly
that no planner runs, exits the same with and without --json, and lists, shows and replays dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from faststream.kafka.annotations import KafkaMessage

from schemas import RunRejected, RunRequested, decode_event, encode_event
from streams.broker import consumer_options, make_broker
from streams.catalogue import RUNS_FINISHED, RUNS_REQUESTED, Catalogue
from streams.inbox import Inbox
from streams.outbox import EventPublisher
from streams.reading import groupless_consumer, topic_partitions
from streams.settings import KafkaSettings

pytestmark = pytest.mark.kafka
WAIT_S = 60
PLAN = "Task 1: sleep(seconds=0) | Dependencies: none\n"


@pytest.fixture
def environment(kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GENESIS_KAFKA_TOPIC_PREFIX": catalogue.prefix,
        "GENESIS_PLANNER_GROUP_ID": f"{catalogue.prefix}-planner",
        "GENESIS_RUNTIME_STATE_DIR": str(tmp_path / "state"),
    }


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    plan = tmp_path / "plan.txt"
    plan.write_text(PLAN)
    return plan


async def genesis(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.main", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(WAIT_S * 3):
        stdout, stderr = await process.communicate()
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def test_submit_wait_says_no_planner_runs_within_the_bound_when_only_kafka_is_up(
    environment: dict[str, str], plan_file: Path
) -> None:
    started = time.monotonic()
    code, stdout, stderr = await genesis(
        "submit", "--plan", str(plan_file), "--wait", "--planner-timeout", "2", env=environment
    )
    elapsed = time.monotonic() - started
    assert code == 1 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "no planner is consuming runs" in stderr and "genesis up" in stderr
    assert elapsed < WAIT_S, f"took {elapsed:.0f} s"


async def test_submit_without_wait_warns_that_the_run_waits_in_kafka_when_no_planner_runs(
    environment: dict[str, str], plan_file: Path
) -> None:
    code, stdout, stderr = await genesis(
        "submit", "--plan", str(plan_file), "--json", "--planner-timeout", "1", env=environment
    )
    assert code == 0, stderr
    assert len(json.loads(stdout)["run_id"]) == 32
    assert "warning: no planner is consuming runs" in stderr and "waits in Kafka" in stderr


class Joined(ConsumerRebalanceListener):
    def __init__(self, joined: asyncio.Event) -> None:
        self._joined = joined

    async def on_partitions_revoked(self, revoked: object) -> None:
        pass

    async def on_partitions_assigned(self, assigned: object) -> None:
        self._joined.set()


@contextlib.asynccontextmanager
async def stand_in_planner(bootstrap: str, catalogue: Catalogue, group: str) -> AsyncIterator[None]:
    """A member of the planner's group that rejects every request, as the planner rejects a bad plan."""
    joined = asyncio.Event()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest")
    consumer.subscribe([catalogue.name(RUNS_REQUESTED)], listener=Joined(joined))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()

    async def reject_everything() -> None:
        async for record in consumer:
            request = decode_event(record.value)
            if isinstance(request, RunRequested):
                rejection = RunRejected(run_id=request.run_id, reason="stand-in planner: cycle: 1 -> 2 -> 1")
                await producer.send_and_wait(
                    catalogue.name(RUNS_FINISHED), encode_event(rejection), key=request.run_id.encode()
                )

    answering = asyncio.create_task(reject_everything())
    try:
        await asyncio.wait_for(joined.wait(), WAIT_S)  # a member of the group now: the CLI can see it
        yield
    finally:
        answering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await answering
        await consumer.stop()
        await producer.stop()


async def test_rejected_run_exits_1_with_and_without_json_when_waited_for(
    kafka_bootstrap: str, catalogue: Catalogue, environment: dict[str, str], plan_file: Path
) -> None:
    async with stand_in_planner(kafka_bootstrap, catalogue, environment["GENESIS_PLANNER_GROUP_ID"]):
        as_json = await genesis("submit", "--plan", str(plan_file), "--wait", "--json", env=environment)
        as_text = await genesis("submit", "--plan", str(plan_file), "--wait", env=environment)
    assert as_json[0] == 1, as_json
    assert json.loads(as_json[1])["status"] == "rejected"
    assert as_text[0] == 1, as_text
    assert "rejected" in as_text[1]


async def test_dead_letters_are_listed_shown_and_replayed_to_their_topic_when_asked(
    kafka_bootstrap: str, catalogue: Catalogue, environment: dict[str, str]
) -> None:
    requests = catalogue.name(RUNS_REQUESTED)
    broker = make_broker(KafkaSettings(), kafka_bootstrap, client_id="dlq-test")
    inbox = Inbox(EventPublisher(broker, catalogue, source="dlq-test"), catalogue, consumer="dlq-test-consumer")
    handled = asyncio.Event()

    @broker.subscriber(requests, **consumer_options(f"{catalogue.prefix}-dlq-test"))
    async def on_request(body: bytes, message: KafkaMessage) -> None:
        await inbox.handle(message, lambda event: _noted(handled))

    async with broker:
        await broker.publish(b"{not json", requests, key=b"run-x")
        await broker.publish(encode_event(RunRequested(run_id="run-y", query="q")), requests, key=b"run-y")
        await broker.start()
        await asyncio.wait_for(handled.wait(), WAIT_S)  # the good one came after the bad one

    code, stdout, stderr = await genesis("dlq", "list", "--json", env=environment)
    assert code == 0, stderr
    [letter] = json.loads(stdout)
    assert letter["topic"] == requests and letter["offset"] == "0" and letter["key"] == "run-x"
    assert letter["consumer"] == "dlq-test-consumer" and letter["reason"].startswith("undecodable")

    code, stdout, stderr = await genesis("dlq", "show", letter["id"], "--json", env=environment)
    assert code == 0, stderr
    assert json.loads(stdout)["value"] == "{not json"

    code, _, stderr = await genesis("dlq", "replay", letter["id"], env=environment)
    assert code != 0  # asks for confirmation, and there is no one to answer on stdin
    code, stdout, stderr = await genesis("dlq", "replay", letter["id"], "--yes", env=environment)
    assert code == 0, stderr

    records = await read_all(kafka_bootstrap, requests)
    replayed = [record for record in records if dict(record.headers).get("replayed-from")]
    assert [(record.key, record.value) for record in replayed] == [(b"run-x", b"{not json")]
    assert dict(replayed[0].headers)["replayed-from"] == f"dlq {letter['id']}".encode()

    code, _, stderr = await genesis("dlq", "show", "0:99", env=environment)
    assert code == 2 and "no dead letter 0:99" in stderr


async def _noted(handled: asyncio.Event) -> None:
    handled.set()


async def read_all(bootstrap: str, topic: str) -> list:
    partitions = await topic_partitions(bootstrap, topic)
    records = []
    async with groupless_consumer(bootstrap) as consumer:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {partition for partition in partitions if ends[partition] > 0}
        async with asyncio.timeout(WAIT_S):
            while remaining:
                for batch in (await consumer.getmany(*remaining, timeout_ms=500)).values():
                    records += batch
                remaining = {p for p in remaining if await consumer.position(p) < ends[p]}
    return records
