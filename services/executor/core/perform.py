"""Run one TaskReady and describe what happened as events: a TurnRecorded and a TaskFinished."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec

from schemas import TaskFinished, TaskReady, TurnRecorded
from services.executor.tools.registry import ToolError, ToolRegistry, ToolResult, run_tool

CHAT_TOOLS = frozenset({"llm"})


async def perform(
    task: TaskReady,
    registry: ToolRegistry,
    *,
    executor: str,
    now: Callable[[], datetime],
    max_text_bytes: int,
) -> tuple[TurnRecorded, TaskFinished]:
    started_at = now()
    clock = time.perf_counter()
    arguments = msgspec.json.encode(task.args)
    outcome: ToolResult | ToolError
    try:
        timeout_s = min(task.timeout_s, registry.get(task.tool).timeout_s)
        outcome = await run_tool(registry, task.tool, task.args, timeout_s)
    except ToolError as error:
        outcome = error
    latency_s = time.perf_counter() - clock
    finished_at = started_at + timedelta(seconds=latency_s)
    common = {
        "run_id": task.run_id,
        "task_id": task.task_id,
        "attempt": task.attempt,
        "executor": executor,
        "source": executor,
    }

    if isinstance(outcome, ToolError):
        turn = TurnRecorded(
            **common,
            operation="chat" if task.tool in CHAT_TOOLS else "execute_tool",
            tool_name=task.tool,
            arguments=_clip(arguments, max_text_bytes),
            arguments_bytes=len(arguments),
            started_at=started_at,
            latency_s=latency_s,
            status="error",
            error=str(outcome),
        )
        finished = TaskFinished(
            **common,
            status="error",
            error=str(outcome),
            retryable=outcome.retryable,
            started_at=started_at,
            finished_at=finished_at,
        )
        return turn, finished

    value, output = _json_ready(outcome.value)
    turn = TurnRecorded(
        **common,
        operation="chat" if task.tool in CHAT_TOOLS else "execute_tool",
        tool_name=task.tool,
        model=outcome.model,
        arguments=_clip(arguments, max_text_bytes),
        output=_clip(output, max_text_bytes),
        arguments_bytes=len(arguments),
        output_bytes=len(output),
        started_at=started_at,
        latency_s=latency_s,
        input_tokens=outcome.input_tokens,
        output_tokens=outcome.output_tokens,
    )
    finished = TaskFinished(
        **common,
        status="ok",
        result=value,
        started_at=started_at,
        finished_at=finished_at,
        input_tokens=outcome.input_tokens,
        output_tokens=outcome.output_tokens,
    )
    return turn, finished


def _json_ready(value: object) -> tuple[object, bytes]:
    # A user tool may return something JSON cannot carry; its repr still tells the planner what came back.
    try:
        return value, msgspec.json.encode(value)
    except TypeError:
        return repr(value), msgspec.json.encode(repr(value))


def _clip(data: bytes, limit: int) -> str:
    return data[:limit].decode("utf-8", errors="ignore")
