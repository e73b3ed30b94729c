"""How a run ends: its status, answer, observations and metrics, from the final state.

Status rules (the sinks are the tasks no other task needs; their results are the answer):

- ``timed_out``: the deadline passed before every task settled (unfinished tasks are listed in ``skipped``);
- ``succeeded``: every sink succeeded (then every task did: a failure skips all tasks that need it, sinks included);
- ``partial``: some sinks succeeded and others failed or were skipped;
- ``failed``: no sink succeeded.

``answer`` is the single sink's result, or ``{sink id: result}`` over the succeeded sinks when there are several.
``reason`` names the deadline, or the first failed task in canonical order with its error.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from schemas.events import RunFinished, RunMetrics, RunStatus

if TYPE_CHECKING:
    from services.planner.core.run import RunState


def finished_event(state: RunState, envelope: dict[str, Any], *, timed_out: bool) -> RunFinished:
    sinks = state.dag.sinks()
    succeeded_sinks = [sink for sink in sinks if state.tasks[sink].status == "succeeded"]
    status: RunStatus
    if timed_out:
        status = "timed_out"
    elif len(succeeded_sinks) == len(sinks):
        status = "succeeded"
    else:
        status = "partial" if succeeded_sinks else "failed"
    if len(sinks) == 1:
        answer = state.tasks[sinks[0]].result if succeeded_sinks else None
    else:
        answer = {sink: state.tasks[sink].result for sink in succeeded_sinks}
    return RunFinished(
        **envelope,
        status=status,
        answer=answer,
        observations={
            task_id: progress.result for task_id, progress in state.tasks.items() if progress.status == "succeeded"
        },
        metrics=_metrics(state, envelope["occurred_at"]),
        reason=_reason(state, status),
        strategy=state.strategy,
        expected_answer=state.expected_answer,
        labels=dict(state.labels),
        skipped={
            task_id: progress.skip_reason or ""
            for task_id, progress in state.tasks.items()
            if progress.status == "skipped"
        },
    )


def _reason(state: RunState, status: RunStatus) -> str | None:
    if status == "timed_out":
        deadline_s = (state.deadline_at - state.planned_at).total_seconds()
        succeeded = sum(progress.status == "succeeded" for progress in state.tasks.values())
        return f"run deadline of {deadline_s:g}s passed; {succeeded} of {len(state.tasks)} tasks succeeded"
    for task_id in state.dag.canonical_order():
        if state.tasks[task_id].status == "failed":
            return f"task {task_id} failed: {state.tasks[task_id].error}"
    return None


def _metrics(state: RunState, finished_at: datetime) -> RunMetrics:
    # The attempts that settled a task (its success, or its last failure) are the work the run needed.
    durations = {
        task_id: progress.duration_s
        for task_id, progress in state.tasks.items()
        if progress.status in ("succeeded", "failed") and progress.duration_s is not None
    }
    makespan_s = (finished_at - state.planned_at).total_seconds()
    sequential_s = sum(durations.values())
    return RunMetrics(
        makespan_s=makespan_s,
        sequential_s=sequential_s,
        critical_path_s=state.dag.critical_path_time(durations),
        speedup=sequential_s / makespan_s if makespan_s > 0 else 0.0,
        turns=state.turns,
        tool_errors=state.tool_errors,
        tokens=state.tokens,
        tasks=len(state.tasks),
        attempts=sum(len(progress.dispatched_at) for progress in state.tasks.values()),
    )
