"""Helpers for driving RunState in tests: a fixed clock origin, counting ids, and result events."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from schemas import Event, Plan, Policy, RunRequested, TaskFinished, TaskReady
from services.planner.core.parse import parse_plan
from services.planner.core.run import RunState
from services.planner.core.scheduling import ExecutionStrategy, SchedulingConfig

DEFAULT_POLICY = Policy()
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
# start_timeout_s equals the task timeout: an attempt no executor reports starting expires when a silent one would.
CONFIG = SchedulingConfig(
    task_timeout_s=10.0,
    start_timeout_s=10.0,
    lease_grace_s=2.0,
    backoff_base_s=1.0,
    backoff_max_s=8.0,
    default_deadline_s=300.0,
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def counting_ids(prefix: str = "e") -> Any:
    serial = itertools.count()
    return lambda: f"{prefix}{next(serial)}"


def start(
    plan: Plan | str,
    *,
    policy: Policy = DEFAULT_POLICY,
    strategy: ExecutionStrategy = "parallel",
    config: SchedulingConfig = CONFIG,
    deadline_s: float | None = None,
    expected_answer: str | None = None,
    labels: dict[str, str] | None = None,
    planning_tokens: int = 0,
) -> tuple[RunState, list[Event]]:
    plan = parse_plan(plan) if isinstance(plan, str) else plan
    request = RunRequested(
        run_id="run-1", plan=plan, deadline_s=deadline_s, expected_answer=expected_answer, labels=labels or {}
    )
    return RunState.begin(
        request,
        plan,
        policy=policy,
        strategy=strategy,
        config=config,
        now=T0,
        new_id=counting_ids(),
        planning_tokens=planning_tokens,
    )


def dispatched(events: Iterable[Event]) -> list[str]:
    return [event.task_id for event in events if isinstance(event, TaskReady)]


def of_type(events: Iterable[Event], event_type: type) -> list:
    return [event for event in events if isinstance(event, event_type)]


def ok(
    task_id: str, *, started_s: float, finished_s: float, result: Any = None, attempt: int = 1, **extra
) -> TaskFinished:
    return TaskFinished(
        run_id="run-1",
        task_id=task_id,
        attempt=attempt,
        status="ok",
        result=f"result of {task_id}" if result is None else result,
        started_at=at(started_s),
        finished_at=at(finished_s),
        occurred_at=at(finished_s),
        **extra,
    )


def error(
    task_id: str, *, at_s: float, attempt: int = 1, retryable: bool = True, message: str = "boom"
) -> TaskFinished:
    return TaskFinished(
        run_id="run-1",
        task_id=task_id,
        attempt=attempt,
        status="error",
        error=message,
        retryable=retryable,
        started_at=at(at_s),
        finished_at=at(at_s),
        occurred_at=at(at_s),
    )


@st.composite
def random_dags(draw: st.DrawFn) -> dict[str, tuple[str, ...]]:
    """Task id -> dependencies for an acyclic graph of 1-12 tasks, written in a random (not topological) order."""
    count = draw(st.integers(1, 12))
    ids = [f"t{n}" for n in draw(st.permutations(range(count)))]
    edges = {
        task_id: tuple(draw(st.lists(st.sampled_from(ids[:position]), unique=True)) if position else ())
        for position, task_id in enumerate(ids)
    }
    return {task_id: edges[task_id] for task_id in draw(st.permutations(ids))}


# For property tests over misbehaving executors: short timeouts and backoffs, a deadline that never interferes.
PROPERTY_CONFIG = SchedulingConfig(
    task_timeout_s=10, lease_grace_s=1, backoff_base_s=1, backoff_max_s=4, default_deadline_s=10_000
)
# What an executor does with one attempt: answer, fail (retryable or not), go silent, or answer twice.
BEHAVIOURS = ["ok", "ok", "ok", "error", "fatal", "silent", "twice"]


def executor_results(
    ready: TaskReady, behaviour: str, *, now: datetime, done_at: datetime, result: str
) -> list[TaskFinished]:
    """What an executor that behaves as ``behaviour`` (one of BEHAVIOURS) publishes for ``ready``: nothing when
    silent, the result twice when it answers twice."""
    if behaviour == "silent":
        return []
    finished = TaskFinished(
        run_id=ready.run_id,
        task_id=ready.task_id,
        attempt=ready.attempt,
        occurred_at=done_at,
        status="ok" if behaviour in ("ok", "twice") else "error",
        result=result,
        error=None if behaviour in ("ok", "twice") else "boom",
        retryable=behaviour != "fatal",
        started_at=now,
        finished_at=done_at,
    )
    return [finished] * (2 if behaviour == "twice" else 1)
