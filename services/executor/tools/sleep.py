"""``sleep(seconds)``: waits and returns the seconds slept; the benchmarks' and tests' stand-in for slow I/O."""

from __future__ import annotations

import asyncio
import math

from services.executor.tools.registry import ToolArgumentsError, ToolSpec

MAX_SLEEP_S = 300.0


def make_sleep() -> ToolSpec:
    async def sleep(seconds: int | float) -> int | float:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
            raise ToolArgumentsError("sleep: argument 'seconds' must be a number")
        if not 0 <= seconds <= MAX_SLEEP_S:
            raise ToolArgumentsError(f"sleep: argument 'seconds' must be between 0 and {MAX_SLEEP_S:g}, got {seconds}")
        await asyncio.sleep(seconds)
        return seconds

    # The default timeout lets the longest allowed sleep finish.
    return ToolSpec(name="sleep", fn=sleep, description="Wait the given number of seconds.", timeout_s=MAX_SLEEP_S + 5)
