"""`genesis up` supervises what it starts: a service killed outright comes back (and `genesis status` counts the
restart), a service that cannot start is given up on with a clear message, and `genesis down` leaves nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.processes import kill
from services.bench.stack import stack_environment
from services.runtime.settings import RuntimeSettings
from services.runtime.supervisor import Supervisor

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
COMMAND_TIMEOUT_S = 180
RESTART_S = 90


@pytest.fixture
def genesis(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    """Runs `genesis ...` against the test broker with topics, groups and state of its own."""
    prefix = f"sup{uuid.uuid4().hex[:8]}"
    env = stack_environment(
        kafka_bootstrap,
        prefix,
        tmp_path,
        GENESIS_RUNTIME_RESTART_BACKOFF_BASE_S="0.2",
        GENESIS_RUNTIME_RESTART_GIVE_UP_AFTER="3",
    )

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli.main", *args],
            env={**env, **extra_env},
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )

    try:
        yield run
    finally:
        run("down")


def supervisor(tmp_path: Path) -> Supervisor:
    return Supervisor(RuntimeSettings(state_dir=str(tmp_path / "state")))


def test_killed_executor_comes_back_and_status_counts_it_when_the_system_is_up(genesis, tmp_path: Path) -> None:
    started = genesis("up", "--executors", "1")
    assert started.returncode == 0, started.stdout + started.stderr
    services = supervisor(tmp_path)
    before = services.record_of("executor-1")
    assert before is not None

    assert kill(before)  # SIGKILL, by the recorded and verified process
    deadline = time.monotonic() + RESTART_S
    while time.monotonic() < deadline:
        state = services.state("executor-1")
        if state.healthy and state.pid not in (None, before.pid):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"executor-1 was not restarted within {RESTART_S} s\n{services.log_tail('supervisor')}")

    status = json.loads(genesis("status", "--json").stdout)
    by_name = {service["name"]: service for service in status["services"]}
    assert by_name["executor-1"]["restarts"] == 1 and by_name["executor-1"]["healthy"]
    assert by_name["planner"]["restarts"] == 0 and status["supervisor"]["pid"]

    plan = tmp_path / "plan.txt"
    plan.write_text('Task 1: calculator(expression="6 * 7") | Dependencies: none\n')
    submitted = genesis("submit", "--plan", str(plan), "--wait", "--json")
    assert submitted.returncode == 0, submitted.stderr
    assert json.loads(submitted.stdout)["answer"] == 42

    assert genesis("down").returncode == 0
    assert services.record_of("executor-1") is None and services.watchdog_pid() is None
    assert not before.is_running()


def test_up_gives_up_with_the_reason_when_a_service_keeps_exiting_at_start(genesis, tmp_path: Path) -> None:
    started = genesis("up", "--executors", "1", GENESIS_EXECUTOR_CONCURRENCY="many")
    assert started.returncode == 1
    assert "executor-1 gave up after 3 exits in a row" in started.stderr
    assert supervisor(tmp_path).state("executor-1").gave_up is not None
