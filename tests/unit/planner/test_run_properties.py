"""Properties of the run state machine on random DAGs with random executor behaviour, graphlib as the oracle."""

from __future__ import annotations

import heapq
import itertools
from datetime import datetime, timedelta
from graphlib import TopologicalSorter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import Plan, Policy, Task, TaskFinished, TaskReady
from services.planner.core.run import RunState
from tests.unit.planner.runs import BEHAVIOURS, PROPERTY_CONFIG, T0, executor_results, random_dags, start


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edges=random_dags(),
    max_attempts=st.integers(1, 3),
    max_parallelism=st.integers(0, 3),
    strategy=st.sampled_from(["parallel", "sequential"]),
    deadline_s=st.one_of(st.none(), st.integers(5, 120)),
    data=st.data(),
)
def test_each_attempt_is_dispatched_once_after_its_dependencies_and_the_run_always_finishes_when_executors_misbehave(
    edges, max_attempts, max_parallelism, strategy, deadline_s, data
) -> None:
    plan = Plan(
        tasks=tuple(
            Task(id=task_id, tool="sleep", args={"after": [{"$ref": dep} for dep in deps]}, deps=deps)
            for task_id, deps in edges.items()
        )
    )
    policy = Policy(max_attempts=max_attempts, max_parallelism=max_parallelism)
    state, events = start(plan, policy=policy, strategy=strategy, config=PROPERTY_CONFIG, deadline_s=deadline_s)
    journal = list(events[:2])  # handle() journals the rest
    cap = 1 if strategy == "sequential" else (max_parallelism or len(edges))
    dispatched: set[tuple[str, int]] = set()
    answered: set[str] = set()  # tasks for which an executor delivered a success
    results: list[tuple[datetime, int, TaskFinished]] = []
    serial = itertools.count()
    oracle = TopologicalSorter(edges)
    oracle.prepare()
    unlocked = set(oracle.get_ready())

    def handle(emitted: list, now: datetime) -> None:
        journal.extend(emitted)
        for event in emitted:
            if not isinstance(event, TaskReady):
                continue
            assert (event.task_id, event.attempt) not in dispatched
            assert event.attempt == 1 or (event.task_id, event.attempt - 1) in dispatched
            assert event.task_id in unlocked and all(dep in answered for dep in edges[event.task_id])
            assert event.args == {"after": [state.tasks[dep].result for dep in edges[event.task_id]]}
            dispatched.add((event.task_id, event.attempt))
            behaviour = data.draw(st.sampled_from(BEHAVIOURS))
            done_at = now + timedelta(seconds=data.draw(st.integers(0, 14)))
            result = f"{event.task_id}@{event.attempt}"
            for finished in executor_results(event, behaviour, now=now, done_at=done_at, result=result):
                heapq.heappush(results, (done_at, next(serial), finished))
        in_progress = sum(progress.status in ("running", "retrying") for progress in state.tasks.values())
        assert in_progress <= cap
        assert_indexes_agree_with_a_full_scan(state)

    now = T0
    handle(events[2:], now)
    for _ in range(1000):
        if state.finished:
            break
        wakeup = state.next_wakeup()
        assert wakeup is not None and wakeup >= now
        if results and results[0][0] <= wakeup:
            now, _, result = heapq.heappop(results)
            was_settled = state.tasks[result.task_id].status in ("succeeded", "failed", "skipped")
            journal.append(result)
            emitted = state.on_task_finished(result, now)
            if result.status == "ok" and not was_settled and state.tasks[result.task_id].status == "succeeded":
                answered.add(result.task_id)
                oracle.done(result.task_id)
                unlocked |= set(oracle.get_ready())
            handle(emitted, now)
        else:
            now = wakeup
            handle(state.on_tick(now), now)
    assert state.finished and state.outcome is not None
    outcome = state.outcome
    failed = {task_id for task_id, progress in state.tasks.items() if progress.status == "failed"}
    # Every result travels once: the final tasks' in the answer, the others' in the observations.
    sinks = state.dag.sinks()
    in_answer = set(sinks) & answered if len(sinks) == 1 else set(outcome.answer)
    assert not set(outcome.observations) & in_answer
    assert set(outcome.observations) | in_answer == answered
    assert set(outcome.observations) | in_answer | set(outcome.skipped) | failed == set(edges)
    assert outcome.metrics.attempts == len(dispatched)
    assert RunState.replay(journal) == state
    assert_indexes_agree_with_a_full_scan(RunState.replay(journal))


def assert_indexes_agree_with_a_full_scan(state: RunState) -> None:
    """The run's incremental indexes (tasks by status, pending tasks whose dependencies all succeeded) say what a
    scan of every task says."""
    for status, indexed in state._by_status.items():
        assert indexed == {task_id for task_id, progress in state.tasks.items() if progress.status == status}
    assert state._ready == {
        task_id
        for task_id, progress in state.tasks.items()
        if progress.status == "pending"
        and all(state.tasks[dep].status == "succeeded" for dep in state.dag.deps[task_id])
    }
