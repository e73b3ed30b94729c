"""`genesis status`: a hint when nothing runs, and each service's own health and key metrics when it does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge
from typer.testing import CliRunner

from services.cli.main import app
from services.cli.status_report import NOTHING_RUNNING, key_metrics, kind_of, observe_services
from services.runtime.health import Heartbeat
from services.runtime.metrics import MetricsServer, health_report


@pytest.fixture
def empty_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GENESIS_RUNTIME_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # configured: nothing local is looked for
    return tmp_path


def test_status_says_how_to_start_when_nothing_is_running(empty_state: Path) -> None:
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert NOTHING_RUNNING in result.output
    assert "None" not in result.output and "pid" not in result.output


def test_status_json_has_the_hint_and_no_services_when_nothing_is_running(empty_state: Path) -> None:
    result = CliRunner().invoke(app, ["status", "--json"])
    report = json.loads(result.output)
    assert report["services"] == [] and report["hint"] == NOTHING_RUNNING


def test_kind_is_the_name_without_its_number_when_started_by_up() -> None:
    assert [kind_of(name) for name in ("executor-12", "planner", "warehouse", "my-svc")] == [
        "executor",
        "planner",
        "warehouse",
        "my-svc",
    ]


def test_key_metrics_sum_the_samples_a_service_kind_shows() -> None:
    samples = {"genesis_executor_tasks_total": 7.0, "genesis_executor_tasks_in_flight": 2.0, "other": 1.0}
    assert key_metrics("executor", samples) == {"tasks in flight": 2, "tasks done": 7}


async def test_a_live_service_reports_its_health_and_metrics_when_status_scrapes_it(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    Gauge("genesis_planner_runs_in_flight", "runs", registry=registry).set(4)
    heartbeat = Heartbeat(tmp_path, "planner", 1.0)
    server = MetricsServer(
        host="127.0.0.1", port=0, health=lambda: health_report(heartbeat, unhealthy_after_s=10), registry=registry
    )
    server.start()
    try:
        services = [{"name": "planner", "alive": True, "metrics_url": server.url}]
        observe_services(services)
        assert services[0]["health_check"] == "unhealthy: not consuming yet"
        await heartbeat.start()
        observe_services(services)
        assert services[0]["health_check"] == "healthy"
        assert services[0]["metrics"] == {"runs in flight": 4}
    finally:
        server.stop()
        await heartbeat.stop()
