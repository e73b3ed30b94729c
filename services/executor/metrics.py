"""The executor's metrics and spans: each attempt is an ``execute_tool {tool}`` span (the tool's model calls and
the events it publishes are its children), and the tool's time is counted apart from the runtime's own.

Per attempt: dispatch -> start (TaskReady's time to the executor starting it: Kafka, queueing, the poll), the tool's
time, and the executor's own overhead around the tool (taken from Kafka -> tool started; tool done -> its results
acknowledged by Kafka).
"""

from __future__ import annotations

import time
from typing import Protocol

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode
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
# The runtime's own share of an attempt is counted in tens of microseconds when it goes well.
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

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
    "Time from the planner's dispatch (TaskReady) to this executor starting the attempt (TaskStarted)",
    buckets=LATENCY_BUCKETS,
)
OVERHEAD_SECONDS = Histogram(
    "genesis_executor_overhead_seconds",
    "The executor's own time per attempt, apart from the tool's: taken from Kafka -> tool started (start), "
    "tool done -> results acknowledged by Kafka (publish)",
    ["part"],
    buckets=OVERHEAD_BUCKETS,
)
BATCH_RECORDS = Histogram(
    "genesis_executor_batch_records", "Records of tasks.ready taken in one poll", buckets=BATCH_BUCKETS
)
REPEATS_ANSWERED = Counter(
    "genesis_executor_repeats_answered",
    "Repeated dispatches of a call this executor had taken, answered with the first copy's start and result "
    "instead of calling the tool again",
    ["answer"],
)
_START_OVERHEAD = OVERHEAD_SECONDS.labels("start")
_PUBLISH_OVERHEAD = OVERHEAD_SECONDS.labels("publish")

_tracer = trace.get_tracer("genesis.executor")


class _CountsInFlight(Protocol):
    @property
    def in_flight(self) -> int: ...


def watch(executor: _CountsInFlight) -> None:
    TASKS_IN_FLIGHT.set_function(lambda: executor.in_flight)


def attempt_span(task: TaskReady, parent: Context) -> Span:
    """The attempt's ``execute_tool`` span, a child of the trace its TaskReady carries; the caller ends it. Made
    before the attempt starts, so that its TaskStarted (or its skip) already belongs to it."""
    attributes = {
        OPERATION: "execute_tool",
        TOOL_NAME: task.tool,
        TOOL_CALL_ID: f"{task.run_id}/{task.task_id}/{task.attempt}",
        CONVERSATION_ID: task.run_id,
    }
    return _tracer.start_span(
        f"execute_tool {task.tool}", context=parent, kind=trace.SpanKind.INTERNAL, attributes=attributes
    )


def observe_start(task: TaskReady) -> None:
    """The attempt starts now: count the time since the planner dispatched it."""
    QUEUE_SECONDS.observe(max(0.0, time.time() - task.occurred_at.timestamp()))


def observe_overhead(*, start_s: float, publish_s: float) -> None:
    _START_OVERHEAD.observe(start_s)
    _PUBLISH_OVERHEAD.observe(publish_s)


def observe_repeat(*, finished: bool) -> None:
    REPEATS_ANSWERED.labels("start and result" if finished else "start").inc()


def observe_batch(records: int) -> None:
    BATCH_RECORDS.observe(records)


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
