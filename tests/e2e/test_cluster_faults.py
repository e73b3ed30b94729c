"""Broker faults under load, each on brokers of its own: a 3-node KRaft cluster (replication 3, min.insync 2) with
one broker SIGKILLed while runs are in flight, and a single broker stopped and started again while runs are in flight.

The planner and two executors run in-process (tests/e2e/system.py) against the brokers; a reader counts every
RunFinished on the results topic. Every run submitted must finish once, succeeded. Opt-in (``pytest -m cluster``,
a step of .ci/run of its own); each prints a line with its figures (pytest -s).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local_kafka import LocalKafka
from services.client import GenesisClient
from streams.admin import ensure_topics
from streams.catalogue import TASKS_READY, Catalogue
from streams.reading import describe_partitions
from tests.e2e.system import running_system
from tests.support.committed import finished_counts, report
from tests.support.kafka import local_kafka

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.cluster, pytest.mark.timeout(420)]

RUNS = 40
FINISH_S = 240
# Two parallel sleeps and a sum: tasks are in flight on both executors when the broker goes.
PLAN = (
    "Task 1: sleep(seconds=0.3) | Dependencies: none\n"
    "Task 2: sleep(seconds=0.3) | Dependencies: none\n"
    'Task 3: calculator(expression="$1 + $2") | Dependencies: Task 1, Task 2\n'
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    with local_kafka(tmp_path_factory.mktemp("cluster"), nodes=3) as brokers:
        yield brokers


@pytest.fixture
def single_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    with local_kafka(tmp_path / "broker", heap="256m") as broker:
        yield broker


async def test_every_run_finishes_once_when_a_cluster_broker_is_killed_under_load(cluster: LocalKafka) -> None:
    bootstrap = cluster.settings.bootstrap_servers
    catalogue = Catalogue(prefix=f"c{uuid.uuid4().hex[:8]}")
    await ensure_topics(bootstrap, catalogue, replication_factor=3, min_insync_replicas=2)
    assert await replica_counts(bootstrap, catalogue.name(TASKS_READY)) == {(3, 3)}
    victim = await leader_of(bootstrap, catalogue.name(TASKS_READY))

    async with running_system(bootstrap, catalogue) as (_, client):
        waits = await submit(client, RUNS // 2)
        await asyncio.wait(waits.values(), return_when=asyncio.FIRST_COMPLETED)
        in_flight = sum(not wait.done() for wait in waits.values())
        assert cluster.kill_node(victim)  # SIGKILL: the leader of the dispatch topic, gone without a word
        killed_at = time.monotonic()
        waits |= await submit(client, RUNS - RUNS // 2)  # more load while the cluster elects new leaders
        outcomes = await asyncio.gather(*waits.values())
        all_done_s = time.monotonic() - killed_at

    assert all(o.status == "succeeded" and o.answer == pytest.approx(0.6) for o in outcomes), outcomes
    finished = await finished_counts(bootstrap, catalogue)
    assert {run_id: finished[run_id] for run_id in waits} == dict.fromkeys(waits, 1)
    report(
        "3-node cluster, one broker SIGKILLed",
        runs_submitted=RUNS,
        in_flight_at_kill=in_flight,
        finished=len(outcomes),
        lost=RUNS - len(outcomes),
        finished_twice=sum(count > 1 for count in finished.values()),
        killed_node=victim,
        first_finish_after_kill_s=first_finish_after(waits, killed_at),
        all_finished_after_kill_s=round(all_done_s, 1),
    )


async def test_every_run_finishes_once_when_the_broker_is_stopped_and_restarted_under_load(
    single_broker: LocalKafka,
) -> None:
    bootstrap = single_broker.settings.bootstrap_servers
    catalogue = Catalogue(prefix=f"r{uuid.uuid4().hex[:8]}")
    await ensure_topics(bootstrap, catalogue)

    async with running_system(bootstrap, catalogue) as (_, client):
        waits = await submit(client, RUNS)
        await asyncio.wait(waits.values(), return_when=asyncio.FIRST_COMPLETED)
        in_flight = sum(not wait.done() for wait in waits.values())
        stopped_at = time.monotonic()
        assert await asyncio.to_thread(single_broker.stop_node, 1)
        down_s = time.monotonic() - stopped_at
        await asyncio.to_thread(single_broker.up)  # the same data, ports and cluster id
        restarted_at = time.monotonic()
        outcomes = await asyncio.gather(*waits.values())
        all_done_s = time.monotonic() - restarted_at

    assert all(o.status == "succeeded" and o.answer == pytest.approx(0.6) for o in outcomes), outcomes
    finished = await finished_counts(bootstrap, catalogue)
    assert {run_id: finished[run_id] for run_id in waits} == dict.fromkeys(waits, 1)
    report(
        "single broker stopped and restarted",
        runs_submitted=RUNS,
        in_flight_at_stop=in_flight,
        finished=len(outcomes),
        lost=RUNS - len(outcomes),
        finished_twice=sum(count > 1 for count in finished.values()),
        stop_s=round(down_s, 1),
        restart_s=round(restarted_at - stopped_at - down_s, 1),
        first_finish_after_restart_s=first_finish_after(waits, restarted_at),
        all_finished_after_restart_s=round(all_done_s, 1),
    )


async def submit(client: GenesisClient, count: int) -> dict[str, asyncio.Task]:
    """Submit ``count`` runs; each wait task notes when its run finished (``finished_at``)."""
    run_ids = [await client.submit(plan_text=PLAN) for _ in range(count)]
    waits = {run_id: asyncio.create_task(client.wait(run_id, timeout_s=FINISH_S)) for run_id in run_ids}
    for wait in waits.values():
        wait.add_done_callback(lambda task: setattr(task, "finished_at", time.monotonic()))
    return waits


def first_finish_after(waits: dict[str, asyncio.Task], moment: float) -> float | None:
    """Seconds from ``moment`` until the first run finished after it: the time to recover."""
    after = [wait.finished_at - moment for wait in waits.values() if wait.finished_at > moment]
    return round(min(after), 1) if after else None


async def replica_counts(bootstrap: str, topic: str) -> set[tuple[int, int]]:
    """(replicas, in-sync replicas) of each partition of ``topic``."""
    return {(len(p["replicas"]), len(p["isr"])) for p in await _partitions(bootstrap, topic)}


async def leader_of(bootstrap: str, topic: str) -> int:
    return (await _partitions(bootstrap, topic))[0]["leader"]


async def _partitions(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[dict]:
    """The topic's partitions as a broker describes them; a broker that has not yet learnt of a topic just created
    describes none, so ask again until one does (bounded)."""
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + timeout_s
    while True:
        partitions = await describe_partitions(bootstrap, topic)
        if partitions or loop.time() >= give_up_at:
            return partitions
        await asyncio.sleep(0.2)
