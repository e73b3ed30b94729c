"""Process records: a process is signalled only while pid, start time and command line all still match."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from deploy.processes import (
    ProcessRecord,
    read_record,
    running,
    stop,
    stop_recorded_under,
    write_record,
)

MARKER = "genesis-test-sleeper"


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    process = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(60)", MARKER])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_record_matches_its_process_when_it_runs(sleeper: subprocess.Popen, tmp_path: Path) -> None:
    record = ProcessRecord.of(sleeper.pid, marker=MARKER)
    write_record(tmp_path / "s.pid", record)
    assert running(tmp_path / "s.pid") == record


def test_stop_signals_nothing_when_the_start_time_differs(sleeper: subprocess.Popen) -> None:
    recycled = msgspec.structs.replace(ProcessRecord.of(sleeper.pid, marker=MARKER), start_time=1)
    assert stop(recycled, timeout_s=1.0) is False
    assert sleeper.poll() is None


def test_stop_signals_nothing_when_the_command_line_is_someone_elses(sleeper: subprocess.Popen) -> None:
    other = ProcessRecord.of(sleeper.pid, marker="kafka.Kafka /somebody/else.properties")
    assert stop(other, timeout_s=1.0) is False
    assert sleeper.poll() is None


def test_stop_ends_the_process_when_the_record_matches(sleeper: subprocess.Popen) -> None:
    assert stop(ProcessRecord.of(sleeper.pid, marker=MARKER), timeout_s=5.0) is True
    assert sleeper.wait(timeout=5) is not None


def test_bare_pid_files_are_not_trusted_when_read(tmp_path: Path, sleeper: subprocess.Popen) -> None:
    (tmp_path / "old.pid").write_text(str(sleeper.pid))
    assert read_record(tmp_path / "old.pid") is None


def test_stop_recorded_under_stops_only_its_own_processes_when_a_pid_belongs_to_another(tmp_path: Path) -> None:
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", MARKER])
    theirs = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "someone-else"])
    try:
        write_record(tmp_path / "run" / "a" / "broker-1.pid", ProcessRecord.of(ours.pid, marker=MARKER))
        # A record whose pid now belongs to another program (as after a reboot): left alone.
        write_record(tmp_path / "run" / "b.pid", ProcessRecord.of(theirs.pid, marker=MARKER))
        stopped = stop_recorded_under(tmp_path / "run", timeout_s=5.0)
        assert [record.pid for record in stopped] == [ours.pid]
        assert ours.wait(timeout=5) is not None
        assert theirs.poll() is None
    finally:
        for process in (ours, theirs):
            process.kill()
            process.wait()
