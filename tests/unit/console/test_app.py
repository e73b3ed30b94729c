"""The console's JSON API and pages in process (Starlette's test client): answers, and clear errors, never traces."""

from __future__ import annotations

from datetime import datetime

import pytest
from starlette.testclient import TestClient

from services.console.app import Console, SubmitFailed, build_app
from services.console.core.board import Board
from services.console.core.plans import PlanRules
from services.console.hub import Hub
from services.console.warehouse import WarehouseViews
from services.warehouse.settings import WarehouseSettings
from tests.unit.warehouse.events import at, fan_out_run

RULES = PlanRules(known_tools={"sleep", "calculator"}, signatures=None, max_tasks=8, llm_available=False)
CYCLE = "Task 1: sleep(seconds=0) | Dependencies: Task 2\nTask 2: sleep(seconds=0) | Dependencies: Task 1"


def client_for(settings: WarehouseSettings, submitted: list[dict], *, kafka_up: bool = True) -> TestClient:
    board = Board(keep_finished=10)
    for event in fan_out_run("live-run", width=2)[:4]:  # planned, first task dispatched and turned
        board.apply(event)

    async def submit(**request: object) -> str:
        if not kafka_up:
            raise SubmitFailed("Kafka at 127.0.0.1:1 did not answer within 1 s; is the stack up (`genesis up`)?")
        submitted.append(request)
        return "new-run"

    console = Console(
        board=board,
        hub=Hub(),
        warehouse=WarehouseViews(settings, max_rows=100),
        rules=RULES,
        submit=submit,
        now=lambda: datetime.fromtimestamp(at(2).timestamp(), at(2).tzinfo),
        feed_status=lambda: "live",
    )
    return TestClient(build_app(console), raise_server_exceptions=False)


@pytest.fixture
def client(stored: WarehouseSettings) -> TestClient:
    return client_for(stored, [])


def test_runs_list_merges_live_and_stored_runs_when_asked(client: TestClient) -> None:
    answer = client.get("/api/runs").json()
    assert {row["run_id"]: row["source"] for row in answer["runs"]} == {
        "live-run": "live",
        "run-wide": "warehouse",
        "run-plain": "warehouse",
    }
    filtered = client.get("/api/runs", params={"status": "running"}).json()["runs"]
    assert [row["run_id"] for row in filtered] == ["live-run"]
    assert client.get("/api/runs", params={"label": "job=none"}).json()["runs"] == []
    assert client.get("/api/runs", params={"limit": "x"}).json() == {"error": "limit must be a whole number"}


def test_run_page_comes_live_or_from_the_warehouse_and_unknown_ids_say_so(client: TestClient) -> None:
    live = client.get("/api/runs/live-run").json()
    assert live["source"] == "live" and {node["state"] for node in live["nodes"]} == {"ready", "waiting"}
    stored = client.get("/api/runs/run-wide").json()
    assert stored["source"] == "warehouse" and stored["status"] == "succeeded" and stored["gantt"]["lanes"]
    missing = client.get("/api/runs/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no run 'nope': not on the live feed and not in the warehouse"}


def test_pages_are_one_shell_with_local_assets_only_when_served(client: TestClient) -> None:
    for path in ("/", "/runs/live-run", "/sql", "/submit"):
        page = client.get(path)
        assert page.status_code == 200 and '<script src="/static/console.js">' in page.text
        assert "http://" not in page.text and "https://" not in page.text
    script = client.get("/static/console.js").text
    assert "EventSource" in script and "https://" not in script and "http://" not in script.replace(SVG_NS, "")


SVG_NS = "http://www.w3.org/2000/svg"


def test_plan_check_and_submit_refuse_a_cycle_with_its_line(client: TestClient) -> None:
    verdict = client.post("/api/plans/check", json={"text": CYCLE}).json()
    assert verdict["ok"] is False and verdict["line"] == 1 and "cycle: 1 -> 2 -> 1" in verdict["reason"]
    refused = client.post("/api/submit", json={"plan_text": CYCLE})
    assert refused.status_code == 400 and refused.json()["error"].startswith("line 1: cycle: 1 -> 2 -> 1")


def test_submit_publishes_a_valid_plan_and_reports_kafka_away_when_it_is(stored: WarehouseSettings) -> None:
    submitted: list[dict] = []
    accepted = client_for(stored, submitted).post(
        "/api/submit", json={"plan_text": "Task 1: sleep(seconds=0) | Dependencies: none", "labels": {"job": "t"}}
    )
    assert accepted.json() == {"run_id": "new-run"}
    assert submitted == [
        {"plan_text": "Task 1: sleep(seconds=0) | Dependencies: none", "query": None, "labels": {"job": "t"}}
    ]
    down = client_for(stored, [], kafka_up=False).post("/api/submit", json={"query": "how tall is K2?"})
    assert down.status_code == 503 and "is the stack up" in down.json()["error"]


def test_sql_answers_as_json_and_csv_and_refuses_writes(client: TestClient) -> None:
    answer = client.post("/api/sql", json={"query": "SELECT run_id FROM runs ORDER BY run_id"}).json()
    assert answer["columns"] == ["run_id"] and answer["rows"] == [["run-plain"], ["run-wide"]]
    csv = client.get("/api/sql", params={"query": "SELECT run_id FROM runs ORDER BY run_id"})
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.splitlines() == [
        "run_id",
        "run-plain",
        "run-wide",
    ]
    refused = client.post("/api/sql", json={"query": "COPY runs TO '/tmp/x.csv'"})
    assert refused.status_code == 400 and refused.json()["error"].startswith("bad query: only SELECT")
    assert client.post("/api/sql", content=b"not json").json() == {"error": "/api/sql: the request body is not JSON"}


def test_warehouse_away_is_a_message_when_nothing_was_stored_yet(tmp_path) -> None:
    client = client_for(WarehouseSettings(dir=str(tmp_path / "none")), [])
    assert client.get("/api/runs").json()["warehouse"].startswith("no warehouse in")
    assert client.post("/api/sql", json={"query": "SELECT 1"}).status_code == 503
    assert "start it with `genesis up`" in client.get("/api/charts").json()["error"]
    assert client.get("/api/examples").json()[0]["name"] == "slowest_tools"
