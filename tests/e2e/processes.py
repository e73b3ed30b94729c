"""Services as real OS processes (what `genesis up` starts), for fault tests that kill, stop and resume them.

Each process is started with ``genesis serve`` and the test's own topics, groups and state folder (environment
overrides, as an operator would set them), logs to a file, and is signalled only by the pid this module started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from deploy.processes import ProcessRecord, write_record
from streams.catalogue import Catalogue

STOP_TIMEOUT_S = 15


def service_environment(bootstrap: str, catalogue: Catalogue, state_dir: Path, **overrides: object) -> dict[str, str]:
    """The environment of a service process that uses the test's broker, topics and consumer groups."""
    settings = {
        "KAFKA_BOOTSTRAP_SERVERS": str(bootstrap),
        "GENESIS_KAFKA_TOPIC_PREFIX": catalogue.prefix,
        "GENESIS_PLANNER_GROUP_ID": f"{catalogue.prefix}-planner",
        "GENESIS_EXECUTOR_GROUP_ID": f"{catalogue.prefix}-executors",
        "GENESIS_PLANNER_METRICS_PORT": 0,
        "GENESIS_EXECUTOR_METRICS_PORT": 0,
        "GENESIS_RUNTIME_STATE_DIR": state_dir,
        **overrides,
    }
    return {**os.environ, **{key: str(value) for key, value in settings.items()}}


@dataclass
class ServiceProcess:
    kind: str
    name: str
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    @classmethod
    def start(cls, kind: str, name: str, environment: dict[str, str], log_dir: Path) -> ServiceProcess:
        log_path = log_dir / f"{name}.log"
        command = [sys.executable, "-m", "services.cli.main", "serve", kind, "--name", name]
        with log_path.open("ab") as log:
            process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
        # Recorded like every process the project starts, so that CI's exit trap stops it if this test cannot.
        write_record(log_dir / f"{name}.pid", ProcessRecord.of(process.pid, marker=" ".join(command[1:])))
        return cls(kind, name, log_path, process)

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed."""
        self.signal(signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited in time; resumes a stopped process first."""
        if self.process.poll() is not None:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class ProcessStack:
    """The processes one test started; ``close`` stops each of them by its own pid."""

    def __init__(self, environment: dict[str, str], log_dir: Path) -> None:
        self.environment = environment
        self.log_dir = log_dir
        self.processes: list[ServiceProcess] = []

    def start(self, kind: str, name: str, **overrides: object) -> ServiceProcess:
        environment = {**self.environment, **{key: str(value) for key, value in overrides.items()}}
        process = ServiceProcess.start(kind, name, environment, self.log_dir)
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            process.stop()
