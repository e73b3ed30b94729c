"""The executor's metrics and spans: each attempt is an ``execute_tool {tool}`` span (the tool's model calls and
the events it publishes are its children), and tool latency, queue time and outcomes are counted."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram

from schemas import TaskFinished, TaskReady, TurnRecorded
from services.runtime.telemetry import (
    CONVERSATION_ID,
    ERROR_TYPE,
    INPUT_TOKENS,
    OPERATION,
    OUTPUT_TOKENS,
    REQUEST_MODEL,
    TOOL_CALL_ID,
    TOOL_NAME,
)

# Tools take from milliseconds (calculator) to minutes (a model); queues from sub-millisecond to a backlog.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

TASKS_IN_FLIGHT = Gauge("genesis_executor_tasks_in_flight", "Task attempts this executor is running now")
TASKS = Counter("genesis_executor_tasks", "Task attempts run to an outcome, by tool and status", ["tool", "status"])
TOOL_SECONDS = Histogram(
    "genesis_executor_tool_duration_seconds",
    "Time a tool call took, by tool and status",
    ["tool", "status"],
    buckets=LATENCY_BUCKETS,
)
QUEUE_SECONDS = Histogram(
    "genesis_executor_queue_seconds",
    "Time from the planner's dispatch (TaskReady) to this executor starting the attempt",
    buckets=LATENCY_BUCKETS,
)

_tracer = trace.get_tracer("genesis.executor")
RunT = TypeVar("RunT", bound=Callable[..., Awaitable[None]])


class _CountsInFlight(Protocol):
    @property
    def in_flight(self) -> int: ...


def watch(executor: _CountsInFlight) -> None:
    TASKS_IN_FLIGHT.set_function(lambda: executor.in_flight)


def observed_attempt(run: RunT) -> RunT:
    """Decorates the executor's per-task method: the attempt runs inside its ``execute_tool`` span."""

    @functools.wraps(run)
    async def observed(self: Any, task: TaskReady) -> None:
        QUEUE_SECONDS.observe(max(0.0, time.time() - task.occurred_at.timestamp()))
        attributes = {
            OPERATION: "execute_tool",
            TOOL_NAME: task.tool,
            TOOL_CALL_ID: f"{task.run_id}/{task.task_id}/{task.attempt}",
            CONVERSATION_ID: task.run_id,
        }
        with _tracer.start_as_current_span(
            f"execute_tool {task.tool}", kind=trace.SpanKind.INTERNAL, attributes=attributes
        ):
            await run(self, task)

    return observed  # type: ignore[return-value]


def observe_outcome(turns: list[TurnRecorded], finished: TaskFinished) -> None:
    """After the tool ran: count it, and put its outcome on the current ``execute_tool`` span (an agent step's
    turns add up)."""
    turn = turns[-1] if turns else None
    tool = turns[0].tool_name if turns else "?"
    TASKS.labels(tool, finished.status).inc()
    span = trace.get_current_span()
    if turn is not None:
        TOOL_SECONDS.labels(tool, turn.status).observe(sum(each.latency_s for each in turns))
        if turn.model:
            span.set_attribute(REQUEST_MODEL, turn.model)
        span.set_attribute(INPUT_TOKENS, sum(each.input_tokens for each in turns))
        span.set_attribute(OUTPUT_TOKENS, sum(each.output_tokens for each in turns))
    if finished.status != "ok":
        span.set_attribute(ERROR_TYPE, "tool_error" if turn is not None else "executor_error")
        span.set_status(Status(StatusCode.ERROR, (finished.error or "")[:200]))
