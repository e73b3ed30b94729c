"""Starts services as background processes, keeps them running, finds them again, and stops them.

Each service is `genesis serve KIND --name NAME`; its output goes to ``logs/NAME.log`` and its process record
(pid, start time, command line marker: see deploy/processes.py) to ``run/NAME.pid``. Nothing is signalled on the
strength of a pid file alone: a record whose process is gone or is now someone else's counts as not running.

`genesis up` starts a watchdog process (`genesis supervise`, recorded in ``run/supervisor.pid``) that starts the
services and restarts one that exits, after a backoff that doubles with each quick exit; after ``give_up_after``
quick exits in a row it stops trying and says so (``run/NAME.state`` and the watchdog's log), and `genesis status`
shows each service's restarts.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from deploy.processes import ProcessRecord, read_record, running, stop, write_record
from services.runtime.health import read_health
from services.runtime.settings import RuntimeSettings

WATCHDOG = "supervisor"
STACK_FILE = "stack.json"
log = logging.getLogger("genesis.supervisor")


class Service(msgspec.Struct, frozen=True):
    name: str
    kind: str
    # Environment overrides for this service alone (a second executor's metrics port: any free one).
    env: dict[str, str] = {}


class RestartState(msgspec.Struct, frozen=True, kw_only=True):
    """What the watchdog knows of one service's exits; written to ``run/NAME.state`` for `genesis status`."""

    restarts: int = 0
    quick_exits: int = 0  # in a row; a run longer than stable_after_s resets it
    last_exit: int | None = None
    next_start_at: float | None = None
    gave_up: str | None = None


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential backoff for a service that exits, and when to stop trying (pure: no clock, no processes)."""

    backoff_base_s: float
    backoff_max_s: float
    give_up_after: int
    stable_after_s: float

    @classmethod
    def of(cls, settings: RuntimeSettings) -> RestartPolicy:
        return cls(
            settings.restart_backoff_base_s,
            settings.restart_backoff_max_s,
            settings.restart_give_up_after,
            settings.restart_stable_after_s,
        )

    def after_exit(self, state: RestartState, *, status: int | None, ran_s: float, now: float) -> RestartState:
        quick = state.quick_exits + 1 if ran_s < self.stable_after_s else 1
        if ran_s < self.stable_after_s and quick >= self.give_up_after:
            reason = (
                f"gave up after {quick} exits in a row within {self.stable_after_s:g} s of starting "
                f"(last exit status {status})"
            )
            return msgspec.structs.replace(
                state, quick_exits=quick, last_exit=status, next_start_at=None, gave_up=reason
            )
        delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (quick - 1))
        return msgspec.structs.replace(state, quick_exits=quick, last_exit=status, next_start_at=now + delay)


@dataclass(frozen=True)
class ServiceState:
    name: str
    pid: int | None
    alive: bool
    healthy: bool
    heartbeat_age_s: float | None
    detail: dict[str, object]
    restarts: int = 0
    gave_up: str | None = None


class ServiceFailedToStart(RuntimeError):
    pass


class Supervisor:
    """The services' files under the runtime state directory: start, find, stop, report."""

    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        self._run = settings.run_dir
        self._logs = settings.log_dir

    def start(self, kind: str, name: str, *, env: dict[str, str] | None = None) -> subprocess.Popen | None:
        """Start ``name`` unless its recorded process runs (then None: starting is idempotent)."""
        if self._record(name) is not None:
            return None
        self._run.mkdir(parents=True, exist_ok=True)
        self._logs.mkdir(parents=True, exist_ok=True)
        (self._run / f"{name}.health").unlink(missing_ok=True)
        command = [sys.executable, "-m", "services.cli.main", "serve", kind, "--name", name]
        process = self._spawn(command, name, env)
        write_record(self._run / f"{name}.pid", ProcessRecord.of(process.pid, marker=" ".join(command[1:])))
        return process

    def start_watchdog(self, services: list[Service]) -> int:
        """Start the `genesis supervise` process for ``services`` unless one runs; return its pid."""
        existing = running(self._run / f"{WATCHDOG}.pid")
        if existing is not None:
            return existing.pid
        self._run.mkdir(parents=True, exist_ok=True)
        self._logs.mkdir(parents=True, exist_ok=True)
        (self._run / STACK_FILE).write_bytes(msgspec.json.encode(services))
        for service in services:
            (self._run / f"{service.name}.state").unlink(missing_ok=True)
        command = [sys.executable, "-m", "services.cli.main", "supervise"]
        process = self._spawn(command, WATCHDOG, None)
        write_record(self._run / f"{WATCHDOG}.pid", ProcessRecord.of(process.pid, marker=" ".join(command[1:])))
        return process.pid

    def stop_watchdog(self, timeout_s: float = 15.0) -> bool:
        record = read_record(self._run / f"{WATCHDOG}.pid")
        (self._run / f"{WATCHDOG}.pid").unlink(missing_ok=True)
        return record is not None and stop(record, timeout_s)

    def watchdog_pid(self) -> int | None:
        record = running(self._run / f"{WATCHDOG}.pid")
        return record.pid if record is not None else None

    def services(self) -> list[Service]:
        try:
            return msgspec.json.decode((self._run / STACK_FILE).read_bytes(), type=list[Service])
        except (FileNotFoundError, msgspec.DecodeError):
            return []

    def wait_ready(self, names: list[str], timeout_s: float | None = None) -> None:
        """Wait until every service writes its health file; fail early when the watchdog exits or gives up on one."""
        limit = timeout_s or self.settings.ready_timeout_s
        deadline = time.monotonic() + limit
        pending = list(names)
        while pending:
            if self.watchdog_pid() is None and not self._watchdog_seen_again():
                raise ServiceFailedToStart(
                    f"the supervisor exited; see {self._logs / f'{WATCHDOG}.log'}\n{self.log_tail(WATCHDOG)}"
                )
            for name in list(pending):
                gave_up = self.restart_state(name).gave_up
                if gave_up is not None:
                    raise ServiceFailedToStart(
                        f"{name} {gave_up}; see {self._logs / f'{name}.log'}\n{self.log_tail(name)}"
                    )
                health = read_health(self._run, name)
                record = self._record(name)
                if health is not None and record is not None and health.pid == record.pid:
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                tails = "\n".join(f"--- {name}\n{self.log_tail(name)}" for name in pending)
                raise ServiceFailedToStart(f"not ready within {limit:.0f} s: {', '.join(pending)}\n{tails}")
            if pending:
                time.sleep(0.1)

    def _watchdog_seen_again(self, wait_s: float = 0.5) -> bool:
        """A second look before declaring the watchdog gone: one look at /proc can miss a process that is busy
        starting the services (seen under heavy load)."""
        time.sleep(wait_s)
        return self.watchdog_pid() is not None

    def stop(self, name: str, timeout_s: float = 15.0) -> bool:
        record = read_record(self._run / f"{name}.pid")
        (self._run / f"{name}.pid").unlink(missing_ok=True)
        (self._run / f"{name}.state").unlink(missing_ok=True)
        if record is None or not stop(record, timeout_s):
            return False
        (self._run / f"{name}.health").unlink(missing_ok=True)
        return True

    def names(self) -> list[str]:
        if not self._run.exists():
            return []
        return sorted(path.stem for path in self._run.glob("*.pid") if path.stem != WATCHDOG)

    def state(self, name: str) -> ServiceState:
        record = self._record(name)
        pid = record.pid if record is not None else None
        health = read_health(self._run, name)
        if health is not None and health.pid != pid:
            health = None  # the file of a process that is gone (a restart has not reported yet)
        age = time.time() - health.heartbeat_at if health else None
        healthy = pid is not None and age is not None and age <= self.settings.unhealthy_after_s
        restart = self.restart_state(name)
        return ServiceState(
            name,
            pid,
            pid is not None,
            healthy,
            age,
            dict(health.detail) if health else {},
            restarts=restart.restarts,
            gave_up=restart.gave_up,
        )

    def restart_state(self, name: str) -> RestartState:
        try:
            return msgspec.json.decode((self._run / f"{name}.state").read_bytes(), type=RestartState)
        except (FileNotFoundError, msgspec.DecodeError):
            return RestartState()

    def save_restart_state(self, name: str, state: RestartState) -> None:
        path = self._run / f"{name}.state"
        path.with_suffix(".tmp").write_bytes(msgspec.json.encode(state))
        path.with_suffix(".tmp").replace(path)

    def pid_of(self, name: str) -> int | None:
        record = self._record(name)
        return record.pid if record is not None else None

    def record_of(self, name: str) -> ProcessRecord | None:
        return self._record(name)

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            return "\n".join((self._logs / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def _spawn(self, command: list[str], name: str, env: dict[str, str] | None) -> subprocess.Popen:
        with (self._logs / f"{name}.log").open("ab") as output:
            return subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )

    def _record(self, name: str) -> ProcessRecord | None:
        return running(self._run / f"{name}.pid")


@dataclass
class _Child:
    service: Service
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    state: RestartState = field(default_factory=RestartState)


class Watchdog:
    """The loop of `genesis supervise`: start the services, restart those that exit, until told to stop."""

    def __init__(
        self,
        supervisor: Supervisor,
        services: list[Service],
        policy: RestartPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        poll_s: float = 0.2,
    ) -> None:
        self._supervisor = supervisor
        self._children = [_Child(service) for service in services]
        self._policy = policy
        self._clock = clock
        self._poll_s = poll_s

    def run(self, stopping: threading.Event) -> None:
        for child in self._children:
            self._start(child)
        while not stopping.wait(self._poll_s):
            for child in self._children:
                self._check(child)

    def _check(self, child: _Child) -> None:
        name = child.service.name
        if child.state.gave_up is not None:
            return
        if child.state.next_start_at is not None:
            if self._clock() >= child.state.next_start_at:
                restarts = child.state.restarts + 1
                child.state = msgspec.structs.replace(child.state, restarts=restarts, next_start_at=None)
                log.warning("%s: restarting (restart %d)", name, child.state.restarts)
                self._start(child)
            return
        # Our own child: poll() is exact and gives the status. One adopted from an earlier watchdog: its record.
        if child.process is not None:
            status = child.process.poll()
            if status is None:
                return
        elif self._supervisor.record_of(name) is not None:
            return
        else:
            status = None
        ran_s = self._clock() - child.started_at
        child.state = self._policy.after_exit(child.state, status=status, ran_s=ran_s, now=self._clock())
        self._supervisor.save_restart_state(name, child.state)
        if child.state.gave_up is not None:
            log.error("%s: %s; see %s", name, child.state.gave_up, self._supervisor.settings.log_dir / f"{name}.log")
        else:
            delay = (child.state.next_start_at or 0.0) - self._clock()
            log.warning("%s exited with status %s after %.1f s; restarting in %.1f s", name, status, ran_s, delay)

    def _start(self, child: _Child) -> None:
        child.process = self._supervisor.start(child.service.kind, child.service.name, env=child.service.env)
        child.started_at = self._clock()
        self._supervisor.save_restart_state(child.service.name, child.state)
