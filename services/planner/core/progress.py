"""What the planner knows about each task of a run, and what a dispatched task receives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from schemas.events import TaskFinished
from schemas.plan import Task
from services.planner.core.refs import resolve_args

# Description-only tasks run this tool with {"prompt": description, "context": {dependency id: result}}.
LLM_TOOL = "llm"

TaskStatus = Literal["pending", "running", "retrying", "succeeded", "failed", "skipped"]
SETTLED: frozenset[str] = frozenset({"succeeded", "failed", "skipped"})


@dataclass
class TaskProgress:
    status: TaskStatus = "pending"
    attempt: int = 0  # the latest attempt dispatched
    dispatched_at: dict[int, datetime] = field(default_factory=dict)
    # When an executor reported starting each attempt (TaskStarted): the lease of a started attempt runs from here.
    started_at: dict[int, datetime] = field(default_factory=dict)
    timeout_s: float = 0.0  # of the latest attempt
    lease_expires_at: datetime | None = None
    retry_due_at: datetime | None = None
    result: Any = None
    error: str | None = None
    # Of the attempt that settled the task: finished_at - started_at as the executor measured it.
    duration_s: float | None = None
    skip_reason: str | None = None

    def accepts(self, status: str, attempt: int) -> bool:
        """Only the latest attempt counts: its success while it runs or waits for a retry, its error while it runs.
        A result of a superseded attempt (a newer one was dispatched) is ignored, and nothing counts once the task
        has settled."""
        if self.status in SETTLED or attempt != self.attempt:
            return False
        return self.status in ("running", "retrying") if status == "ok" else self.status == "running"

    def duration_of(self, event: TaskFinished) -> float:
        """The attempt's duration as the executor measured it; start, dispatch and arrival times stand in for what
        it omits."""
        started = event.started_at or self.started_at.get(event.attempt) or self.dispatched_at.get(event.attempt)
        finished = event.finished_at or event.occurred_at
        return max(0.0, (finished - started).total_seconds()) if started is not None else 0.0

    def is_running(self, attempt: int) -> bool:
        return self.status == "running" and self.attempt == attempt

    @property
    def started(self) -> bool:
        """Whether an executor has started the latest attempt (its tool may be running now)."""
        return self.attempt in self.started_at

    def start_attempt(self, attempt: int, at: datetime, lease_expires_at: datetime, timeout_s: float) -> None:
        """Dispatched: the lease runs until the attempt must have started (or, without start_by, until it must
        have finished)."""
        self.status, self.attempt, self.retry_due_at = "running", attempt, None
        self.dispatched_at[attempt] = at
        self.timeout_s = timeout_s
        self.lease_expires_at = lease_expires_at

    def mark_started(self, at: datetime, lease_expires_at: datetime) -> None:
        self.started_at[self.attempt] = at
        self.lease_expires_at = lease_expires_at

    def succeed(self, result: Any, duration_s: float) -> None:
        self.status, self.result, self.duration_s = "succeeded", result, duration_s
        self.lease_expires_at = self.retry_due_at = None

    def fail_attempt(self, error: str, duration_s: float, *, retry: bool) -> None:
        """An attempt failed; ``retry`` leaves the task waiting for a retry time (TaskRetryScheduled sets it)."""
        self.status, self.error, self.duration_s = ("retrying" if retry else "failed"), error, duration_s
        self.lease_expires_at = self.retry_due_at = None

    def expire_lease(self, reason: str, at: datetime, *, retry: bool) -> None:
        """The running attempt went silent: a retry is due at once (the executor is gone, not the tool failing)."""
        self.status, self.error, self.lease_expires_at = ("retrying" if retry else "failed"), reason, None
        self.retry_due_at = at if retry else None

    def skip(self, reason: str) -> None:
        self.status, self.skip_reason = "skipped", reason
        self.lease_expires_at = self.retry_due_at = None


def tool_and_args(task: Task, results: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The tool a task runs and its arguments with the results of its dependencies substituted."""
    if task.tool is None:
        return LLM_TOOL, {"prompt": task.description, "context": {dep: results[dep] for dep in task.deps}}
    return task.tool, resolve_args(task.args, results)
