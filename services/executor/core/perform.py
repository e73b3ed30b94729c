"""Run one TaskReady and describe what happened as events: a TurnRecorded and a TaskFinished.

Whatever the tool does (raise, hang, return something JSON cannot carry or something huge), the outcome is a pair
of events about this task alone: a failure is ``status="error"`` with a one-line reason, never an exception that
could take the executor down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import msgspec

from schemas import TaskFinished, TaskReady, TurnRecorded
from services.executor.core.limits import TaskLimits, arguments_too_large, clip_error, result_too_large
from services.executor.tools.registry import Step, ToolError, ToolRegistry, ToolResult, run_tool
from streams.blobs import BlobNotFound, BlobStore, holds_markers, resolve_blobs

CHAT_TOOLS = frozenset({"llm"})
DEFAULT_LIMITS = TaskLimits()


async def perform(
    task: TaskReady,
    registry: ToolRegistry,
    *,
    executor: str,
    now: Callable[[], datetime],
    max_text_bytes: int,
    limits: TaskLimits = DEFAULT_LIMITS,
    blobs: BlobStore | None = None,
) -> tuple[list[TurnRecorded], TaskFinished]:
    """The attempt's turns (one, or one per model and tool call of an agent step) and its TaskFinished."""
    started_at = now()
    clock = time.perf_counter()
    arguments = msgspec.json.encode(task.args)
    outcome = await _outcome(task, registry, arguments, limits, blobs)
    latency_s = time.perf_counter() - clock
    common = {
        "run_id": task.run_id,
        "task_id": task.task_id,
        "attempt": task.attempt,
        "executor": executor,
        "source": executor,
    }
    turn_common = {
        **common,
        "operation": "chat" if task.tool in CHAT_TOOLS else "execute_tool",
        "tool_name": task.tool,
        "arguments": _clip(arguments, max_text_bytes),
        "arguments_bytes": len(arguments),
        "started_at": started_at,
        "latency_s": latency_s,
    }
    finished_at = started_at + timedelta(seconds=latency_s)

    if isinstance(outcome, ToolError):
        error = clip_error(str(outcome), limits)
        turn = TurnRecorded(**turn_common, status="error", error=error)
        finished = TaskFinished(
            **common,
            status="error",
            error=error,
            retryable=outcome.retryable,
            started_at=started_at,
            finished_at=finished_at,
        )
        return [turn], finished

    result, output, ref = outcome
    turn = TurnRecorded(
        **turn_common,
        model=result.model,
        output=_clip(output, max_text_bytes),
        output_bytes=len(output),
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
    )
    finished = TaskFinished(
        **common,
        status="ok",
        result=None if ref else result.value,
        result_ref=ref,
        started_at=started_at,
        finished_at=finished_at,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
    )
    if result.steps:  # an agent step: each of its model and tool calls is a turn of its own
        return [_step_turn(step, common, max_text_bytes) for step in result.steps], finished
    return [turn], finished


def _step_turn(step: Step, common: dict[str, Any], max_text_bytes: int) -> TurnRecorded:
    arguments, output = step.arguments.encode(), step.output.encode()
    return TurnRecorded(
        **common,
        operation=step.operation,
        tool_name=step.tool_name,
        model=step.model,
        arguments=_clip(arguments, max_text_bytes),
        arguments_bytes=len(arguments),
        output=_clip(output, max_text_bytes),
        output_bytes=len(output),
        started_at=step.started_at,
        latency_s=step.latency_s,
        status="error" if step.error else "ok",
        error=step.error,
        input_tokens=step.input_tokens,
        output_tokens=step.output_tokens,
    )


async def _outcome(
    task: TaskReady, registry: ToolRegistry, arguments: bytes, limits: TaskLimits, blobs: BlobStore | None
) -> tuple[ToolResult, bytes, str | None] | ToolError:
    """The tool's result with its JSON and its blob reference (when stored out of band), or the error."""
    too_large = arguments_too_large(len(arguments), limits)
    if too_large:
        return ToolError(too_large, retryable=False)
    try:
        args = await _resolved(task.args, blobs)
        timeout_s = min(task.timeout_s, registry.get(task.tool).timeout_s)
        result = await run_tool(registry, task.tool, args, timeout_s)
    except ToolError as error:
        return error
    try:
        output = msgspec.json.encode(result.value)
    except (TypeError, ValueError, OverflowError) as error:
        return ToolError(f"{task.tool} returned a value JSON cannot carry: {error}", retryable=False)
    too_large = result_too_large(len(output), limits)
    if not too_large:
        return result, output, None
    if not limits.claim_check or blobs is None:
        return ToolError(too_large, retryable=False)
    try:
        ref = await asyncio.to_thread(blobs.put, output)
    except OSError as error:
        return ToolError(f"{too_large}, and storing it in the blob store failed: {error}")
    return result, output, ref


async def _resolved(args: dict[str, Any], blobs: BlobStore | None) -> dict[str, Any]:
    """The arguments with stored results (``{"$blob": REF}``) read back from the blob store."""
    if not holds_markers(args):
        return args
    if blobs is None:
        raise ToolError("an argument refers to a stored result, but this executor has no blob store", retryable=False)
    try:
        return await asyncio.to_thread(resolve_blobs, args, blobs.get)
    except (BlobNotFound, OSError, ValueError, msgspec.DecodeError) as error:
        reason = f"an argument refers to a stored result that cannot be read: {error}"
        raise ToolError(reason, retryable=False) from None


def _clip(data: bytes, limit: int) -> str:
    return data[:limit].decode("utf-8", errors="ignore")
