"""A run as a timeline: its tasks, their dependencies, every attempt's span and executor, and the critical path.

The critical path here is measured, not planned: the heaviest dependency chain, weighting each task by the
duration of the attempt that settled it (its success, or its last failure), as the planner computes
critical_path_s. Without any measured attempt it falls back to the planned path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from graphlib import TopologicalSorter


@dataclass(frozen=True)
class AttemptSpan:
    task_id: str
    attempt: int
    status: str  # dispatched | ok | error
    executor: str | None
    dispatched_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = None


@dataclass(frozen=True)
class TaskLine:
    task_id: str
    tool: str | None
    description: str
    deps: tuple[str, ...]
    attempts: tuple[AttemptSpan, ...]
    skip_reason: str | None = None

    @property
    def settling(self) -> AttemptSpan | None:
        """The attempt that decided the task: its first success, else its last finished attempt."""
        finished = [span for span in self.attempts if span.status != "dispatched"]
        return next((span for span in finished if span.status == "ok"), finished[-1] if finished else None)

    @property
    def status(self) -> str:
        if self.skip_reason is not None:
            return "skipped"
        settling = self.settling
        if settling is None:
            return "running" if self.attempts else "pending"
        return "succeeded" if settling.status == "ok" else "failed"


@dataclass(frozen=True)
class Bar:
    """One attempt on the chart, in seconds from the timeline's origin."""

    row: int
    span: AttemptSpan
    queued_from: float  # dispatched
    start: float
    end: float
    critical: bool


@dataclass(frozen=True)
class RunTimeline:
    run_id: str
    status: str
    makespan_s: float | None
    sequential_s: float | None
    critical_path_s: float | None
    speedup: float | None
    planned_at: datetime | None
    tasks: tuple[TaskLine, ...]
    planned_critical_path: tuple[str, ...] = ()

    @property
    def origin(self) -> datetime | None:
        moments = [span.dispatched_at or span.started_at for task in self.tasks for span in task.attempts]
        return self.planned_at or min((moment for moment in moments if moment is not None), default=None)

    def executors(self) -> list[str]:
        """Executors in the order they first started an attempt."""
        spans = sorted(
            (span for task in self.tasks for span in task.attempts if span.executor and span.started_at),
            key=lambda span: span.started_at,  # type: ignore[arg-type, return-value]
        )
        return list(dict.fromkeys(span.executor for span in spans))  # type: ignore[misc]

    def critical_path(self) -> list[str]:
        durations = {
            task.task_id: (task.settling.finished_at - task.settling.started_at).total_seconds()
            for task in self.tasks
            if task.settling is not None and task.settling.started_at and task.settling.finished_at
        }
        if not durations:
            return list(self.planned_critical_path)
        deps = {task.task_id: task.deps for task in self.tasks}
        finish: dict[str, float] = {}
        via: dict[str, str | None] = {}
        for task_id in TopologicalSorter(deps).static_order():
            heaviest = max(deps.get(task_id, ()), key=finish.__getitem__, default=None)
            via[task_id] = heaviest
            finish[task_id] = durations.get(task_id, 0.0) + (finish[heaviest] if heaviest is not None else 0.0)
        end: str | None = max(finish, key=finish.__getitem__)
        path = []
        while end is not None:
            path.append(end)
            end = via[end]
        return path[::-1]

    def bars(self) -> list[Bar]:
        origin = self.origin
        if origin is None:
            return []
        critical = set(self.critical_path())
        run_end = self.makespan_s or 0.0
        bars = []
        for row, task in enumerate(self.tasks):
            for index, span in enumerate(task.attempts):
                queued_from = _seconds(span.dispatched_at or span.started_at, origin)
                start = _seconds(span.started_at, origin) if span.started_at else queued_from
                if span.finished_at is not None:
                    end = _seconds(span.finished_at, origin)
                elif index + 1 < len(task.attempts) and task.attempts[index + 1].dispatched_at is not None:
                    end = _seconds(task.attempts[index + 1].dispatched_at, origin)  # lost: until it was re-dispatched
                else:
                    end = max(start, run_end)
                bars.append(Bar(row, span, queued_from, start, end, task.task_id in critical))
        return bars


def _seconds(moment: datetime | None, origin: datetime) -> float:
    return (moment - origin).total_seconds() if moment is not None else 0.0
