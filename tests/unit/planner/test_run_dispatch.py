"""Dispatching: as soon as ready (not level by level), argument substitution, the parallelism cap, sequential runs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import Plan, Policy, RunFinished, RunPlanned, Task, TaskReady
from services.planner.core.dag import Dag
from services.planner.core.journal import RunConfigured
from services.planner.core.parse import parse_plan
from services.planner.core.run import choose_strategy
from services.planner.core.simulate import simulate, simulate_run
from tests.unit.planner.runs import T0, at, dispatched, of_type, ok, random_dags, start

# Two independent chains: a slow head with a fast tail, and a fast head with a slow tail. A level barrier makes the
# slow tail wait for the slow head (it is on the same level) although it only needs the fast head.
CROSSED = """<plan>
Task 1: sleep(seconds=5) | Dependencies: none
Task 2: sleep(seconds=1) | Dependencies: none
Task 3: sleep(seconds=1) | Dependencies: Task 1
Task 4: sleep(seconds=5) | Dependencies: Task 2
</plan>"""
CROSSED_PLAN = parse_plan(CROSSED)
CROSSED_DURATIONS = {"1": 5.0, "2": 1.0, "3": 1.0, "4": 5.0}


def test_run_begins_with_its_plan_and_the_root_tasks_when_started() -> None:
    state, events = start(CROSSED, deadline_s=60, expected_answer="6", labels={"suite": "unit"})
    planned, configured = events[0], events[1]
    assert isinstance(planned, RunPlanned) and isinstance(configured, RunConfigured)
    assert planned.levels == [["1", "2"], ["3", "4"]]
    assert planned.critical_path == ["1", "3"]
    assert planned.deadline_at == at(60)
    assert (configured.expected_answer, configured.labels) == ("6", {"suite": "unit"})
    assert dispatched(events) == ["1", "2"]
    assert all(event.occurred_at == T0 and event.run_id == "run-1" for event in events)
    assert state.next_wakeup() == at(12)  # the first lease: start within 10 s + grace 2 s


def test_task_is_dispatched_as_soon_as_its_own_dependencies_are_done_when_its_level_is_not() -> None:
    state, _ = start(CROSSED)
    assert dispatched(state.on_task_finished(ok("2", started_s=0, finished_s=1), at(1))) == ["4"]
    assert dispatched(state.on_task_finished(ok("1", started_s=0, finished_s=5), at(5))) == ["3"]


def test_as_soon_as_ready_dispatch_beats_a_level_barrier_when_levels_mix_slow_and_fast_tasks() -> None:
    assert simulate(CROSSED_PLAN, CROSSED_DURATIONS, barrier=True) == 10.0
    assert simulate(CROSSED_PLAN, CROSSED_DURATIONS, barrier=False) == 6.0


@given(random_dags(), st.data())
def test_makespan_equals_critical_path_time_and_never_exceeds_the_barrier_when_workers_are_unlimited(
    edges, data
) -> None:
    plan = Plan(tasks=tuple(Task(id=task_id, tool="sleep", deps=deps) for task_id, deps in edges.items()))
    durations = {task_id: float(data.draw(st.integers(1, 9))) for task_id in edges}
    makespan = simulate(plan, durations, barrier=False)
    assert makespan == Dag.from_plan(plan).critical_path_time(durations)
    assert makespan <= simulate(plan, durations, barrier=True)


def test_dependency_results_are_substituted_into_arguments_when_a_task_is_dispatched() -> None:
    state, _ = start(
        """Task 1: kb_search(query="population of France") | Dependencies: none
Task 2: kb_search(query="population of Germany") | Dependencies: none
Task 3: calculator(expression="$1 / $2", raw=$1) | Dependencies: Task 1, Task 2
Task 4: Explain what the ratio $3 means (costs $5) | Dependencies: Task 3"""
    )
    state.on_task_finished(ok("1", started_s=0, finished_s=1, result=68000000.0), at(1))
    [ready] = of_type(state.on_task_finished(ok("2", started_s=0, finished_s=1, result=84000000), at(1)), TaskReady)
    assert (ready.tool, ready.args) == ("calculator", {"expression": "68000000 / 84000000", "raw": 68000000.0})
    [llm] = of_type(state.on_task_finished(ok("3", started_s=1, finished_s=2, result=0.81), at(2)), TaskReady)
    assert llm.tool == "llm"
    assert llm.args == {"prompt": "Explain what the ratio $3 means (costs $5)", "context": {"3": 0.81}}


FOUR_ROOTS = """T1: sleep(seconds=1) - Dependencies: none
T2: sleep(seconds=1) - Dependencies: none
T3: sleep(seconds=1) - Dependencies: none
T4: sleep(seconds=1) - Dependencies: T3
T5: sleep(seconds=1) - Dependencies: none"""


def test_at_most_the_cap_is_in_progress_when_max_parallelism_is_set() -> None:
    state, events = start(FOUR_ROOTS, policy=Policy(max_parallelism=2))
    # T3 heads the longest chain, so it goes first; then the earliest written.
    assert dispatched(events) == ["T3", "T1"]
    assert dispatched(state.on_task_finished(ok("T1", started_s=0, finished_s=1), at(1))) == ["T2"]
    assert dispatched(state.on_task_finished(ok("T3", started_s=0, finished_s=1), at(1))) == ["T4"]


def test_tasks_run_one_at_a_time_in_canonical_order_when_the_strategy_is_sequential() -> None:
    state, events = start(FOUR_ROOTS, strategy="sequential")
    order = dispatched(events)
    for second in range(1, 6):
        order += dispatched(state.on_task_finished(ok(order[-1], started_s=second - 1, finished_s=second), at(second)))
    assert order == state.dag.canonical_order() == ["T1", "T2", "T3", "T4", "T5"]
    assert state.outcome is not None and state.outcome.metrics.speedup == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("tasks", "requested", "strategy"),
    [(2, "auto", "sequential"), (3, "auto", "parallel"), (2, "parallel", "parallel"), (9, "sequential", "sequential")],
)
def test_strategy_follows_the_gap_threshold_when_auto_and_the_request_otherwise(tasks, requested, strategy) -> None:
    plan = Plan(tasks=tuple(Task(id=str(n), tool="sleep") for n in range(tasks)))
    assert choose_strategy(plan, Policy(gap_threshold=3), requested) == strategy


def test_run_succeeds_with_answer_observations_and_metrics_when_every_task_succeeds() -> None:
    finished = simulate_run(CROSSED_PLAN, CROSSED_DURATIONS)
    assert isinstance(finished, RunFinished)
    assert finished.status == "succeeded" and finished.reason is None
    assert finished.answer == {"3": "result of 3", "4": "result of 4"}
    assert list(finished.observations) == ["1", "2"]  # the final tasks' results travel once, in the answer
    metrics = finished.metrics
    assert (metrics.makespan_s, metrics.sequential_s, metrics.critical_path_s) == (6.0, 12.0, 6.0)
    assert (metrics.speedup, metrics.turns, metrics.tasks, metrics.attempts, metrics.tool_errors) == (2.0, 4, 4, 4, 0)


def test_answer_is_the_single_sink_result_when_the_plan_has_one_final_task() -> None:
    state, _ = start(
        "Task 1: sleep(seconds=1) | Dependencies: none\nTask 2: sleep(seconds=1) | Dependencies: Task 1",
        expected_answer="done",
        labels={"k": "v"},
    )
    state.on_task_finished(ok("1", started_s=0, finished_s=1, input_tokens=10, output_tokens=5), at(1))
    [finished] = of_type(state.on_task_finished(ok("2", started_s=1, finished_s=3, result=42), at(3)), RunFinished)
    assert (finished.answer, finished.expected_answer, finished.labels, finished.strategy) == (
        42,
        "done",
        {"k": "v"},
        "parallel",
    )
    assert finished.metrics.tokens == 15
    assert state.finished and state.next_wakeup() is None and state.on_tick(at(999)) == []
