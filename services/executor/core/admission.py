"""Whether an executor should still run an attempt it has just taken from Kafka.

An attempt is superseded once its ``start_by`` has passed (the planner has dispatched it again), pointless once the
run's deadline has passed or the run has finished or been cancelled. Such an attempt is skipped without running the
tool: its result would be ignored, and a tool with effects would act twice.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container
from datetime import datetime

from schemas import TaskReady


def skip_reason(task: TaskReady, *, now: datetime, finished_runs: Container[str]) -> str | None:
    """Why ``task`` must not run now, or None when it should run."""
    if task.run_id in finished_runs:
        return f"run {task.run_id} has already finished"
    if task.deadline_at is not None and now >= task.deadline_at:
        return f"the run's deadline {task.deadline_at.isoformat()} has passed"
    if task.start_by is not None and now >= task.start_by:
        return f"attempt {task.attempt} was not started by {task.start_by.isoformat()}; the planner dispatches it again"
    return None


class FinishedRuns:
    """The ids of the runs seen finishing, the oldest forgotten past ``capacity`` (memory stays bounded)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, run_id: str) -> None:
        self._ids[run_id] = None
        self._ids.move_to_end(run_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)
