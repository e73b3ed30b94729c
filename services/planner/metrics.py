"""The planner's metrics and spans, fed from the app's edge: the inputs it applies and the events it publishes.

Spans: each run is an ``invoke_workflow`` span, opened when its request is planned and ended when its RunFinished
(or RunRejected) is published; planning is a ``plan`` span inside it. The run's context is kept in
``streams.tracing.RUN_TRACES``, so the events the flush loop publishes for the run belong to its trace. A run
restored from the journal by another planner continues the trace its next result carries.

Metrics: runs in flight, started and finished; task attempts dispatched, waiting for an executor (ready) and
running (in flight); the per-hop dispatch latency, from the event that made a task ready (its dependency's result,
or the run's request for tasks without dependencies) to the planner publishing the task; the version of the
policy new runs get.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram

from schemas import (
    RunFinished,
    RunPlanned,
    RunRejected,
    RunReplanned,
    RunRequested,
    TaskFinished,
    TaskReady,
    TaskStarted,
)
from services.runtime.telemetry import CONVERSATION_ID, ERROR_TYPE, OPERATION
from streams.tracing import RUN_TRACES

HOP_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

RUNS_IN_FLIGHT = Gauge("genesis_planner_runs_in_flight", "Runs this planner holds that have not finished")
RUNS_STARTED = Counter("genesis_planner_runs_started", "Runs planned and started (RunPlanned published)")
RUNS_FINISHED = Counter("genesis_planner_runs_finished", "Runs ended, by status (rejected included)", ["status"])
TASKS_DISPATCHED = Counter(
    "genesis_planner_tasks_dispatched", "Task attempts published (TaskReady), first or retry", ["attempt"]
)
TASKS_READY = Gauge("genesis_planner_tasks_ready", "Task attempts dispatched that no executor has started yet")
TASKS_IN_FLIGHT = Gauge("genesis_planner_tasks_in_flight", "Task attempts started by an executor, with no result yet")
DISPATCH_SECONDS = Histogram(
    "genesis_planner_dispatch_latency_seconds",
    "From the event that made a task ready to its dispatch: hop=dependency (a result published -> the dependent "
    "task dispatched) or hop=request (the run requested -> a task without dependencies dispatched)",
    ["hop"],
    buckets=HOP_BUCKETS,
)
TRANSACTION_SECONDS = Histogram(
    "genesis_planner_transaction_seconds",
    "One input partition's flush: the Kafka transaction that publishes what its inputs caused and commits them",
    buckets=HOP_BUCKETS,
)
TRANSACTION_INPUTS = Histogram(
    "genesis_planner_transaction_inputs",
    "Inputs one transaction commits (group commit: inputs that arrive while it is on its way share the next)",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
)

POLICY_VERSION = Gauge("genesis_planner_policy_version", "The version of the policy new runs are planned with")
REPLANS = Counter("genesis_planner_replans", "Failed tasks replaced by a sub-plan the model wrote (RunReplanned)")
JOURNAL_SNAPSHOTS = Counter(
    "genesis_planner_journal_snapshots",
    "Runs' journals rewritten as one snapshot of their history (planner.journal_snapshot_records records since the "
    "last), with tombstones on the records it replaces",
)
DISPATCHES_HANDED_BACK = Counter(
    "genesis_planner_dispatches_handed_back",
    "Dispatches Kafka did not take when sent directly (planner.dispatch_guarantee: at_least_once): each went in its "
    "partition's next transaction instead",
)

_tracer = trace.get_tracer("genesis.planner")
Attempt = tuple[str, str, int]


class PlannerTelemetry:
    def __init__(
        self, *, runs_held: Callable[[], int], policy_version: Callable[[], int] = lambda: 0, max_runs: int = 100_000
    ) -> None:
        self._spans: dict[str, Span] = {}
        self._max_runs = max_runs
        # Per run: what made its next task ready, and when (epoch seconds).
        self._trigger: dict[str, tuple[str, float]] = {}
        # Per run: its attempts that are ready (False) or started (True).
        self._attempts: dict[str, dict[tuple[str, int], bool]] = {}
        RUNS_IN_FLIGHT.set_function(runs_held)
        POLICY_VERSION.set_function(policy_version)
        TASKS_READY.set_function(lambda: self._count(started=False))
        TASKS_IN_FLIGHT.set_function(lambda: self._count(started=True))

    @contextlib.contextmanager
    def planning(self, request: RunRequested) -> Iterator[None]:
        """Around planning a request: opens the run's ``invoke_workflow`` span and a ``plan`` span inside it."""
        attributes = {CONVERSATION_ID: request.run_id}
        if request.run_id not in self._spans:
            if len(self._spans) >= self._max_runs:  # runs whose end this planner never saw (partitions moved)
                self._spans.pop(next(iter(self._spans))).end()
            run_span = _tracer.start_span("invoke_workflow", attributes={OPERATION: "invoke_workflow", **attributes})
            self._spans[request.run_id] = run_span
            RUN_TRACES.remember(request.run_id, trace.set_span_in_context(run_span))
        context = RUN_TRACES.get(request.run_id)
        with _tracer.start_as_current_span(
            "plan", context=context, attributes={OPERATION: "plan", **attributes}
        ) as span:
            try:
                yield
            except Exception as error:
                span.set_attribute(ERROR_TYPE, type(error).__name__)
                raise

    def applied(self, event: object) -> None:
        """An input the planner applied (called in the handler, inside the message's process span)."""
        match event:
            case RunRequested():
                self._trigger.setdefault(event.run_id, ("request", _epoch(event.occurred_at)))
                _trim(self._trigger, self._max_runs)
                _trim(self._attempts, self._max_runs)
            case TaskStarted():
                attempts = self._attempts.get(event.run_id)
                if attempts is not None and (event.task_id, event.attempt) in attempts:
                    attempts[(event.task_id, event.attempt)] = True
            case TaskFinished():
                self._adopt_trace(event.run_id)
                attempts = self._attempts.get(event.run_id)
                if attempts is not None:
                    attempts.pop((event.task_id, event.attempt), None)
                if event.status == "ok":
                    self._trigger[event.run_id] = ("dependency", _epoch(event.occurred_at))

    def flushed(self, seconds: float, *, inputs: int) -> None:
        """One partition's transaction committed."""
        TRANSACTION_SECONDS.observe(seconds)
        TRANSACTION_INPUTS.observe(inputs)

    def dispatch_handed_back(self) -> None:
        DISPATCHES_HANDED_BACK.inc()

    def published(self, events: list[object]) -> None:
        """Events the flush published (acknowledged by Kafka)."""
        now = time.time()
        for event in events:
            match event:
                case RunPlanned():
                    RUNS_STARTED.inc()
                case TaskReady():
                    TASKS_DISPATCHED.labels("first" if event.attempt == 1 else "retry").inc()
                    self._attempts.setdefault(event.run_id, {})[(event.task_id, event.attempt)] = False
                    trigger = self._trigger.get(event.run_id)
                    if event.attempt == 1 and trigger is not None:
                        DISPATCH_SECONDS.labels(trigger[0]).observe(max(0.0, now - trigger[1]))
                case RunFinished():
                    RUNS_FINISHED.labels(str(event.status)).inc()
                    self._end(event.run_id, str(event.status), failed=str(event.status) != "succeeded")
                case RunReplanned():
                    REPLANS.inc()
                case RunRejected():
                    RUNS_FINISHED.labels("rejected").inc()
                    self._end(event.run_id, "rejected", failed=True)

    def _adopt_trace(self, run_id: str) -> None:
        """A run this planner did not start (restored from the journal): follow the trace its results carry."""
        if run_id not in RUN_TRACES and trace.get_current_span().get_span_context().is_valid:
            RUN_TRACES.remember(run_id, otel_context.get_current())

    def _end(self, run_id: str, status: str, *, failed: bool) -> None:
        self._trigger.pop(run_id, None)
        self._attempts.pop(run_id, None)
        RUN_TRACES.forget(run_id)
        span = self._spans.pop(run_id, None)
        if span is not None:
            span.set_attribute("genesis.run.status", status)
            if failed:
                span.set_status(Status(StatusCode.ERROR, status))
            span.end()

    def _count(self, *, started: bool) -> int:
        return sum(1 for attempts in self._attempts.values() for state in attempts.values() if state is started)


def _trim(per_run: dict, limit: int) -> None:
    """Forget the oldest runs beyond ``limit``: runs whose end this planner never sees (their partitions moved)."""
    while len(per_run) > limit:
        del per_run[next(iter(per_run))]


def _epoch(at: datetime) -> float:
    return at.timestamp()
