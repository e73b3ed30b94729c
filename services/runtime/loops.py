"""Supervised background loops: each step's failure is logged and retried with backoff, a loop that keeps failing
ends the process (its supervisor restarts it), and the loops' own beats are what the heartbeat reports.

A loop is a coroutine function run again and again (one "step"); a step must return within ``stall_s`` (wait with a
timeout, not forever), so a loop that stops beating is stuck, and the service shows unhealthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[None]]


@dataclass
class LoopState:
    name: str
    beat_at: float
    failures: int = 0  # in a row
    last_error: str | None = None
    dead: bool = False


class SupervisedLoops:
    def __init__(
        self,
        *,
        stall_s: float,
        max_failures: int,
        on_fatal: Callable[[BaseException], None],
        backoff_base_s: float = 0.1,
        backoff_max_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stall_s = stall_s
        self._max_failures = max_failures
        self._on_fatal = on_fatal
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self._states: dict[str, LoopState] = {}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def beat_s(self) -> float:
        """How long a step may wait for work before it returns (and beats): well inside the stall limit."""
        return max(0.01, self._stall_s / 4)

    def spawn(self, name: str, step: Step) -> None:
        self._states[name] = LoopState(name, beat_at=self._clock())
        self._tasks.append(asyncio.create_task(self._run(self._states[name], step), name=name))

    def problems(self) -> list[str]:
        """One line per loop that is dead or has not beaten within the stall limit; [] when all are well."""
        now = self._clock()
        found = []
        for state in self._states.values():
            if state.dead:
                found.append(f"loop {state.name} stopped after {state.failures} failures: {state.last_error}")
            elif (silent := now - state.beat_at) > self._stall_s:
                found.append(f"loop {state.name} silent for {silent:.0f} s (limit {self._stall_s:g} s)")
        return found

    def healthy(self, name: str) -> bool:
        """For ``Heartbeat.watch``: the loop runs and has beaten within the stall limit."""
        state = self._states.get(name)
        return state is not None and not state.dead and self._clock() - state.beat_at <= self._stall_s

    def report(self) -> dict[str, object]:
        return {f"loop_{state.name}_failures": state.failures for state in self._states.values()}

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _run(self, state: LoopState, step: Step) -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                state.failures += 1
                state.last_error = f"{type(error).__name__}: {error}"
                if state.failures >= self._max_failures:
                    state.dead = True
                    log.critical("loop %s failed %d times in a row; stopping", state.name, state.failures)
                    self._on_fatal(error)
                    return
                delay = min(self._backoff_max_s, self._backoff_base_s * 2 ** (state.failures - 1))
                log.exception("loop %s failed (%d in a row); retrying in %.2f s", state.name, state.failures, delay)
                await asyncio.sleep(delay)
            else:
                state.failures, state.last_error = 0, None
            state.beat_at = self._clock()
