"""A run as a timeline: its tasks, their dependencies, every attempt's span and executor, and the critical path.

The one timeline module: the CLI's charts (services/warehouse/gantt.py) and the web console (services/console)
both draw from it, with the title, executor colours, row labels and dependency links defined here once.

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
    # One line per re-plan: which task failed for good, why, and the sub-plan's tasks that took its place.
    replans: tuple[str, ...] = ()

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

    def bars(self, now: datetime | None = None) -> list[Bar]:
        """Every attempt as a bar; an attempt still running ends at ``now`` (a live run), else at the run's end."""
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
                elif now is not None:
                    end = max(start, _seconds(now, origin))
                else:
                    end = max(start, run_end)
                bars.append(Bar(row, span, queued_from, start, end, task.task_id in critical))
        return bars


def _seconds(moment: datetime | None, origin: datetime) -> float:
    return (moment - origin).total_seconds() if moment is not None else 0.0


# Colour-blind-safe (Okabe-Ito), one per executor in order of first use; more executors reuse them.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
CRITICAL_EDGE = "#B00020"
WAITING = "#d0d0d0"
ARROW = "#9a9a9a"


def title(timeline: RunTimeline) -> str:
    def seconds(value: float | None) -> str:
        return "?" if value is None else f"{value:.2f} s"

    speedup = "?" if timeline.speedup is None else f"{timeline.speedup:.2f}x"
    return (
        f"run {timeline.run_id} · {timeline.status} · makespan {seconds(timeline.makespan_s)} · "
        f"one by one {seconds(timeline.sequential_s)} · critical path {seconds(timeline.critical_path_s)} · "
        f"speedup {speedup}"
    )


def executor_colours(timeline: RunTimeline) -> dict[str, str]:
    return {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(timeline.executors())}


def row_label(timeline: RunTimeline, row: int, critical: set[str]) -> str:
    task = timeline.tasks[row]
    star = "★ " if task.task_id in critical else ""
    return f"{star}{task.task_id} · {task.tool or 'llm'}"


def dependency_links(timeline: RunTimeline, bars: list[Bar]) -> list[tuple[float, int, float, int]]:
    """(x, row) of each dependency's settling end to (x, row) of the first dispatch of the task that needed it."""
    rows = {task.task_id: row for row, task in enumerate(timeline.tasks)}
    ends: dict[int, float] = {}
    starts: dict[int, float] = {}
    for bar in bars:
        settling = timeline.tasks[bar.row].settling
        if settling is not None and bar.span.attempt == settling.attempt:
            ends[bar.row] = bar.end
        starts[bar.row] = min(starts.get(bar.row, bar.queued_from), bar.queued_from)
    return [
        (ends[rows[dep]], rows[dep], starts[row], row)
        for row, task in enumerate(timeline.tasks)
        for dep in task.deps
        if dep in rows and rows[dep] in ends and row in starts
    ]
