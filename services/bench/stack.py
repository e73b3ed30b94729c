"""`genesis up` in a namespace of its own (topics, groups, state, ports), for benchmarks and soak tests.

It runs the real processes a user runs, against a broker that is already up, and finds them again only through
their process records (deploy/processes.py): a pid is signalled only while it is still the process the stack
started.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

from deploy.processes import running
from streams.admin import delete_topics
from streams.catalogue import Catalogue

COMMAND_TIMEOUT_S = 180


def stack_environment(
    bootstrap: str, prefix: str, folder: Path, *, inherit: Mapping[str, str] = os.environ, **overrides: str
) -> dict[str, str]:
    """The environment that gives `genesis` commands topics, consumer groups, state, ports and a warehouse of their
    own under ``folder``, against the broker at ``bootstrap``; ``overrides`` are more GENESIS_* settings."""
    return {
        **inherit,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "GENESIS_KAFKA_TOPIC_PREFIX": prefix,
        "GENESIS_PLANNER_GROUP_ID": f"{prefix}-planner",
        "GENESIS_EXECUTOR_GROUP_ID": f"{prefix}-executors",
        "GENESIS_WAREHOUSE_GROUP_ID": f"{prefix}-warehouse",
        "GENESIS_RUNTIME_STATE_DIR": str(folder / "state"),
        "GENESIS_WAREHOUSE_DIR": str(folder / "warehouse"),
        "GENESIS_TOOLS_KB_LATENCY_S": "0",
        # Any free port: a stack of our own never collides with one someone else runs on this machine.
        "GENESIS_PLANNER_METRICS_PORT": "0",
        "GENESIS_EXECUTOR_METRICS_PORT": "0",
        "GENESIS_WAREHOUSE_METRICS_PORT": "0",
        "GENESIS_TRAINER_METRICS_PORT": "0",
        "GENESIS_CONSOLE_PORT": "0",
        "GENESIS_LLM_LOCAL_PORT": "0",
        **overrides,
    }


class IsolatedStack:
    def __init__(self, bootstrap: str, folder: Path, *, prefix: str | None = None, **settings: str) -> None:
        """``settings``: more GENESIS_* variables for the stack's services."""
        self.bootstrap = bootstrap
        self.prefix = prefix or f"bench{uuid.uuid4().hex[:8]}"
        self.catalogue = Catalogue(prefix=self.prefix)
        self.run_dir = folder / "state" / "run"
        self.env = stack_environment(bootstrap, self.prefix, folder, **settings)

    def genesis(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli.main", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )

    def up(self, executors: int) -> None:
        started = self.genesis("up", "--executors", str(executors))
        if started.returncode != 0:
            raise RuntimeError(f"genesis up failed: {started.stdout}{started.stderr}".strip())

    def down(self, *, keep_topics: bool = False) -> None:
        """Stop the services; then delete the namespace's topics (unless ``keep_topics``), so that benchmarks run
        one after another do not leave the broker holding thousands of partitions nobody reads."""
        self.genesis("down")
        if not keep_topics:
            asyncio.run(delete_topics(self.bootstrap, self.catalogue))

    def pid(self, name: str) -> int | None:
        """The service's pid, only while that pid is still the process the stack started (checked, not trusted)."""
        record = running(self.run_dir / f"{name}.pid")
        return record.pid if record is not None else None

    def service_names(self) -> list[str]:
        return sorted(path.stem for path in self.run_dir.glob("*.pid") if path.stem != "supervisor")


def system_stack(bootstrap: str, folder: Path, *, guarantee: str, executor_concurrency: int) -> IsolatedStack:
    """A stack whose planner dispatches with ``guarantee`` (planner.dispatch_guarantee) and whose executors each have
    ``executor_concurrency`` slots: what both benchmarks run the system as."""
    return IsolatedStack(
        bootstrap,
        folder,
        GENESIS_EXECUTOR_CONCURRENCY=str(executor_concurrency),
        GENESIS_PLANNER_DISPATCH_GUARANTEE=guarantee,
    )


def rss_mib(pid: int | None, field: str = "VmRSS") -> float:
    """A process's resident memory (VmRSS now, VmHWM its peak so far) in MiB; 0 when it is gone."""
    if pid is None:
        return 0.0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith(f"{field}:")), 0)
    return kib / 1024


def cpu_seconds(pid: int | None) -> float:
    """User plus system CPU time the process has used, from /proc/PID/stat."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
