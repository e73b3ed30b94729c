"""Metrics, health and traces on a real broker.

In-process (tests/e2e/system.py): the counters move while a run goes through, and /healthz turns 503 when a
planner loop stops. As a user runs it (`genesis up`, each service its own process, plus the trainer): every
service's metrics_url is in `genesis status --json`, one run is one trace across planner, executors and trainer
(the spans each process exported) and the warehouse (the trace ids stored with the run's events).
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from services.bench.stack import stack_environment
from services.cli.status_report import scrape
from services.runtime.health import Heartbeat, read_health
from services.runtime.metrics import MetricsServer, health_report
from services.runtime.observe import watch_subscribers
from services.runtime.telemetry import read_spans
from streams.catalogue import Catalogue
from tests.e2e.system import running_system

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
WAIT_S = 120
COMMAND_TIMEOUT_S = 180
PLAN = (
    "<plan>\n"
    "Task 1: sleep(seconds=1.5) | Dependencies: none\n"
    'Task 2: kb_search(query="population of France") | Dependencies: none\n'
    'Task 3: calculator(expression="$2 * 2") | Dependencies: Task 1, Task 2\n'
    "</plan>\n"
)


def value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def total(text: str, name: str) -> float:
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


async def eventually(check: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_counters_move_during_a_run_and_healthz_turns_503_when_a_planner_loop_stops(
    kafka_bootstrap: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    async with running_system(kafka_bootstrap, catalogue, executors=2) as (system, client):
        heartbeat = Heartbeat(tmp_path, "planner", 1.0)
        assert system._planner_broker is not None
        watch_subscribers(heartbeat, system._planner_broker)  # as every service does (services/runtime/observe.py)
        server = MetricsServer(host="127.0.0.1", port=0, health=lambda: health_report(heartbeat, unhealthy_after_s=10))
        server.start()
        await heartbeat.start()
        healthz = server.url.replace("/metrics", "/healthz")
        try:
            before = (await asyncio.to_thread(httpx.get, server.url)).text
            assert (await asyncio.to_thread(httpx.get, healthz)).status_code == 200
            run_id = await client.submit(plan_text=PLAN)

            # During the run: it is in flight, and its sleeping task is dispatched and not finished.
            async def scraped() -> str:
                return (await asyncio.to_thread(httpx.get, server.url)).text

            during = await scraped()
            deadline = time.monotonic() + WAIT_S
            while (
                total(during, "genesis_planner_runs_in_flight") < 1
                or total(during, "genesis_planner_tasks_in_flight") < 1
            ):
                assert time.monotonic() < deadline, "the run and its sleeping task never showed as in flight"
                during = await scraped()
            outcome = await client.wait(run_id, timeout_s=WAIT_S)
            assert outcome.status == "succeeded"
            after = await scraped()
        finally:
            # The planner's consumer stops: it no longer reads results or requests, and says so.
            await system.stop_planner()
            stopped = await asyncio.to_thread(httpx.get, healthz)
            server.stop()
            await heartbeat.stop()
    assert stopped.status_code == 503
    assert "loop stopped: kafka subscribers" in stopped.json()["reasons"]

    def moved(name: str) -> float:
        return total(after, name) - total(before, name)

    assert moved("genesis_planner_tasks_dispatched_total") >= 3
    assert moved("genesis_planner_runs_finished_total") >= 1
    assert moved("genesis_planner_dispatch_latency_seconds_count") >= 3  # two from the request, one dependency
    assert moved("genesis_executor_tasks_total") >= 3
    assert moved("genesis_executor_tool_duration_seconds_count") >= 3
    assert moved("genesis_executor_queue_seconds_count") >= 3
    # The executors' own time, apart from the tools': per attempt, before the tool and after it (to the acks).
    assert moved("genesis_executor_overhead_seconds_count") >= 2 * 3
    assert moved("genesis_executor_batch_records_count") >= 1
    # The client publishes through FastStream, whose middleware counts it.
    assert moved("faststream_published_messages_total") > 0
    # The sleeping task's tool time lands in the one-to-two-second buckets.
    sleep_over_1s = value("genesis_executor_tool_duration_seconds_count", {"tool": "sleep", "status": "ok"}) - value(
        "genesis_executor_tool_duration_seconds_bucket", {"tool": "sleep", "status": "ok", "le": "1.0"}
    )
    assert sleep_over_1s >= 1


@pytest.fixture
def stack(
    kafka_bootstrap: str, tmp_path: Path
) -> Iterator[tuple[Callable[..., subprocess.CompletedProcess[str]], dict]]:
    """`genesis ...` against the test broker, with topics, groups, state, ports and span files of its own."""
    prefix = f"obs{uuid.uuid4().hex[:8]}"
    env = stack_environment(
        kafka_bootstrap,
        prefix,
        tmp_path,
        GENESIS_TELEMETRY_SPAN_DIR=str(tmp_path / "spans"),
        GENESIS_TELEMETRY_METRICS_HOST="127.0.0.1",
    )

    def genesis(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )

    try:
        yield genesis, env
    finally:
        genesis("down")


async def test_one_run_is_one_trace_across_services_when_each_runs_in_its_own_process(stack, tmp_path: Path) -> None:
    genesis, env = stack
    started = genesis("up", "--executors", "2")
    assert started.returncode == 0, started.stdout + started.stderr
    # The trainer's rollout store is a path relative to where it runs (configs/lightning_trainer.yaml).
    with (tmp_path / "trainer.log").open("wb") as log:
        trainer = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited on
            [sys.executable, "-m", "services.cli.main", "serve", "trainer", "--name", "trainer"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        urls = await _metrics_urls(genesis, {"planner", "executor-1", "executor-2", "warehouse"})
        assert len(set(urls.values())) == len(urls), "every service needs a port of its own"
        plan = tmp_path / "plan.txt"
        plan.write_text(PLAN)
        submitted = genesis("submit", "--plan", str(plan), "--wait", "--json")
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        run_id = json.loads(submitted.stdout)["run_id"]

        planner = await asyncio.to_thread(scrape, urls["planner"])
        assert planner["genesis_planner_tasks_dispatched_total"] >= 3
        assert planner["genesis_planner_runs_finished_total"] >= 1
        shown = genesis("status")
        assert shown.returncode == 0, shown.stderr
        assert "planner: healthy; runs in flight 0, runs finished 1" in shown.stdout
        assert urls["planner"] in shown.stdout
        executors = [await asyncio.to_thread(scrape, urls[f"executor-{n}"]) for n in (1, 2)]
        assert sum(e.get("genesis_executor_tasks_total", 0) for e in executors) >= 3
        # The trainer scores the run; the warehouse stores every event the services published for it.
        # Started outside `genesis up`, the trainer is found by its health file.
        run_dir = tmp_path / "state" / "run"
        await eventually(lambda: _metrics_url(run_dir, "trainer") is not None, "the trainer's metrics_url")
        trainer_url = _metrics_url(run_dir, "trainer")
        await eventually(lambda: scrape(trainer_url).get("genesis_trainer_rollouts_total", 0) >= 1, "a rollout")
        await eventually(lambda: _stored_everything(urls, trainer_url), "the warehouse to store every event")
    finally:
        trainer.send_signal(signal.SIGTERM)
        trainer.wait(timeout=60)
    stopped = genesis("down")
    assert stopped.returncode == 0, stopped.stderr

    spans = [span for path in sorted((tmp_path / "spans").glob("*.jsonl")) for span in read_spans(path)]
    connection = duckdb.connect(str(tmp_path / "warehouse" / "warehouse.duckdb"), read_only=True)
    rows = connection.execute(
        "SELECT type, trace_id, span_id FROM events WHERE run_id = ? AND type <> 'RunRequested.v1'", [run_id]
    ).fetchall()
    turns = connection.execute("SELECT DISTINCT trace_id FROM turns WHERE run_id = ?", [run_id]).fetchall()
    assert {"RunPlanned.v1", "TaskReady.v1", "TaskFinished.v1", "RunFinished.v1", "RewardAssigned.v1"} <= {
        row[0] for row in rows
    }
    trace_ids = {row[1] for row in rows}
    assert len(trace_ids) == 1 and None not in trace_ids, f"one trace per run, got {trace_ids}"
    (trace_id,) = trace_ids
    assert turns == [(trace_id,)]

    run_spans = [span for span in spans if span.trace_id == trace_id]
    ids = {span.span_id for span in run_spans}
    assert {row[2] for row in rows} <= ids, "every stored span id is a span some service exported"
    roots = [span for span in run_spans if span.parent_span_id is None]
    assert len(roots) == 1, [span.name for span in roots]
    assert all(span.parent_span_id in ids for span in run_spans if span is not roots[0]), "a parent is missing"
    names = {span.name for span in run_spans}
    assert {
        "invoke_workflow",
        "plan",
        "execute_tool sleep",
        "execute_tool kb_search",
        "execute_tool calculator",
    } <= names
    services = {span.service for span in run_spans}
    assert {"genesis-planner", "genesis-executor", "genesis-trainer"} <= services
    by_id = {span.span_id: span for span in run_spans}
    (workflow,) = [span for span in run_spans if span.name == "invoke_workflow"]
    tools = [span for span in run_spans if span.name.startswith("execute_tool")]
    assert all(_descends_from(span, workflow.span_id, by_id) for span in tools), "tool calls belong to the run's span"
    assert workflow.attributes["gen_ai.conversation.id"] == run_id


async def _metrics_urls(genesis, names: set[str]) -> dict[str, str]:
    deadline = time.monotonic() + WAIT_S
    while True:
        status = json.loads((await asyncio.to_thread(genesis, "status", "--json")).stdout)
        urls = {s["name"]: s["metrics_url"] for s in status["services"] if s["name"] in names and s["metrics_url"]}
        if set(urls) == names:
            return urls
        assert time.monotonic() < deadline, f"no metrics_url for {names - set(urls)} in {status['services']}"
        await asyncio.sleep(0.2)


def _metrics_url(run_dir: Path, name: str) -> str | None:
    health = read_health(run_dir, name)
    return health.metrics_url if health is not None else None


def _stored_everything(urls: dict[str, str], trainer_url: str) -> bool:
    """The warehouse holds as many events as the services published to event topics, plus the request."""
    published = 0.0
    for url in [*(u for name, u in urls.items() if name != "warehouse"), trainer_url]:
        text = httpx.get(url, timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                destination = sample.labels.get("destination", "")
                if sample.name == "faststream_published_messages_total" and not destination.endswith(
                    ("planner.journal", "planner.finished", "dlq")
                ):
                    published += sample.value
    return scrape(urls["warehouse"]).get("genesis_warehouse_events_total", 0) >= published + 1


def _descends_from(span, ancestor: str, by_id: dict) -> bool:
    while span.parent_span_id is not None:
        if span.parent_span_id == ancestor:
            return True
        span = by_id[span.parent_span_id]
    return False
