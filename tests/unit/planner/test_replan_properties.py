"""Properties of re-planning on random DAGs: whatever fails and whatever the model answers (a sub-plan, nothing, or
too late), tasks run only after what they need, the run always finishes, and its journal replays to the same state."""

from __future__ import annotations

import heapq
import itertools
from datetime import timedelta

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_for_statistics
from hypothesis import strategies as st

from schemas import Plan, Policy, RunReplanned, Task, TaskFinished, TaskReady
from services.planner.core.journal import ReplanRequested, decode_journal, encode_journal
from services.planner.core.run import RunState
from tests.unit.planner.runs import CONFIG, T0, random_dags, start

# What the model answers when asked for a sub-plan: one task, a chain of two, nothing, or after the timeout.
ANSWERS = ["one", "chain", "none", "late"]
FIRST = Task(id="a", tool="sleep")
SUBPLANS = {
    "one": Plan(tasks=(FIRST,)),
    "chain": Plan(tasks=(FIRST, Task(id="b", tool="sleep", args={"after": {"$ref": "a"}}, deps=("a",)))),
}
REPLAN_TIMEOUT_S = 5


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edges=random_dags(), max_replans=st.integers(0, 3), data=st.data())
def test_tasks_wait_for_what_they_need_and_the_run_finishes_and_replays_when_failed_tasks_are_replanned(
    edges, max_replans, data
) -> None:
    plan = Plan(
        tasks=tuple(
            Task(id=task_id, tool="sleep", args={"after": [{"$ref": dep} for dep in deps]}, deps=deps)
            for task_id, deps in edges.items()
        )
    )
    config = msgspec.structs.replace(CONFIG, max_replans=max_replans, replan_timeout_s=REPLAN_TIMEOUT_S)
    state, emitted = start(plan, policy=Policy(max_attempts=1), config=config)
    original_deps = dict(edges)
    serial = itertools.count()
    agenda: list = []  # (when, serial, what, payload)
    now = T0

    def react(events: list) -> None:
        for event in events:
            if isinstance(event, TaskReady):
                deps = state.plan.task(event.task_id).deps
                assert all(state.tasks[dep].status == "succeeded" for dep in deps)
                if event.task_id in original_deps:  # its argument references follow its (maybe rewired) deps
                    assert event.args == {"after": [state.tasks[dep].result for dep in deps]}
                done = event.occurred_at + timedelta(seconds=data.draw(st.integers(0, 3)))
                heapq.heappush(agenda, (done, next(serial), "result", event))
            elif isinstance(event, ReplanRequested):
                answer = data.draw(st.sampled_from(ANSWERS))
                delay = REPLAN_TIMEOUT_S + 1 if answer == "late" else data.draw(st.integers(0, REPLAN_TIMEOUT_S - 1))
                heapq.heappush(agenda, (event.occurred_at + timedelta(seconds=delay), next(serial), answer, event))

    react(emitted)
    for _ in range(2000):
        if state.finished:
            break
        wakeup = state.next_wakeup()
        if agenda and (wakeup is None or agenda[0][0] <= wakeup):
            now, _, what, event = heapq.heappop(agenda)
            if what == "result":
                succeeded = data.draw(st.booleans())
                result = TaskFinished(
                    run_id=state.run_id,
                    task_id=event.task_id,
                    attempt=event.attempt,
                    occurred_at=now,
                    status="ok" if succeeded else "error",
                    result=f"{event.task_id}!",
                    error=None if succeeded else "boom",
                    retryable=False,
                    started_at=event.occurred_at,
                    finished_at=now,
                )
                react(state.on_task_finished(result, now))
            else:
                subplan = SUBPLANS.get(what)
                react(state.on_replan(event.task_id, subplan, None if subplan else "no sub-plan", now))
        else:
            assert wakeup is not None, "a run that is not finished must have something to wait for"
            now = wakeup
            react(state.on_tick(now))
    assert state.finished
    note_for_statistics(f"re-planned {sum(isinstance(fact, RunReplanned) for fact in state.history)} times")
    requests = [event for event in state.history if isinstance(event, ReplanRequested)]
    assert len(requests) <= max_replans
    added = [task_id for event in state.history if isinstance(event, RunReplanned) for task_id in event.added]
    assert len(added) == len(set(added)) and set(added) == set(state.tasks) - set(edges)
    assert RunState.replay(decode_journal(encode_journal(state.history))) == state
