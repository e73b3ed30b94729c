"""How a run ends: its status, answer, observations and metrics, from the final state.

Status rules (the sinks are the tasks no other task needs; their results are the answer):

- ``cancelled``: a producer asked for it (RunCancelRequested); tasks not started are listed in ``skipped``;
- ``timed_out``: the deadline passed before every task settled (unfinished tasks are listed in ``skipped``);
- ``succeeded``: every sink succeeded (then every task did: a failure skips all tasks that need it, sinks included);
- ``partial``: some sinks succeeded and others failed or were skipped;
- ``failed``: no sink succeeded.

A task that a sub-plan replaced (re-planning) is neither a sink nor the reason: its stand-in took its place.

``answer`` is the single sink's result, or ``{sink id: result}`` over the succeeded sinks when there are several, or
the text the LLM wrote from all results (answer synthesis). Each result travels once: ``observations`` holds the
results that are not already in ``answer``, up to ``max_observation_bytes`` in all; results past that (and sinks that
do not fit a multi-sink answer) are listed in ``omitted``. ``reason`` names the cancellation, the deadline, or the
first failed task in canonical order with its error.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from schemas.events import RunFinished, RunMetrics, RunStatus
from services.planner.core.replan import replan_note

if TYPE_CHECKING:
    from services.planner.core.run import RunState

Ending = Literal["settled", "timed_out", "cancelled"]
_encoder = msgspec.json.Encoder()


def answer_sinks(state: RunState) -> list[str]:
    """The tasks whose results are the answer: the plan's final tasks, but not those a sub-plan replaced."""
    return [sink for sink in state.dag.sinks() if sink not in state.replans.replaced]


def settled_status(state: RunState) -> RunStatus:
    sinks = answer_sinks(state)
    succeeded_sinks = sum(state.tasks[sink].status == "succeeded" for sink in sinks)
    if succeeded_sinks == len(sinks):
        return "succeeded"
    return "partial" if succeeded_sinks else "failed"


def finished_event(
    state: RunState,
    envelope: dict[str, Any],
    *,
    ending: Ending = "settled",
    synthesized: str | None = None,
    answer_tokens: int = 0,
) -> RunFinished:
    """The run's outcome; ``answer_tokens``: what the model calls that wrote ``synthesized`` took, which the run's
    tokens count."""
    status: RunStatus = settled_status(state) if ending == "settled" else ending
    results = {task_id: progress.result for task_id, progress in state.tasks.items() if progress.status == "succeeded"}
    budget = _Budget(state.config.max_observation_bytes)
    sinks = answer_sinks(state)
    answer: Any
    if synthesized is not None:
        answer, in_answer = synthesized, set()
    elif len(sinks) == 1:
        answer, in_answer = results.get(sinks[0]), {sinks[0]}
    else:
        answer = {sink: results[sink] for sink in sinks if sink in results and budget.fits(sink, results[sink])}
        in_answer = set(sinks)
    observations = {
        task_id: result
        for task_id, result in results.items()
        if task_id not in in_answer and budget.fits(task_id, result)
    }
    return RunFinished(
        **envelope,
        status=status,
        answer=answer,
        observations=observations,
        metrics=_metrics(state, envelope["occurred_at"], answer_tokens),
        reason=_reason(state, status),
        strategy=state.strategy,
        expected_answer=state.expected_answer,
        labels=dict(state.labels),
        skipped={
            task_id: progress.skip_reason or ""
            for task_id, progress in state.tasks.items()
            if progress.status == "skipped"
        },
        omitted=budget.omitted,
    )


class _Budget:
    def __init__(self, max_bytes: int) -> None:
        self.left = max_bytes
        self.omitted: list[str] = []

    def fits(self, task_id: str, result: Any) -> bool:
        size = len(_encoder.encode(result))
        if size > self.left:
            self.omitted.append(task_id)
            return False
        self.left -= size
        return True


def _reason(state: RunState, status: RunStatus) -> str | None:
    if status == "cancelled":
        return f"cancelled: {state.cancel_reason}" if state.cancel_reason else "cancelled"
    if status == "timed_out":
        deadline_s = (state.deadline_at - state.planned_at).total_seconds()
        succeeded = sum(progress.status == "succeeded" for progress in state.tasks.values())
        return f"run deadline of {deadline_s:g}s passed; {succeeded} of {len(state.tasks)} tasks succeeded"
    for task_id in state.dag.canonical_order():
        if state.tasks[task_id].status == "failed" and task_id not in state.replans.replaced:
            return f"task {task_id} failed: {state.tasks[task_id].error}{replan_note(state, task_id)}"
    return None


def _metrics(state: RunState, finished_at: datetime, answer_tokens: int) -> RunMetrics:
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
        tokens=state.tokens + answer_tokens,
        tasks=len(state.tasks),
        attempts=sum(len(progress.dispatched_at) for progress in state.tasks.values()),
    )
