"""The GAP benchmark's plans and peers: seeded shapes and latencies, and each mode running tasks as it claims."""

from __future__ import annotations

import itertools
import statistics

import pytest

from services.bench.gap import SYSTEM_MODES, executor_slots, summarise
from services.bench.peers import SEQUENTIAL, PlanTiming, in_process_modes, run_all
from services.bench.workloads import WORKLOADS, BenchPlan, Latency, as_seed_plan, bench_plans
from services.executor.settings import ExecutorSettings

SCALE = 0.004  # a lookup of 4 ms: the tests check order, not speed


def ends(timing: PlanTiming) -> dict[str, float]:
    return {span.task_id: span.end_s for span in timing.spans}


def starts(timing: PlanTiming) -> dict[str, float]:
    return {span.task_id: span.start_s for span in timing.spans}


def test_same_seed_gives_the_same_plans_and_latencies_when_generated_twice() -> None:
    for workload in WORKLOADS:
        first = bench_plans(workload, 5, cv=1.0, scale=1.0, seed=3)
        assert first == bench_plans(workload, 5, cv=1.0, scale=1.0, seed=3)
        assert first != bench_plans(workload, 5, cv=1.0, scale=1.0, seed=4)


def test_workload_shapes_match_their_benchmarks_when_generated() -> None:
    [movie] = bench_plans("movie-recommendation-8", 1, cv=0, scale=1.0, seed=1)
    assert [len(level) for level in movie.levels()] == [8, 1]
    [hotpot] = bench_plans("hotpotqa-comparison", 1, cv=0, scale=1.0, seed=1)
    assert [len(level) for level in hotpot.levels()] == [2, 1]
    for plan in bench_plans("parallelqa", 50, cv=0.5, scale=1.0, seed=1):
        roots = len(plan.levels()[0])
        assert 2 <= roots <= 5 and len(plan.levels()[-1]) == 1
    for plan in bench_plans("taskbench-dag", 50, cv=0.5, scale=1.0, seed=1):
        seen: set[str] = set()
        for task in plan.tasks:  # dependencies come first: a DAG by construction
            assert set(task.deps) <= seen
            seen.add(task.id)
        assert len(plan.levels()[-1]) == 1  # one sink


def test_latencies_keep_their_mean_and_spread_when_the_cv_changes() -> None:
    import random

    assert {Latency(random.Random(1), 0.0, 1.0)("lookup") for _ in range(10)} == {1.0}
    latency = Latency(random.Random(2), 1.0, 1.0)
    samples = [latency("lookup") for _ in range(20_000)]
    assert statistics.mean(samples) == pytest.approx(1.0, rel=0.05)
    assert statistics.stdev(samples) / statistics.mean(samples) == pytest.approx(1.0, rel=0.15)


def test_seed_plan_text_names_each_task_and_its_dependencies() -> None:
    [plan] = bench_plans("hotpotqa-comparison", 1, cv=0, scale=1.0, seed=1)
    assert as_seed_plan(plan).splitlines() == [
        "Task 1: sleep(seconds=1.0) | Dependencies: none",
        "Task 2: sleep(seconds=1.0) | Dependencies: none",
        "Task 3: sleep(seconds=0.2) | Dependencies: Task 1, Task 2",
    ]


@pytest.mark.parametrize("mode", list(in_process_modes(with_langgraph=True)))
async def test_every_mode_starts_a_task_only_after_its_dependencies_end_when_plans_run_together(mode: str) -> None:
    runner = in_process_modes(with_langgraph=True)[mode]
    plans = bench_plans("taskbench-dag", 6, cv=1.0, scale=SCALE, seed=5)
    for timing in await run_all(runner, plans):
        assert {span.task_id for span in timing.spans} == {task.id for task in timing.plan.tasks}
        finished, started = ends(timing), starts(timing)
        for task in timing.plan.tasks:
            assert all(started[task.id] >= finished[dep] for dep in task.deps), (mode, task)
        assert timing.makespan_s >= timing.plan.critical_path_s()


async def test_sequential_runs_one_task_at_a_time_and_the_barrier_waits_for_whole_levels() -> None:
    modes = in_process_modes(with_langgraph=False)
    [plan] = bench_plans("parallelqa", 1, cv=1.0, scale=SCALE, seed=2)
    [sequential] = await run_all(modes[SEQUENTIAL], [plan])
    spans = sorted(sequential.spans, key=lambda span: span.start_s)
    assert all(later.start_s >= earlier.end_s for earlier, later in itertools.pairwise(spans))
    [barrier] = await run_all(modes["level barrier"], [plan])
    finished, started = ends(barrier), starts(barrier)
    levels = plan.levels()
    for level, following in itertools.pairwise(levels):
        assert min(started[task] for task in following) >= max(finished[task] for task in level)


def test_speedups_are_against_the_measured_sequential_mode_when_summarised() -> None:
    plans: list[BenchPlan] = bench_plans("hotpotqa-comparison", 2, cv=0, scale=1.0, seed=1)
    system = SYSTEM_MODES["exactly_once"]
    results = summarise("hotpotqa-comparison", 0.0, {SEQUENTIAL: [2.4, 2.4], system: [1.2, 1.25]}, plans)
    by_mode = {result.mode: result for result in results}
    assert by_mode[SEQUENTIAL].speedup == 1.0
    assert by_mode[system].speedup == pytest.approx(2.4 / 1.225)
    assert by_mode[system].efficiency == pytest.approx((1.2 / 1.2 + 1.2 / 1.25) / 2)


def test_every_task_of_a_batch_has_an_executor_slot_when_the_widest_batch_is_larger_than_the_default() -> None:
    batches = [bench_plans("movie-recommendation-8", 32, cv=0.0, scale=0.25, seed=7)]
    batches.append(bench_plans("hotpotqa-comparison", 32, cv=0.0, scale=0.25, seed=7))
    assert executor_slots(batches) == 32 * 9  # 8 lookups and a join per plan
    assert executor_slots([batches[1][:2]]) == ExecutorSettings().concurrency  # never below the default
