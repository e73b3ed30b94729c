"""Events to the rows of every table but `events` (docs/WAREHOUSE.md lists the columns).

Known event types fill the derived tables: append-only rows for task dispatches and ends, turns, plans, skips,
rewards and policies, and partial rows for `runs`, which several events fill in any order. Partial rows of one
batch are merged here with the rules the upsert applies in DuckDB (sql/writes.sql): a status only moves forward,
the first end of a run decides every column of that end, and any other column keeps its first value. Of an
attempt's dispatch and of its end, the first report is kept (here within a batch, by the key in DuckDB across
batches).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pyarrow as pa

from schemas import (
    PolicyUpdated,
    RewardAssigned,
    RunFinished,
    RunPlanned,
    RunRejected,
    RunReplanned,
    RunRequested,
    TaskFinished,
    TaskReady,
    TaskSkipped,
    TurnRecorded,
)
from services.warehouse.core.rows import day_of, json_bytes
from services.warehouse.core.tables import (
    POLICIES,
    REWARDS,
    RUNS,
    TASK_DEPENDENCIES,
    TASK_DISPATCHES,
    TASK_ENDS,
    TASK_SKIPS,
    TASKS,
    TURNS,
)

# Run statuses before the run ends; any other status is final.
_RUN_PROGRESS = {"requested": 0, "planned": 1}
# Columns only a run's end fills; the first end (RunFinished or RunRejected) decides them all.
RUN_END_COLUMNS = frozenset(
    {
        "finished_at",
        "attempts",
        "makespan_s",
        "sequential_s",
        "critical_path_s",
        "speedup",
        "turns",
        "tool_errors",
        "tokens",
        "answer",
        "reason",
    }
)


class DerivedRows:
    """The rows a batch of new events adds to every table but `events`."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        # Per attempt (run_id, task_id, attempt), the first report of its dispatch and of its end.
        self.task_dispatches: dict[tuple[str, str, int], tuple[Any, ...]] = {}
        self.task_ends: dict[tuple[str, str, int], tuple[Any, ...]] = {}
        self.trace: tuple[str | None, str | None] = (None, None)
        self.appended: dict[str, list[tuple[Any, ...]]] = {
            spec.name: [] for spec in (TURNS, TASKS, TASK_DEPENDENCIES, TASK_SKIPS, REWARDS, POLICIES)
        }

    def add(self, event: Any, trace: tuple[str | None, str | None] = (None, None)) -> None:
        """``trace``: the (trace id, span id) the event was published in, for the rows that keep them."""
        mapper = _MAPPERS.get(type(event))
        if mapper is not None:
            self.trace = trace
            mapper(self, event)

    def tables(self) -> dict[str, pa.Table]:
        """One Arrow table per warehouse table that gets rows from this batch."""
        tables = {}
        if self.runs:
            tables[RUNS.name] = RUNS.from_dicts(self.runs.values())
        if self.task_dispatches:
            tables[TASK_DISPATCHES.name] = TASK_DISPATCHES.from_tuples(list(self.task_dispatches.values()))
        if self.task_ends:
            tables[TASK_ENDS.name] = TASK_ENDS.from_tuples(list(self.task_ends.values()))
        for spec in (TURNS, TASKS, TASK_DEPENDENCIES, TASK_SKIPS, REWARDS, POLICIES):
            if rows := self.appended[spec.name]:
                tables[spec.name] = spec.from_tuples(rows)
        return tables

    def merge_run(self, run_id: str, at: datetime, **columns: Any) -> None:
        row = self.runs.get(run_id)
        if row is None:
            self.runs[run_id] = {"run_id": run_id, "day": day_of(at), **columns}
            return
        status = columns.pop("status")
        if status not in _RUN_PROGRESS and row["status"] not in _RUN_PROGRESS:
            columns = {name: value for name, value in columns.items() if name not in RUN_END_COLUMNS}
        elif _RUN_PROGRESS.get(row["status"], 2) < _RUN_PROGRESS.get(status, 2):
            row["status"] = status
        _keep_first(row, columns)


def _keep_first(row: dict[str, Any], columns: dict[str, Any]) -> None:
    for name, value in columns.items():
        if value is not None and row.get(name) is None:
            row[name] = value


def _run_requested(rows: DerivedRows, event: RunRequested) -> None:
    rows.merge_run(
        event.run_id,
        event.occurred_at,
        status="requested",
        requested_at=event.occurred_at,
        query=event.query if event.query is not None else event.plan_text,
        plan_format=event.plan.format if event.plan is not None else None,
        expected_answer=event.expected_answer,
        labels=json_bytes(event.labels) if event.labels else None,
    )


def _run_rejected(rows: DerivedRows, event: RunRejected) -> None:
    rows.merge_run(
        event.run_id, event.occurred_at, status="rejected", finished_at=event.occurred_at, reason=event.reason
    )


def _run_planned(rows: DerivedRows, event: RunPlanned) -> None:
    rows.merge_run(
        event.run_id,
        event.occurred_at,
        status="planned",
        planned_at=event.occurred_at,
        strategy=event.strategy,
        deadline_at=event.deadline_at,
        policy_version=event.policy_version,
        plan_format=event.plan.format,
        tasks=len(event.plan.tasks),
        critical_path=list(event.critical_path),
    )
    level_of = {task_id: level for level, task_ids in enumerate(event.levels) for task_id in task_ids}
    critical = set(event.critical_path)
    day = day_of(event.occurred_at)
    for position, task in enumerate(event.plan.tasks):
        rows.appended[TASKS.name].append(
            (
                event.run_id,
                task.id,
                position,
                task.tool,
                task.description,
                level_of.get(task.id),
                task.id in critical,
                day,
            )
        )
        rows.appended[TASK_DEPENDENCIES.name].extend((event.run_id, task.id, dep, day) for dep in task.deps)


def _run_replanned(rows: DerivedRows, event: RunReplanned) -> None:
    # The sub-plan's tasks join the run's tasks, and the tasks that needed the replaced one now need its stand-in
    # (the edge to the replaced task stays: the rows are append-only, and the event in `events` tells the rest).
    level_of = {task_id: level for level, task_ids in enumerate(event.levels) for task_id in task_ids}
    critical = set(event.critical_path)
    added = set(event.added)
    day = day_of(event.occurred_at)
    for position, task in enumerate(event.plan.tasks):
        if task.id in added:
            rows.appended[TASKS.name].append(
                (event.run_id, task.id, position, task.tool, task.description, level_of.get(task.id),
                 task.id in critical, day)
            )  # fmt: skip
            rows.appended[TASK_DEPENDENCIES.name].extend((event.run_id, task.id, dep, day) for dep in task.deps)
        elif event.stands_in in task.deps:
            rows.appended[TASK_DEPENDENCIES.name].append((event.run_id, task.id, event.stands_in, day))


def _task_ready(rows: DerivedRows, event: TaskReady) -> None:
    rows.task_dispatches.setdefault(
        (event.run_id, event.task_id, event.attempt),
        (
            event.run_id,
            event.task_id,
            event.attempt,
            event.tool,
            event.occurred_at,
            event.timeout_s,
            day_of(event.occurred_at),
        ),
    )


def _task_finished(rows: DerivedRows, event: TaskFinished) -> None:
    latency_s = None
    if event.started_at is not None and event.finished_at is not None:
        latency_s = (event.finished_at - event.started_at).total_seconds()
    # The first report of an attempt's end decides it: a second one (an executor that ran the attempt again
    # after a crash) is not applied.
    rows.task_ends.setdefault(
        (event.run_id, event.task_id, event.attempt),
        (
            event.run_id,
            event.task_id,
            event.attempt,
            event.status,
            event.error,
            event.retryable,
            event.started_at,
            event.finished_at,
            latency_s,
            event.executor or None,
            event.input_tokens,
            event.output_tokens,
            json_bytes(event.result) if event.status == "ok" else None,
            day_of(event.occurred_at),
        ),
    )


def _task_skipped(rows: DerivedRows, event: TaskSkipped) -> None:
    rows.appended[TASK_SKIPS.name].append(
        (event.run_id, event.task_id, event.reason, event.occurred_at, day_of(event.occurred_at))
    )


def _turn_recorded(rows: DerivedRows, event: TurnRecorded) -> None:
    rows.appended[TURNS.name].append(
        (
            event.event_id,
            event.run_id,
            event.task_id,
            event.attempt,
            event.operation,
            event.tool_name,
            event.model,
            event.input_tokens,
            event.output_tokens,
            event.arguments,
            event.output,
            event.arguments_bytes,
            event.output_bytes,
            event.started_at,
            event.latency_s,
            event.status,
            event.error,
            event.executor or None,
            day_of(event.started_at or event.occurred_at),
            *rows.trace,
        )
    )


def _run_finished(rows: DerivedRows, event: RunFinished) -> None:
    metrics = event.metrics
    rows.merge_run(
        event.run_id,
        event.occurred_at,
        status=event.status,
        finished_at=event.occurred_at,
        strategy=event.strategy,
        tasks=metrics.tasks,
        attempts=metrics.attempts,
        makespan_s=metrics.makespan_s,
        sequential_s=metrics.sequential_s,
        critical_path_s=metrics.critical_path_s,
        speedup=metrics.speedup,
        turns=metrics.turns,
        tool_errors=metrics.tool_errors,
        tokens=metrics.tokens,
        answer=json_bytes(event.answer),
        expected_answer=event.expected_answer,
        reason=event.reason,
        labels=json_bytes(event.labels) if event.labels else None,
    )


def _reward_assigned(rows: DerivedRows, event: RewardAssigned) -> None:
    rows.appended[REWARDS.name].append(
        (
            event.event_id,
            event.run_id,
            event.reward,
            json_bytes(event.components),
            event.rollout_id or None,
            event.occurred_at,
            event.source,
            day_of(event.occurred_at),
        )
    )


def _policy_updated(rows: DerivedRows, event: PolicyUpdated) -> None:
    policy = event.policy
    rows.appended[POLICIES.name].append(
        (
            event.event_id,
            policy.version,
            policy.max_parallelism,
            policy.gap_threshold,
            policy.max_attempts,
            policy.prompt_template,
            event.reason,
            event.mean_reward,
            event.occurred_at,
            event.source,
            day_of(event.occurred_at),
        )
    )


_MAPPERS: dict[type, Callable[[DerivedRows, Any], None]] = {
    RunRequested: _run_requested,
    RunRejected: _run_rejected,
    RunPlanned: _run_planned,
    RunReplanned: _run_replanned,
    TaskReady: _task_ready,
    TaskFinished: _task_finished,
    TaskSkipped: _task_skipped,
    TurnRecorded: _turn_recorded,
    RunFinished: _run_finished,
    RewardAssigned: _reward_assigned,
    PolicyUpdated: _policy_updated,
}
