"""End to end on a real broker: plans run through the planner and executors, and the warehouse records them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from schemas import RunFinished
from services.curator.core.pii import PiiDetector
from services.warehouse.app import Warehouse
from services.warehouse.core.scrubbing import TextScrubber
from services.warehouse.preparing import ThreadPreparer
from services.warehouse.settings import WarehouseSettings
from services.warehouse.store import WarehouseStore
from services.warehouse.writer import BatchWriter
from streams.broker import make_broker
from streams.catalogue import Catalogue
from streams.inbox import Inbox
from streams.outbox import EventPublisher
from streams.settings import KafkaSettings
from tests.e2e.system import running_system

pytestmark = pytest.mark.kafka
WAIT_S = 60

FAN_OUT = "\n".join(
    [f"Task {n}: sleep(seconds=0.5) | Dependencies: none" for n in range(1, 5)]
    + ['Task 5: calculator(expression="$1 + $2 + $3 + $4") | Dependencies: Task 1, Task 2, Task 3, Task 4']
)
FAILING = (
    'Task 1: always_fails(reason="the quote service is down") | Dependencies: none\n'
    'Task 2: calculator(expression="1 + 1") | Dependencies: none\n'
    'Task 3: calculator(expression="$1 * 2") | Dependencies: Task 1\n'
)


class Recorded:
    """The in-process warehouse's own view of its DuckDB file, queried on its database thread."""

    def __init__(self, store: WarehouseStore, writer: BatchWriter) -> None:
        self._store = store
        self._writer = writer

    async def rows(self, sql: str, *parameters: object) -> list[tuple]:
        return await self._writer.in_database(lambda: self._store.connection.execute(sql, list(parameters)).fetchall())


@contextlib.asynccontextmanager
async def in_process_warehouse(bootstrap: str, catalogue: Catalogue, root: Path) -> AsyncIterator[Recorded]:
    settings = WarehouseSettings(dir=str(root), group_id=f"{catalogue.prefix}-warehouse", batch_max_wait_s=0.1)
    store = WarehouseStore.open(settings.database_path, checkpoint_threshold=settings.checkpoint_threshold, timeout_s=5)
    broker = make_broker(KafkaSettings(), bootstrap, client_id="warehouse")
    writer = BatchWriter(store, ThreadPreparer(TextScrubber(PiiDetector().scrub)))
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    warehouse = Warehouse(
        bootstrap=bootstrap,
        catalogue=catalogue,
        settings=settings,
        store=store,
        writer=writer,
        inbox=Inbox(EventPublisher(broker, catalogue, source="warehouse"), catalogue, consumer="warehouse"),
        name="warehouse",
        on_fatal=lambda error: None,
        on_ready=on_ready,
    )
    async with broker:
        await broker.start()
        await warehouse.start()
        await asyncio.wait_for(ready.wait(), WAIT_S)
        try:
            yield Recorded(store, writer)
        finally:
            await warehouse.stop()


async def wait_for_finished_runs(recorded: Recorded, run_ids: list[str]) -> None:
    finished = "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL AND list_contains(?, run_id)"
    async with asyncio.timeout(WAIT_S):
        while (await recorded.rows(finished, run_ids))[0][0] < len(run_ids):  # noqa: ASYNC110 - DuckDB has no change notification
            await asyncio.sleep(0.05)


async def test_runs_and_attempts_are_recorded_when_plans_run_through_the_system(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    async with in_process_warehouse(kafka_bootstrap, catalogue, tmp_path) as warehouse:
        async with running_system(kafka_bootstrap, catalogue) as (_, client):
            fan_out, failing = await asyncio.gather(
                client.run(plan_text=FAN_OUT, timeout_s=WAIT_S, labels={"job": "fan"}),
                client.run(plan_text=FAILING, timeout_s=WAIT_S),
            )
        assert isinstance(fan_out, RunFinished) and isinstance(failing, RunFinished)
        await wait_for_finished_runs(warehouse, [fan_out.run_id, failing.run_id])

        run = await warehouse.rows(
            "SELECT status, tasks, attempts, makespan_s, sequential_s, critical_path_s, speedup, labels->>'job' "
            "FROM runs WHERE run_id = ?",
            fan_out.run_id,
        )
        metrics = fan_out.metrics
        assert run == [
            (
                "succeeded",
                5,
                5,
                metrics.makespan_s,
                metrics.sequential_s,
                metrics.critical_path_s,
                metrics.speedup,
                "fan",
            )
        ]
        attempts = await warehouse.rows(
            "SELECT task_id, status, executor, latency_s, started_at, finished_at "
            "FROM task_attempts WHERE run_id = ? ORDER BY task_id",
            fan_out.run_id,
        )
        assert [(task, status) for task, status, *_ in attempts] == [(str(n), "ok") for n in range(1, 6)]
        assert {executor for _, _, executor, *_ in attempts} <= {"executor-1", "executor-2"}
        sleeps = attempts[:4]
        assert all(latency == pytest.approx(0.5, abs=0.2) for *_, latency, _, _ in sleeps)
        assert max(started for *_, started, _ in sleeps) < min(finished for *_, finished in sleeps)  # ran in parallel
        deps = await warehouse.rows(
            "SELECT depends_on FROM task_dependencies WHERE run_id = ? AND task_id = '5' ORDER BY 1", fan_out.run_id
        )
        assert deps == [("1",), ("2",), ("3",), ("4",)]

        failed = await warehouse.rows("SELECT status, tool_errors, reason FROM runs WHERE run_id = ?", failing.run_id)
        assert failed == [("partial", 3, failing.reason)] and failing.status == "partial"  # task 2, a sink, succeeded
        tries = await warehouse.rows(
            "SELECT attempt, status, error FROM task_attempts WHERE run_id = ? AND task_id = '1' ORDER BY attempt",
            failing.run_id,
        )
        assert [(attempt, status) for attempt, status, _ in tries] == [(1, "error"), (2, "error"), (3, "error")]
        assert await warehouse.rows("SELECT task_id FROM task_skips WHERE run_id = ?", failing.run_id) == [("3",)]
        turns = await warehouse.rows(
            "SELECT count(*) FROM turns WHERE run_id IN (?, ?)", fan_out.run_id, failing.run_id
        )
        assert turns == [(fan_out.metrics.turns + failing.metrics.turns,)]
