"""Makespan of a plan whose task durations are known, with unlimited workers and no tool failures.

``barrier=False`` drives the real RunState (each TaskReady finishes ``durations[task]`` seconds of simulated time
later), so it measures the dispatcher the services run. ``barrier=True`` is the GAP paper's execution: a level
starts when the whole previous level is done, so each level costs its slowest task.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from schemas.events import RunFinished, RunRequested, TaskFinished, TaskReady
from schemas.plan import Plan
from schemas.policy import Policy
from services.planner.core.dag import Dag
from services.planner.core.run import RunState
from services.planner.core.scheduling import ExecutionStrategy, SchedulingConfig

SIMULATION_START = datetime(2000, 1, 1, tzinfo=UTC)
UNCAPPED = Policy(max_parallelism=0)


def simulate(plan: Plan, durations: Mapping[str, float], *, barrier: bool) -> float:
    """The makespan in seconds (tasks missing from ``durations`` take no time)."""
    if barrier:
        return float(
            sum(max(durations.get(task_id, 0.0) for task_id in level) for level in Dag.from_plan(plan).levels())
        )
    return simulate_run(plan, durations).metrics.makespan_s


def simulate_run(
    plan: Plan,
    durations: Mapping[str, float],
    *,
    policy: Policy = UNCAPPED,
    strategy: ExecutionStrategy = "parallel",
) -> RunFinished:
    """The RunFinished the real state machine publishes when every task succeeds after its duration."""
    # Generous enough that no lease or deadline can fire: the simulation measures dispatch, not failure handling.
    horizon_s = 1.0 + sum(durations.values())
    config = SchedulingConfig(task_timeout_s=horizon_s, default_deadline_s=10 * horizon_s)
    serial = itertools.count()
    state, events = RunState.begin(
        RunRequested(run_id="simulated", plan=plan),
        plan,
        policy=policy,
        strategy=strategy,
        config=config,
        now=SIMULATION_START,
        new_id=lambda: f"simulated-{next(serial)}",
    )
    in_flight: list[tuple[datetime, int, TaskFinished]] = []

    def start(dispatched: list, now: datetime) -> None:
        for event in dispatched:
            if isinstance(event, TaskReady):
                done_at = now + timedelta(seconds=durations.get(event.task_id, 0.0))
                result = TaskFinished(
                    run_id=state.run_id,
                    occurred_at=done_at,
                    task_id=event.task_id,
                    attempt=event.attempt,
                    status="ok",
                    result=f"result of {event.task_id}",
                    started_at=now,
                    finished_at=done_at,
                )
                heapq.heappush(in_flight, (done_at, next(serial), result))

    start(events, SIMULATION_START)
    while not state.finished:
        done_at, _, result = heapq.heappop(in_flight)
        start(state.on_task_finished(result, done_at), done_at)
    assert state.outcome is not None
    return state.outcome
