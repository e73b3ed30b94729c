"""The warehouse service on a real broker, as a separate process: exactly once across SIGKILL, and SQL while it runs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from schemas import Event, TurnRecorded
from services.runtime.health import read_health
from streams.broker import make_broker
from streams.catalogue import RUNS_REQUESTED, Catalogue
from streams.outbox import EventPublisher
from streams.settings import KafkaSettings
from tests.unit.warehouse.events import fan_out_run

pytestmark = pytest.mark.kafka
WAIT_S = 90
UNKNOWN = b'{"type": "RunPaused.v9", "event_id": "paused-1", "run_id": "r-unknown", "note": "from a newer producer"}'


class WarehouseProcess:
    """`genesis serve warehouse` in a subprocess, configured for one test through environment variables."""

    def __init__(self, kafka_bootstrap: str, catalogue: Catalogue, root: Path, *, group: str) -> None:
        self.root = root
        self.name = "warehouse-under-test"
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "GENESIS_KAFKA_TOPIC_PREFIX": catalogue.prefix,
            "GENESIS_WAREHOUSE_DIR": str(root / "warehouse"),
            "GENESIS_WAREHOUSE_GROUP_ID": group,
            # Small batches: many transactions, so a kill lands among them.
            "GENESIS_WAREHOUSE_BATCH_MAX_EVENTS": "100",
            "GENESIS_WAREHOUSE_SNAPSHOT_INTERVAL_S": "0.5",
            "GENESIS_RUNTIME_STATE_DIR": str(root / "state"),
            "GENESIS_RUNTIME_HEARTBEAT_INTERVAL_S": "0.1",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.root / "warehouse.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "serve", "warehouse", "--name", self.name],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def detail(self) -> dict[str, object]:
        health = read_health(self.root / "state" / "run", self.name)
        return dict(health.detail) if health is not None and health.pid == self.pid else {}

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait_for(self, condition: Callable[[dict[str, object]], bool], what: str) -> dict[str, object]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log_tail()
            detail = self.detail()
            if detail and condition(detail):
                return detail
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; last heartbeat {self.detail()}\n{self.log_tail()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(WAIT_S)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(WAIT_S)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"the warehouse did not stop on SIGTERM\n{self.log_tail()}") from None

    def genesis(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli.main", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
        )

    def stored_event_ids(self) -> list[str]:
        with duckdb.connect(str(self.root / "warehouse" / "warehouse.duckdb"), read_only=True) as connection:
            return [row[0] for row in connection.execute("SELECT event_id FROM events").fetchall()]

    def log_tail(self) -> str:
        return "\n".join((self.root / "warehouse.log").read_text(errors="replace").splitlines()[-30:])


@pytest.fixture
def warehouse(kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path) -> Iterator[WarehouseProcess]:
    process = WarehouseProcess(kafka_bootstrap, catalogue, tmp_path, group=f"warehouse-{uuid.uuid4().hex[:8]}")
    yield process
    process.stop()


def runs(count: int, prefix: str) -> list[Event]:
    return [
        event
        for n in range(count)
        for event in fan_out_run(f"{prefix}-{n}", width=3, failing="2" if n % 5 == 0 else None)
    ]


async def publish(bootstrap: str, catalogue: Catalogue, events: list[Event], *, raw: list[bytes] = ()) -> None:
    broker = make_broker(KafkaSettings(), bootstrap, client_id="warehouse-test-producer")
    async with broker:
        publisher = EventPublisher(broker, catalogue, source="test")
        for start in range(0, len(events), 500):
            await publisher.publish_all(events[start : start + 500])
        for value in raw:
            await broker.publish(value, catalogue.name(RUNS_REQUESTED), key=b"raw")


def test_every_event_is_stored_exactly_once_when_the_warehouse_is_killed_mid_stream_and_restarted(
    kafka_bootstrap: str, catalogue: Catalogue, warehouse: WarehouseProcess
) -> None:
    first, second = runs(300, "before"), runs(150, "after")
    asyncio.run(publish(kafka_bootstrap, catalogue, first, raw=[UNKNOWN, b"{not an event"]))
    expected = len(first) + len(second) + 1  # the unknown event is kept; the undecodable bytes go to the DLQ

    warehouse.start()
    at_kill = warehouse.wait_for(lambda detail: int(detail["events"]) >= 1000, "the warehouse to be ingesting")
    warehouse.kill()
    assert int(at_kill["events"]) < len(first)  # killed with most of the stream still to read

    asyncio.run(publish(kafka_bootstrap, catalogue, second))
    warehouse.start()
    warehouse.wait_for(lambda detail: int(detail["events"]) >= expected, f"{expected} events")
    warehouse.stop()

    stored = warehouse.stored_event_ids()
    assert len(stored) == len(set(stored)) == expected
    assert set(stored) == {event.event_id for event in first + second} | {"paused-1"}
    with duckdb.connect(str(warehouse.root / "warehouse" / "warehouse.duckdb"), read_only=True) as connection:
        turns = connection.execute("SELECT count(*), count(DISTINCT event_id) FROM turns").fetchone()
        runs_done = connection.execute("SELECT count(*) FROM runs WHERE status = 'succeeded'").fetchone()[0]
    assert turns == (sum(isinstance(e, TurnRecorded) for e in first + second),) * 2
    assert runs_done == 450


def test_stored_offsets_decide_where_reading_resumes_when_the_consumer_group_is_new(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    first, second = runs(20, "one"), runs(10, "two")
    asyncio.run(publish(kafka_bootstrap, catalogue, first))
    warehouse = WarehouseProcess(kafka_bootstrap, catalogue, tmp_path, group=f"warehouse-{uuid.uuid4().hex[:8]}")
    try:
        warehouse.start()
        warehouse.wait_for(lambda detail: int(detail["events"]) >= len(first), "the first events")
        warehouse.stop()
        # A group Kafka has never seen would start from the earliest offsets: only DuckDB's offsets prevent repeats.
        warehouse.env["GENESIS_WAREHOUSE_GROUP_ID"] = f"warehouse-{uuid.uuid4().hex[:8]}"
        asyncio.run(publish(kafka_bootstrap, catalogue, second))
        warehouse.start()
        detail = warehouse.wait_for(lambda detail: int(detail["events"]) >= len(first) + len(second), "all events")
    finally:
        warehouse.stop()
    assert detail["repeated"] == 0
    stored = warehouse.stored_event_ids()
    assert len(stored) == len(set(stored)) == len(first) + len(second)


def test_sql_answers_from_snapshots_while_the_writer_runs(
    kafka_bootstrap: str, catalogue: Catalogue, warehouse: WarehouseProcess
) -> None:
    events = runs(40, "live")
    asyncio.run(publish(kafka_bootstrap, catalogue, events, raw=[b"\x00 not json"]))
    warehouse.start()
    warehouse.wait_for(
        lambda detail: int(detail["events"]) >= len(events) and int(detail["snapshot_files"]) > 0, "a snapshot"
    )

    deadline = time.monotonic() + WAIT_S
    while True:  # the snapshot may be one interval behind the writer: ask until it has caught up
        answer = warehouse.genesis(
            "warehouse", "sql", "SELECT count(*) AS n, count(DISTINCT run_id) AS runs FROM events", "--json"
        )
        assert answer.returncode == 0, answer.stderr
        if json.loads(answer.stdout) == [{"n": len(events), "runs": 40}] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert json.loads(answer.stdout) == [{"n": len(events), "runs": 40}]
    assert "snapshots" in warehouse.genesis("warehouse", "sql", "SELECT 1").stderr

    bad = warehouse.genesis("warehouse", "sql", "SELECT * FROM no_such_table")
    assert bad.returncode == 2 and "no_such_table" in bad.stderr and bad.stdout == ""

    # The writer was not disturbed: it is alive and keeps ingesting.
    more = runs(5, "later")
    asyncio.run(publish(kafka_bootstrap, catalogue, more))
    detail = warehouse.wait_for(
        lambda detail: int(detail["events"]) >= len(events) + len(more), "events after the queries"
    )
    assert detail["dead_letters"] == 1
