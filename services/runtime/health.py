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


class Heartbeat:
    def __init__(self, run_dir: Path, name: str, interval_s: float) -> None:
        self._path = run_dir / f"{name}.health"
        self._name = name
        self._interval_s = interval_s
        self._ready_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.detail: dict[str, object] = {}
        self._probes: list[Callable[[], dict[str, object]]] = []

    def report(self, probe: Callable[[], dict[str, object]]) -> None:
        """Add figures (tasks in flight, runs held, ...) to every heartbeat."""
        self._probes.append(probe)

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
        health = Health(
            name=self._name, pid=os.getpid(), ready_at=self._ready_at or 0.0, heartbeat_at=time.time(), detail=detail
        )
        temporary = self._path.with_suffix(".tmp")
        temporary.write_bytes(msgspec.json.encode(health))
        temporary.replace(self._path)  # readers never see half a file


def read_health(run_dir: Path, name: str) -> Health | None:
    try:
        return msgspec.json.decode((run_dir / f"{name}.health").read_bytes(), type=Health)
    except (FileNotFoundError, msgspec.DecodeError):
        return None
