"""Benchmark plans: DAGs shaped like the sets agent planners are measured on, with seeded tool latencies.

- HotpotQA comparison (LLMCompiler): two independent lookups, then one comparison.
- Movie recommendation (LLMCompiler): eight lookups in parallel, then one join.
- ParallelQA (LLMCompiler): 2-5 branches of lookup -> (a follow-up lookup) -> arithmetic, then one aggregate.
- TaskBench-shaped random DAGs: 4-10 tool nodes, each depending on 0-2 earlier nodes, one sink.

Latencies are log-normal with a given mean per tool kind and a coefficient of variation (CV): CV 0 is every call
the same, CV 1 a long tail. One seed gives the same plans and the same latencies to every mode.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping

import msgspec

LOOKUP_MEAN_S = 1.0
ARITHMETIC_MEAN_S = 0.2


class BenchTask(msgspec.Struct, frozen=True):
    id: str
    kind: str  # "lookup" or "arithmetic": what the latency stands for
    deps: tuple[str, ...]
    seconds: float


class BenchPlan(msgspec.Struct, frozen=True):
    workload: str
    number: int
    tasks: tuple[BenchTask, ...]

    def durations(self) -> dict[str, float]:
        return {task.id: task.seconds for task in self.tasks}

    def critical_path_s(self) -> float:
        finish: dict[str, float] = {}
        for task in self.tasks:  # tasks are listed after their dependencies
            finish[task.id] = task.seconds + max((finish[dep] for dep in task.deps), default=0.0)
        return max(finish.values())

    def sequential_s(self) -> float:
        return sum(task.seconds for task in self.tasks)

    def levels(self) -> list[list[str]]:
        level: dict[str, int] = {}
        for task in self.tasks:
            level[task.id] = 1 + max((level[dep] for dep in task.deps), default=-1)
        grouped: dict[int, list[str]] = {}
        for task_id, depth in level.items():
            grouped.setdefault(depth, []).append(task_id)
        return [grouped[depth] for depth in sorted(grouped)]


class Latency:
    """Log-normal latencies with the given mean per kind and one coefficient of variation."""

    def __init__(self, rng: random.Random, cv: float, scale: float) -> None:
        self._rng = rng
        self._sigma = math.sqrt(math.log(1 + cv * cv))
        self._scale = scale

    def __call__(self, kind: str) -> float:
        mean = (LOOKUP_MEAN_S if kind == "lookup" else ARITHMETIC_MEAN_S) * self._scale
        if self._sigma == 0:
            return round(mean, 4)
        mu = math.log(mean) - self._sigma**2 / 2  # keeps the mean at ``mean`` whatever the spread
        return round(self._rng.lognormvariate(mu, self._sigma), 4)


Shape = list[tuple[str, str, tuple[str, ...]]]  # (id, kind, deps), dependencies first


def hotpotqa_comparison(rng: random.Random) -> Shape:
    return [("1", "lookup", ()), ("2", "lookup", ()), ("3", "arithmetic", ("1", "2"))]


def movie_recommendation(rng: random.Random) -> Shape:
    lookups = [(str(n), "lookup", ()) for n in range(1, 9)]
    return [*lookups, ("9", "arithmetic", tuple(str(n) for n in range(1, 9)))]


def parallelqa(rng: random.Random) -> Shape:
    shape: Shape = []
    ends = []
    for _ in range(rng.randint(2, 5)):
        lookup = str(len(shape) + 1)
        shape.append((lookup, "lookup", ()))
        last = lookup
        if rng.random() < 0.4:  # a follow-up lookup that needs the first one's answer
            follow = str(len(shape) + 1)
            shape.append((follow, "lookup", (last,)))
            last = follow
        math_step = str(len(shape) + 1)
        shape.append((math_step, "arithmetic", (last,)))
        ends.append(math_step)
    shape.append((str(len(shape) + 1), "arithmetic", tuple(ends)))
    return shape


def taskbench_dag(rng: random.Random) -> Shape:
    shape: Shape = []
    for number in range(1, rng.randint(4, 10) + 1):
        earlier = [task_id for task_id, _, _ in shape]
        deps = tuple(sorted(rng.sample(earlier, k=min(len(earlier), rng.choice((0, 1, 1, 2))))))
        shape.append((str(number), rng.choice(("lookup", "lookup", "arithmetic")), deps))
    used = {dep for _, _, deps in shape for dep in deps}
    sinks = tuple(task_id for task_id, _, _ in shape if task_id not in used)
    if len(sinks) > 1:
        shape.append((str(len(shape) + 1), "arithmetic", sinks))
    return shape


WORKLOADS: Mapping[str, Callable[[random.Random], Shape]] = {
    "hotpotqa-comparison": hotpotqa_comparison,
    "movie-recommendation-8": movie_recommendation,
    "parallelqa": parallelqa,
    "taskbench-dag": taskbench_dag,
}


def bench_plans(workload: str, count: int, *, cv: float, scale: float, seed: int) -> list[BenchPlan]:
    shapes = random.Random(f"{seed}/{workload}/shapes")
    latency = Latency(random.Random(f"{seed}/{workload}/{cv}/latency"), cv, scale)
    plans = []
    for number in range(count):
        shape = WORKLOADS[workload](shapes)
        tasks = tuple(BenchTask(task_id, kind, deps, latency(kind)) for task_id, kind, deps in shape)
        plans.append(BenchPlan(workload=workload, number=number, tasks=tasks))
    return plans


def as_seed_plan(plan: BenchPlan) -> str:
    """The plan in the seed's text format, each task a ``sleep`` of its latency, for the system over Kafka."""
    lines = []
    for task in plan.tasks:
        deps = ", ".join(f"Task {dep}" for dep in task.deps) or "none"
        lines.append(f"Task {task.id}: sleep(seconds={task.seconds}) | Dependencies: {deps}")
    return "\n".join(lines)
