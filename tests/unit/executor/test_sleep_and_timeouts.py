from __future__ import annotations

import asyncio
import time

import pytest

from services.executor.tools import (
    ToolArgumentsError,
    ToolError,
    ToolRegistry,
    ToolTimeoutError,
    run_tool,
    tool,
)


async def test_returns_seconds_slept_when_sleep_finishes(registry: ToolRegistry) -> None:
    result = await run_tool(registry, "sleep", {"seconds": 0.01})
    assert result.value == 0.01


@pytest.mark.parametrize("seconds", [-1, 301, "soon", True, float("nan")])
async def test_rejects_seconds_when_out_of_range_or_not_a_number(registry: ToolRegistry, seconds: object) -> None:
    with pytest.raises(ToolArgumentsError, match="'seconds'"):
        await run_tool(registry, "sleep", {"seconds": seconds})


async def test_cancels_call_when_it_runs_past_its_timeout(registry: ToolRegistry) -> None:
    started = time.perf_counter()
    with pytest.raises(ToolTimeoutError, match="sleep timed out after 0.02 s") as caught:
        await run_tool(registry, "sleep", {"seconds": 60}, timeout_s=0.02)
    assert time.perf_counter() - started < 5
    assert caught.value.retryable is True


async def test_uses_spec_timeout_when_caller_gives_none() -> None:
    @tool(timeout_s=0.02)
    async def stuck() -> None:
        await asyncio.Event().wait()

    registry = ToolRegistry()
    registry.register(stuck)
    with pytest.raises(ToolTimeoutError):
        await run_tool(registry, "stuck", {})


async def test_reports_tool_failure_not_timeout_when_tool_raises_its_own_timeout() -> None:
    @tool
    async def flaky() -> None:
        raise TimeoutError("upstream did not answer")

    registry = ToolRegistry()
    registry.register(flaky)
    with pytest.raises(ToolError) as caught:
        await run_tool(registry, "flaky", {}, timeout_s=10)
    assert not isinstance(caught.value, ToolTimeoutError)


async def test_wraps_exception_as_retryable_tool_error_when_tool_crashes() -> None:
    @tool
    async def broken(n: int) -> int:
        return {}[n]

    registry = ToolRegistry()
    registry.register(broken)
    with pytest.raises(ToolError, match="broken failed: KeyError") as caught:
        await run_tool(registry, "broken", {"n": 1})
    assert caught.value.retryable is True
    assert isinstance(caught.value.__cause__, KeyError)
