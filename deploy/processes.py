"""Processes the project starts, recorded so that they are stopped by their own pid and nothing else.

A pid alone is not proof: after a crash or a reboot the number can belong to anyone's process. A record therefore
keeps the pid, the kernel's start time of that process (``/proc/PID/stat`` field 22, clock ticks since boot) and a
marker its command line contains; a process is signalled only while all three still match.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import msgspec


class ProcessRecord(msgspec.Struct, frozen=True, kw_only=True):
    pid: int
    start_time: int
    marker: str

    @classmethod
    def of(cls, pid: int, marker: str) -> ProcessRecord:
        """Record a process just started (the caller holds its Popen, so the pid is still that process)."""
        start_time = start_time_of(pid)
        if start_time is None:
            raise ProcessLookupError(f"process {pid} exited before it could be recorded")
        return cls(pid=pid, start_time=start_time, marker=marker)

    def is_running(self) -> bool:
        """True while the recorded process itself runs: same pid, same start time, marker in its command line."""
        if not process_alive(self.pid) or start_time_of(self.pid) != self.start_time:
            return False
        # Pid and start time already name one process per boot; the marker also catches an exec to another program.
        # A command line that reads empty (the kernel can answer so while the process forks) does not disprove it.
        arguments = command_line(self.pid)
        return not arguments or self.marker in arguments


def write_record(path: Path, record: ProcessRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(msgspec.json.encode(record))
    temporary.replace(path)  # readers never see half a record


def read_record(path: Path) -> ProcessRecord | None:
    """The record in ``path``; None when there is none or it is not one of ours (an old bare pid is not trusted)."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=ProcessRecord)
    except (FileNotFoundError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def running(path: Path) -> ProcessRecord | None:
    """The recorded process if it is still the one that was started, else None."""
    record = read_record(path)
    return record if record is not None and record.is_running() else None


def stop(record: ProcessRecord, timeout_s: float) -> bool:
    """SIGTERM the recorded process, SIGKILL it after ``timeout_s``; each signal only after checking it is ours.

    Returns False when the process was no longer the recorded one (then nothing is signalled).
    """
    if not record.is_running():
        return False
    stop_all([record], timeout_s)
    return True


def kill(record: ProcessRecord) -> bool:
    """SIGKILL the recorded process at once (fault tests); False when it is no longer ours."""
    if not record.is_running():
        return False
    _signal(record, signal.SIGKILL)
    return True


def _signal(record: ProcessRecord, signum: int) -> None:
    try:
        os.kill(record.pid, signum)
    except ProcessLookupError:
        pass


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped) does not count."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _stat_fields(pid)
    return stat is not None and stat[0] != "Z"


def start_time_of(pid: int) -> int | None:
    stat = _stat_fields(pid)
    try:
        return int(stat[19]) if stat is not None else None
    except (IndexError, ValueError):
        return None


def command_line(pid: int) -> str:
    """The process's arguments joined by spaces; empty when it is gone or not readable."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    # The command name (field 2) is in parentheses and may hold spaces: split after its closing parenthesis.
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def stop_all(records: list[ProcessRecord], timeout_s: float) -> None:
    """Stop several recorded processes at once: SIGTERM to all, then SIGKILL to those alive after ``timeout_s``."""
    ours = [record for record in records if record.is_running()]
    for record in ours:
        _signal(record, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while any(record.is_running() for record in ours) and time.monotonic() < deadline:
        time.sleep(0.05)
    for record in ours:
        if record.is_running():
            _signal(record, signal.SIGKILL)


def stop_recorded_under(folder: Path, timeout_s: float = 20.0) -> list[ProcessRecord]:
    """Stop every process recorded in a ``*.pid`` file below ``folder`` that is still the recorded process.

    CI's exit trap calls this on the run's own temporary folder: it stops what this run started, nothing else.
    Watchdogs (``supervisor.pid``, see services/runtime/supervisor.py) go first, so none restarts what is stopping.
    """
    found = {path: record for path in folder.rglob("*.pid") if (record := running(path)) is not None}
    watchdogs = [record for path, record in found.items() if path.name == "supervisor.pid"]
    others = [record for path, record in found.items() if path.name != "supervisor.pid"]
    stop_all(watchdogs, timeout_s)
    stop_all(others, timeout_s)
    return watchdogs + others


if __name__ == "__main__":
    # python -m deploy.processes FOLDER
    for stopped in stop_recorded_under(Path(sys.argv[1])):
        print(f"stopped pid {stopped.pid} ({stopped.marker})")
