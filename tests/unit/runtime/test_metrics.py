"""The operator endpoint (/metrics, /healthz), trace context helpers, and the planner's metrics and spans."""

from __future__ import annotations

import asyncio
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client import CollectorRegistry, Counter

from schemas import RunFinished, RunRequested, TaskFinished, TaskReady, TaskStarted
from services.planner.metrics import PlannerTelemetry
from services.runtime.health import Heartbeat, tasks_running
from services.runtime.metrics import MetricsPortInUse, MetricsServer, health_report
from services.runtime.telemetry import TelemetrySettings, read_spans, tracer_provider
from streams.tracing import RUN_TRACES, context_from_headers, kafka_headers, run_context, trace_headers, trace_ids
from tests.support.spans import memory_exporter

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("demo_events", "Events", registry=registry).inc(3)
    return registry


def serve(heartbeat: Heartbeat, registry: CollectorRegistry, port: int = 0) -> MetricsServer:
    server = MetricsServer(
        host="127.0.0.1",
        port=port,
        health=lambda: health_report(heartbeat, unhealthy_after_s=10),
        registry=registry,
        setting="planner.metrics_port",
    )
    server.start()
    return server


async def get(url: str) -> httpx.Response:
    return await asyncio.to_thread(httpx.get, url, timeout=5)


async def test_metrics_endpoint_serves_prometheus_text_when_scraped(tmp_path: Path, registry) -> None:
    server = serve(Heartbeat(tmp_path, "planner", 1.0), registry)
    try:
        response = await get(server.url)
        assert response.status_code == 200
        assert "demo_events_total 3.0" in response.text
        assert (await get(server.url.replace("/metrics", "/nope"))).status_code == 404
    finally:
        server.stop()


async def test_healthz_is_503_until_ready_then_200_then_503_when_a_watched_loop_stops(tmp_path: Path, registry) -> None:
    heartbeat = Heartbeat(tmp_path, "planner", 1.0)
    loop = asyncio.create_task(asyncio.Event().wait())
    heartbeat.watch("flush loop", lambda: tasks_running(loop))
    server = serve(heartbeat, registry)
    healthz = server.url.replace("/metrics", "/healthz")
    try:
        before = await get(healthz)
        assert before.status_code == 503 and before.json()["reasons"] == ["not consuming yet"]
        await heartbeat.start()
        assert (await get(healthz)).status_code == 200
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        after = await get(healthz)
        assert after.status_code == 503 and after.json()["reasons"] == ["loop stopped: flush loop"]
    finally:
        server.stop()
        await heartbeat.stop()


async def test_healthz_is_503_when_the_event_loop_stops_beating(tmp_path: Path, registry) -> None:
    heartbeat = Heartbeat(tmp_path, "executor-1", 1.0)
    await heartbeat.start()
    await heartbeat.stop()  # no more beats: as if the loop were blocked
    report = health_report(heartbeat, unhealthy_after_s=0.0)
    assert not report.healthy and report.reasons[0].startswith("event loop unresponsive")


def test_starting_fails_with_the_setting_to_change_when_the_port_is_taken(tmp_path: Path, registry) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MetricsPortInUse, match=f"metrics port {port} .* set planner.metrics_port"):
            serve(Heartbeat(tmp_path, "planner", 1.0), registry, port=port)


def test_trace_context_round_trips_through_kafka_headers_when_a_span_is_current() -> None:
    memory_exporter()
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("send") as span:
        headers = kafka_headers()
        ids = trace_ids(dict(headers)["traceparent"])
    context = span.get_span_context()
    assert ids == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    received = trace.get_current_span(context_from_headers(headers)).get_span_context()
    assert (received.trace_id, received.span_id) == (context.trace_id, context.span_id)
    assert trace_headers() == {}  # no span current: nothing to send


def test_a_runs_events_are_sent_in_its_trace_when_no_span_is_current() -> None:
    memory_exporter()
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("invoke_workflow") as run_span:
        RUN_TRACES.remember("run-ctx", trace.set_span_in_context(run_span))
    with run_context("run-ctx"):
        assert trace.get_current_span() is run_span
    with tracer.start_as_current_span("execute_tool x") as tool_span, run_context("run-ctx"):
        assert trace.get_current_span() is tool_span  # the current span wins
    RUN_TRACES.forget("run-ctx")
    with run_context("run-ctx"):
        assert not trace.get_current_span().get_span_context().is_valid


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_planner_counts_tasks_and_hop_latency_and_ends_the_run_span_when_the_run_finishes() -> None:
    exporter = memory_exporter()
    telemetry = PlannerTelemetry(runs_held=lambda: 1)
    request = RunRequested(run_id="run-m", query="q", occurred_at=datetime.now(UTC) - timedelta(seconds=1))
    dispatched_before = sample("genesis_planner_tasks_dispatched_total", {"attempt": "first"})
    hops_before = sample("genesis_planner_dispatch_latency_seconds_count", {"hop": "request"})
    deps_before = sample("genesis_planner_dispatch_latency_seconds_count", {"hop": "dependency"})
    telemetry.applied(request)
    with telemetry.planning(request):
        pass
    assert "run-m" in RUN_TRACES
    telemetry.published([TaskReady(run_id="run-m", task_id="1", tool="sleep", occurred_at=T0)])
    assert sample("genesis_planner_tasks_ready") == 1 and sample("genesis_planner_tasks_in_flight") == 0
    telemetry.applied(TaskStarted(run_id="run-m", task_id="1", attempt=1, executor="e"))
    assert sample("genesis_planner_tasks_ready") == 0 and sample("genesis_planner_tasks_in_flight") == 1
    telemetry.applied(
        TaskFinished(run_id="run-m", task_id="1", status="ok", started_at=T0, finished_at=T0, occurred_at=T0)
    )
    telemetry.published([TaskReady(run_id="run-m", task_id="2", tool="sleep", occurred_at=T0)])
    assert sample("genesis_planner_tasks_dispatched_total", {"attempt": "first"}) == dispatched_before + 2
    assert sample("genesis_planner_dispatch_latency_seconds_count", {"hop": "request"}) == hops_before + 1
    assert sample("genesis_planner_dispatch_latency_seconds_count", {"hop": "dependency"}) == deps_before + 1
    finished_before = sample("genesis_planner_runs_finished_total", {"status": "succeeded"})
    telemetry.published([RunFinished(run_id="run-m", status="succeeded")])
    assert sample("genesis_planner_runs_finished_total", {"status": "succeeded"}) == finished_before + 1
    assert "run-m" not in RUN_TRACES and sample("genesis_planner_tasks_ready") == 0
    spans = {
        span.name: span
        for span in exporter.get_finished_spans()
        if span.attributes.get("gen_ai.conversation.id") == "run-m"
    }
    assert spans["plan"].parent.span_id == spans["invoke_workflow"].context.span_id
    assert spans["invoke_workflow"].attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert sample("genesis_planner_runs_in_flight") == 1


def test_spans_reach_an_otlp_collector_when_an_endpoint_is_configured(tmp_path: Path) -> None:
    received: list[ExportTraceServiceRequest] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(ExportTraceServiceRequest.FromString(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = TelemetrySettings(
        otlp_endpoint=f"http://127.0.0.1:{server.server_port}/v1/traces", span_dir=str(tmp_path / "spans")
    )
    provider = tracer_provider(settings, service="planner", instance="planner-1")
    assert provider is not None
    with provider.get_tracer("test").start_as_current_span(
        "invoke_workflow", attributes={"gen_ai.operation.name": "x"}
    ):
        pass
    provider.shutdown()
    server.shutdown()
    (exported,) = [
        span for request in received for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans
    ]
    assert exported.name == "invoke_workflow"
    (written,) = read_spans(tmp_path / "spans" / "planner-1.jsonl")
    assert (written.name, written.service) == ("invoke_workflow", "genesis-planner")
    assert written.trace_id == exported.trace_id.hex()


def test_no_provider_is_made_when_tracing_is_off() -> None:
    assert tracer_provider(TelemetrySettings(tracing=False), service="planner", instance="p") is None
