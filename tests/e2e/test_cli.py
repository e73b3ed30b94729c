"""The genesis command as a user runs it: up, status, plan show, submit, down, each in its own process."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.bench.stack import stack_environment

pytestmark = pytest.mark.kafka
COMMAND_TIMEOUT_S = 180


@pytest.fixture
def genesis(kafka_bootstrap: str, tmp_path: Path) -> Iterator:
    """Runs `genesis ...` against the test broker with topics, groups and state of its own."""
    prefix = f"cli{uuid.uuid4().hex[:8]}"
    env = stack_environment(kafka_bootstrap, prefix, tmp_path)

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli.main", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )

    try:
        yield run
    finally:
        run("down")


def test_user_runs_a_plan_through_background_services_when_the_system_is_up(genesis, tmp_path: Path) -> None:
    started = genesis("up", "--executors", "1")
    assert started.returncode == 0, started.stdout + started.stderr

    status = json.loads(genesis("status", "--json").stdout)
    services = {service["name"]: service for service in status["services"]}
    assert {"planner", "executor-1", "warehouse"} <= set(services)
    assert all(service["healthy"] and service["pid"] for service in services.values())
    assert status["kafka"]["mode"] == "configured"

    plan = tmp_path / "plan.txt"
    plan.write_text(
        '<plan>\nTask 1: kb_search(query="population of France") | Dependencies: none\n'
        'Task 2: kb_search(query="population of Germany") | Dependencies: none\n'
        'Task 3: calculator(expression="round($2 / $1, 3)") | Dependencies: Task 1, Task 2\n</plan>\n'
    )
    submitted = genesis("submit", "--plan", str(plan), "--wait", "--json")
    assert submitted.returncode == 0, submitted.stderr
    outcome = json.loads(submitted.stdout)
    assert outcome["status"] == "succeeded"
    assert outcome["answer"] == 1.239
    assert set(outcome["observations"]) == {"1", "2"}  # the final task's result travels once, as the answer
    assert {"makespan_s", "sequential_s", "critical_path_s", "speedup"} <= set(outcome["metrics"])

    plan.write_text(
        "Task 1: sleep(seconds=0) | Dependencies: Task 2\nTask 2: sleep(seconds=0) | Dependencies: Task 1\n"
    )
    submitted = genesis("submit", "--plan", str(plan), "--wait", "--json")
    assert submitted.returncode == 1, submitted.stderr  # as without --json: the run did not succeed
    rejected = json.loads(submitted.stdout)
    assert rejected["status"] == "rejected" and "cycle: 1 -> 2 -> 1" in rejected["reason"]

    stopped = genesis("down")
    assert stopped.returncode == 0
    assert json.loads(genesis("status", "--json").stdout)["services"] == []


def test_plan_show_exits_2_with_the_reason_on_stderr_when_the_plan_is_invalid(genesis) -> None:
    shown = genesis("plan", "show", "-", stdin="Task 1: sleep(seconds=1) | Dependencies: Task 7\n")
    assert shown.returncode == 2
    assert "line 1: task 1 depends on unknown task 7" in shown.stderr
    assert shown.stdout == ""


def test_plan_show_prints_levels_and_critical_path_as_json_when_asked(genesis) -> None:
    plan = (
        '1. kb_search(query="area of Canada")\n'
        '2. kb_search(query="area of Brazil")\n'
        '3. calculator(expression="$1 - $2")\n'
        "4. join()\n"
    )
    shown = genesis("plan", "show", "-", "--json", stdin=plan)
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["levels"] == [["1", "2"], ["3"]]
    assert document["critical_path"][-1] == "3"
    assert document["tasks"][2]["deps"] == ["1", "2"]
