"""A service's heartbeat file: written when it is ready and refreshed while it runs, read by `genesis status`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import msgspec


class Health(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    pid: int
    ready_at: float
    heartbeat_at: float
    detail: dict[str, object] = {}
    # Loops of the service that have stopped (empty while all run); the service is then unhealthy.
    stopped_loops: list[str] = []
    # Where the service serves Prometheus metrics (and /healthz), once it does.
    metrics_url: str | None = None


class Heartbeat:
    def __init__(self, run_dir: Path, name: str, interval_s: float) -> None:
        self._path = run_dir / f"{name}.health"
        self._name = name
        self._interval_s = interval_s
        self._ready_at: float | None = None
        self._beat_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.detail: dict[str, object] = {}
        self._probes: list[Callable[[], dict[str, object]]] = []
        self._loops: dict[str, Callable[[], bool]] = {}
        self.metrics_url: str | None = None

    def report(self, probe: Callable[[], dict[str, object]]) -> None:
        """Add figures (tasks in flight, runs held, ...) to every heartbeat."""
        self._probes.append(probe)

    def watch(self, loop: str, running: Callable[[], bool]) -> None:
        """Report the service unhealthy whenever ``running()`` is false (a loop ended, a consumer stopped)."""
        self._loops[loop] = running

    def stopped_loops(self) -> list[str]:
        return [loop for loop, running in self._loops.items() if not running()]

    @property
    def ready(self) -> bool:
        return self._ready_at is not None

    def beat_age_s(self) -> float | None:
        """Seconds since the last heartbeat: grows when the event loop is blocked."""
        return None if self._beat_at is None else time.time() - self._beat_at

    async def start(self) -> None:
        """Call once the service consumes: from then on `genesis status` reports it healthy."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._ready_at = time.time()
        self._write()
        self._task = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._path.unlink(missing_ok=True)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            self._write()

    def _write(self) -> None:
        detail = dict(self.detail)
        for probe in self._probes:
            detail.update(probe())
        self._beat_at = time.time()
        health = Health(
            name=self._name,
            pid=os.getpid(),
            ready_at=self._ready_at or 0.0,
            heartbeat_at=self._beat_at,
            detail=detail,
            stopped_loops=self.stopped_loops(),
            metrics_url=self.metrics_url,
        )
        temporary = self._path.with_suffix(".tmp")
        temporary.write_bytes(msgspec.json.encode(health))
        temporary.replace(self._path)  # readers never see half a file


def tasks_running(*tasks: asyncio.Task[object] | None) -> bool:
    """For ``Heartbeat.watch``: every task was started and none has ended."""
    return all(task is not None and not task.done() for task in tasks)


def read_health(run_dir: Path, name: str) -> Health | None:
    try:
        return msgspec.json.decode((run_dir / f"{name}.health").read_bytes(), type=Health)
    except (FileNotFoundError, msgspec.DecodeError):
        return None
