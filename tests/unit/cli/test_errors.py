"""Errors are one line on stderr with a hint; a traceback only with --debug."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.cli import main as genesis_main
from services.cli import plan_cli

PLAN = "Task 1: sleep(seconds=0) | Dependencies: none\n"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens here once the socket is closed


def run_genesis(*args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, time.monotonic() - started


@pytest.mark.parametrize("wait", [[], ["--wait"]], ids=["submit", "submit --wait"])
def test_submit_says_kafka_is_unreachable_in_one_line_quickly_when_the_stack_is_down(
    tmp_path: Path, wait: list[str]
) -> None:
    plan = tmp_path / "plan.txt"
    plan.write_text(PLAN)
    done, elapsed = run_genesis(
        "submit", "--plan", str(plan), *wait, env={"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}"}
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: cannot reach Kafka at 127.0.0.1:") and "genesis up" in lines[0]
    assert elapsed < 30, f"took {elapsed:.1f} s"


def test_unexpected_error_is_one_line_with_a_hint_when_not_debugging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(plan_cli, "parse_file", _explode)
    with pytest.raises(SystemExit) as exit_info:
        genesis_main.main(["plan", "show", str(tmp_path / "plan.txt")])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert error.strip().splitlines() == [
        "error: RuntimeError: the disk is on fire (run again with --debug for the traceback)"
    ]


def test_unexpected_error_raises_with_its_traceback_when_debugging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_cli, "parse_file", _explode)
    with pytest.raises(RuntimeError, match="the disk is on fire"):
        genesis_main.main(["--debug", "plan", "show", str(tmp_path / "plan.txt")])


def test_bad_configuration_exits_2_in_one_line_when_a_value_is_wrong(tmp_path: Path) -> None:
    plan = tmp_path / "plan.txt"
    plan.write_text(PLAN)
    done, _ = run_genesis("plan", "show", str(plan), env={"GENESIS_PLANNER_MAX_TASKS": "many"})
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "planner.max_tasks" in done.stderr, done.stderr


def _explode(source: str) -> None:
    raise RuntimeError("the disk is on fire")


@pytest.mark.parametrize("args", [["dlq", "replay"], ["dlq", "replay", "0:1", "--all"]], ids=["neither", "both"])
def test_dlq_replay_exits_2_when_not_given_exactly_ids_or_all(genesis, args: list[str]) -> None:
    done = genesis(*args, env={"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}"})
    assert done.exit_code == 2
    assert "give the ids to replay, or --all" in done.output
