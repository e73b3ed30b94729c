"""Runs as the console knows them: each run's state folded from its events, in whatever order they arrive.

The same fold serves live runs (events from Kafka) and finished ones (their events read back from the
warehouse), so a run's page looks the same either way. Events of one run travel on several topics, so a
TaskStarted may arrive before its TaskReady, or a TaskReady before the RunPlanned: every field is set on its
own and nothing assumes an order.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas import (
    RewardAssigned,
    RunCancelRequested,
    RunFinished,
    RunPlanned,
    RunRejected,
    RunReplanned,
    RunRequested,
    TaskFinished,
    TaskReady,
    TaskSkipped,
    TaskStarted,
    TurnRecorded,
)

FINISHED = frozenset({"succeeded", "failed", "partial", "rejected", "timed_out", "cancelled"})
# What a node on the DAG can be: its dependencies not done, dispatched, on an executor, or settled.
NODE_STATES = ("waiting", "ready", "running", "succeeded", "failed", "skipped")


@dataclass
class AttemptState:
    attempt: int
    dispatched_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    executor: str | None = None
    status: str = "dispatched"  # dispatched | ok | error
    error: str | None = None


@dataclass
class TaskState:
    task_id: str
    tool: str | None = None
    description: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    deps: tuple[str, ...] = ()
    attempts: dict[int, AttemptState] = field(default_factory=dict)
    skip_reason: str | None = None
    result: Any = None

    def attempt(self, number: int) -> AttemptState:
        return self.attempts.setdefault(number, AttemptState(number))

    @property
    def latest(self) -> AttemptState | None:
        return self.attempts[max(self.attempts)] if self.attempts else None

    @property
    def state(self) -> str:
        if self.skip_reason is not None:
            return "skipped"
        if any(attempt.status == "ok" for attempt in self.attempts.values()):
            return "succeeded"
        latest = self.latest
        if latest is None:
            return "waiting"
        if latest.status == "error":
            return "failed"
        return "running" if latest.started_at is not None else "ready"

    @property
    def retried(self) -> bool:
        return len(self.attempts) > 1


@dataclass
class Turn:
    task_id: str
    attempt: int
    operation: str
    tool_name: str
    model: str | None
    arguments: str
    output: str
    status: str
    error: str | None
    latency_s: float
    executor: str
    started_at: datetime | None
    input_tokens: int
    output_tokens: int


@dataclass
class RunState:
    run_id: str
    status: str = "requested"  # requested | running, then one of FINISHED
    requested_at: datetime | None = None
    planned_at: datetime | None = None
    finished_at: datetime | None = None
    query: str | None = None
    plan_text: str | None = None
    plan_format: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    strategy: str | None = None
    levels: list[list[str]] = field(default_factory=list)
    planned_critical_path: list[str] = field(default_factory=list)
    tasks: dict[str, TaskState] = field(default_factory=dict)
    turns: list[Turn] = field(default_factory=list)
    answer: Any = None
    reason: str | None = None
    reason_line: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    reward: float | None = None
    cancel_requested: bool = False
    replans: list[RunReplanned] = field(default_factory=list)
    last_event_at: datetime | None = None
    last_event_type: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def task(self, task_id: str) -> TaskState:
        return self.tasks.setdefault(task_id, TaskState(task_id))

    @property
    def started_at(self) -> datetime | None:
        return self.planned_at or self.requested_at


def apply(run: RunState, event: Any) -> None:
    """Fold one event of ``run`` into it."""
    _FOLDS[type(event)](run, event)
    if run.last_event_at is None or event.occurred_at >= run.last_event_at:
        run.last_event_at = event.occurred_at
        run.last_event_type = type(event).__name__


def _requested(run: RunState, event: RunRequested) -> None:
    run.requested_at = event.occurred_at
    run.query, run.plan_text, run.labels = event.query, event.plan_text, dict(event.labels)
    if event.plan is not None and run.plan_text is None:
        run.plan_text = plan_as_text(event.plan)


def _planned(run: RunState, event: RunPlanned) -> None:
    run.planned_at = event.occurred_at
    if run.status == "requested":
        run.status = "running"
    run.strategy, run.levels, run.planned_critical_path = event.strategy, event.levels, event.critical_path
    run.plan_format = event.plan.format
    if run.plan_text is None:
        run.plan_text = plan_as_text(event.plan)
    for task in event.plan.tasks:
        state = run.task(task.id)
        state.tool, state.description, state.deps = task.tool, task.description or "", tuple(task.deps)
        state.args = state.args or dict(task.args)
    # Tasks learned from dispatches before the plan arrived keep their place after the planned ones.
    planned = {task.id for task in event.plan.tasks}
    run.tasks = {task.id: run.tasks[task.id] for task in event.plan.tasks} | {
        task_id: state for task_id, state in run.tasks.items() if task_id not in planned
    }


def _replanned(run: RunState, event: RunReplanned) -> None:
    # The sub-plan's tasks join the DAG, and the tasks that needed the replaced one now need its stand-in.
    run.levels, run.planned_critical_path = event.levels, event.critical_path
    run.replans.append(event)
    for task in event.plan.tasks:
        state = run.task(task.id)
        state.tool, state.description, state.deps = task.tool, task.description or "", tuple(task.deps)
        state.args = state.args or dict(task.args)


def _ready(run: RunState, event: TaskReady) -> None:
    task = run.task(event.task_id)
    task.tool = task.tool or event.tool
    task.args = dict(event.args)
    task.attempt(event.attempt).dispatched_at = event.occurred_at


def _started(run: RunState, event: TaskStarted) -> None:
    attempt = run.task(event.task_id).attempt(event.attempt)
    attempt.started_at = attempt.started_at or event.occurred_at
    attempt.executor = event.executor or attempt.executor
    attempt.dispatched_at = attempt.dispatched_at or event.dispatched_at


def _finished_task(run: RunState, event: TaskFinished) -> None:
    task = run.task(event.task_id)
    attempt = task.attempt(event.attempt)
    if attempt.status != "dispatched":
        return  # the first report of an attempt wins, as in the planner and the warehouse
    attempt.status, attempt.error = event.status, event.error
    attempt.started_at = event.started_at or attempt.started_at
    attempt.finished_at = event.finished_at or event.occurred_at
    attempt.executor = event.executor or attempt.executor
    if event.status == "ok":
        task.result = event.result


def _skipped(run: RunState, event: TaskSkipped) -> None:
    run.task(event.task_id).skip_reason = event.reason


def _turn(run: RunState, event: TurnRecorded) -> None:
    run.turns.append(
        Turn(
            task_id=event.task_id,
            attempt=event.attempt,
            operation=event.operation,
            tool_name=event.tool_name,
            model=event.model,
            arguments=event.arguments,
            output=event.output,
            status=event.status,
            error=event.error,
            latency_s=event.latency_s,
            executor=event.executor,
            started_at=event.started_at,
            input_tokens=event.input_tokens,
            output_tokens=event.output_tokens,
        )
    )
    run.turns.sort(key=lambda turn: (turn.started_at is None, turn.started_at or event.occurred_at))


def _run_finished(run: RunState, event: RunFinished) -> None:
    run.status, run.answer, run.reason = event.status, event.answer, event.reason
    run.finished_at = event.occurred_at
    run.metrics = {
        "makespan_s": event.metrics.makespan_s,
        "sequential_s": event.metrics.sequential_s,
        "critical_path_s": event.metrics.critical_path_s,
        "speedup": event.metrics.speedup,
        "tokens": event.metrics.tokens,
        "attempts": event.metrics.attempts,
    }
    run.labels = run.labels or dict(event.labels)
    for task_id, reason in event.skipped.items():
        run.task(task_id).skip_reason = run.task(task_id).skip_reason or reason


def _rejected(run: RunState, event: RunRejected) -> None:
    run.status, run.reason, run.reason_line = "rejected", event.reason, event.line
    run.finished_at = event.occurred_at


def _rewarded(run: RunState, event: RewardAssigned) -> None:
    run.reward = event.reward


def _cancel(run: RunState, event: RunCancelRequested) -> None:
    run.cancel_requested = True


_FOLDS = {
    RunRequested: _requested,
    RunPlanned: _planned,
    RunReplanned: _replanned,
    TaskReady: _ready,
    TaskStarted: _started,
    TaskFinished: _finished_task,
    TaskSkipped: _skipped,
    TurnRecorded: _turn,
    RunFinished: _run_finished,
    RunRejected: _rejected,
    RewardAssigned: _rewarded,
    RunCancelRequested: _cancel,
}
RUN_EVENT_TYPES = tuple(_FOLDS)


def plan_as_text(plan: Any) -> str:
    """A structured plan written out in the seed's format, for a run that was not submitted as text."""
    lines = []
    for task in plan.tasks:
        call = f"{task.tool}({', '.join(f'{k}={v!r}' for k, v in task.args.items())})" if task.tool else ""
        what = " ".join(part for part in (task.description, call) if part)
        needs = ", ".join(f"Task {dep}" for dep in task.deps) or "none"
        lines.append(f"Task {task.id}: {what} | Dependencies: {needs}")
    return "\n".join(lines)


def label_matches(labels: dict[str, str], wanted: str) -> bool:
    """``key=value`` matches that label exactly; a bare word matches any label's key or value containing it."""
    key, equals, value = wanted.partition("=")
    if equals:
        return labels.get(key.strip()) == value.strip()
    word = wanted.strip().lower()
    return any(word in name.lower() or word in text.lower() for name, text in labels.items())


def fold(run_id: str, events: list[Any]) -> RunState:
    run = RunState(run_id)
    for event in events:
        if type(event) in _FOLDS:
            apply(run, event)
    return run


class Board:
    """The runs seen on the live feed, newest last; finished runs beyond ``keep_finished`` are forgotten first."""

    def __init__(self, keep_finished: int) -> None:
        self._runs: OrderedDict[str, RunState] = OrderedDict()
        self._keep_finished = keep_finished
        self._finished = 0

    def apply(self, event: Any) -> str | None:
        """Fold an event in; the id of the run it changed, or None for an event that is not about one run."""
        if type(event) not in _FOLDS:
            return None
        run = self._runs.get(event.run_id)
        if run is None:
            run = self._runs[event.run_id] = RunState(event.run_id)
        was_finished = run.finished
        apply(run, event)
        if run.finished and not was_finished:
            self._finished += 1
            self._evict()
        return run.run_id

    def get(self, run_id: str) -> RunState | None:
        return self._runs.get(run_id)

    def runs(self) -> list[RunState]:
        """Newest first."""
        return list(reversed(self._runs.values()))

    def _evict(self) -> None:
        if self._finished <= self._keep_finished:
            return
        for run_id, run in list(self._runs.items()):
            if run.finished:
                del self._runs[run_id]
                self._finished -= 1
                if self._finished <= self._keep_finished:
                    return
