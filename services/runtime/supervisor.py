"""Starts services as background processes, finds them again by pid file, and stops them.

Each service is `genesis serve KIND --name NAME`; its output goes to a log file, its pid to ``run/NAME.pid``.
Starting a service whose pid is alive starts nothing (idempotent, like `genesis kafka up`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

from deploy.processes import process_alive, terminate
from services.runtime.health import read_health
from services.runtime.settings import RuntimeSettings


@dataclass(frozen=True)
class ServiceState:
    name: str
    pid: int | None
    alive: bool
    healthy: bool
    heartbeat_age_s: float | None
    detail: dict[str, object]


class ServiceFailedToStart(RuntimeError):
    pass


class Supervisor:
    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        self._run = settings.run_dir
        self._logs = settings.log_dir

    def start(self, kind: str, name: str, *, env: dict[str, str] | None = None) -> int:
        pid = self._pid(name)
        if pid is not None:
            return pid
        self._run.mkdir(parents=True, exist_ok=True)
        self._logs.mkdir(parents=True, exist_ok=True)
        (self._run / f"{name}.health").unlink(missing_ok=True)
        with (self._logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "services.cli.main", "serve", kind, "--name", name],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        (self._run / f"{name}.pid").write_text(str(process.pid))
        return process.pid

    def wait_ready(self, names: list[str], timeout_s: float | None = None) -> None:
        deadline = time.monotonic() + (timeout_s or self.settings.ready_timeout_s)
        pending = list(names)
        while pending:
            for name in list(pending):
                if self._pid(name) is None:
                    raise ServiceFailedToStart(
                        f"{name} exited while starting; see {self._logs / f'{name}.log'}\n{self.log_tail(name)}"
                    )
                if read_health(self._run, name) is not None:
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise ServiceFailedToStart(
                    f"not ready within {timeout_s or self.settings.ready_timeout_s:.0f} s: {', '.join(pending)}"
                )
            if pending:
                time.sleep(0.1)

    def stop(self, name: str, timeout_s: float = 15.0) -> bool:
        pid = self._pid(name)
        (self._run / f"{name}.pid").unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid, timeout_s)
        (self._run / f"{name}.health").unlink(missing_ok=True)
        return True

    def names(self) -> list[str]:
        return sorted(path.stem for path in self._run.glob("*.pid")) if self._run.exists() else []

    def state(self, name: str) -> ServiceState:
        pid = self._pid(name)
        health = read_health(self._run, name)
        age = time.time() - health.heartbeat_at if health else None
        healthy = pid is not None and age is not None and age <= self.settings.unhealthy_after_s
        return ServiceState(name, pid, pid is not None, healthy, age, dict(health.detail) if health else {})

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            return "\n".join((self._logs / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def _pid(self, name: str) -> int | None:
        try:
            pid = int((self._run / f"{name}.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if process_alive(pid) else None
