"""The in-process ways to run a plan, each real code run on real timers (``asyncio.sleep`` stands for the tool):

- sequential: one tool at a time, as a ReAct agent calls them;
- level barrier: the GAP paper's execution, a real ``asyncio.gather`` per level: a level starts when the whole
  previous level is done;
- as soon as ready: ``graphlib.TopologicalSorter`` driving asyncio tasks, a task starts the moment its dependencies
  are done (LLMCompiler's task fetching unit, our planner's rule) — the in-process ideal the system is held to;
- LangGraph: the real library (optional ``bench`` extra), one node per task, an edge from each dependency, a node
  with several dependencies waiting for all of them; LangGraph runs in supersteps.

Every mode runs all plans at once and records when each task started and ended, so tests can check dependencies
were respected and the report can compute makespans.
"""

from __future__ import annotations

import asyncio
import graphlib
import operator
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypedDict

import msgspec

from services.bench.workloads import BenchPlan


class TaskSpan(msgspec.Struct, frozen=True):
    task_id: str
    start_s: float
    end_s: float


class PlanTiming(msgspec.Struct, frozen=True):
    plan: BenchPlan
    makespan_s: float
    spans: tuple[TaskSpan, ...]


class Clock:
    """Times relative to the start of one plan."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.spans: list[TaskSpan] = []

    def restart(self) -> None:
        self.started = time.perf_counter()

    async def run(self, task_id: str, seconds: float) -> None:
        start = time.perf_counter() - self.started
        await asyncio.sleep(seconds)
        self.spans.append(TaskSpan(task_id, start, time.perf_counter() - self.started))

    def timing(self, plan: BenchPlan) -> PlanTiming:
        return PlanTiming(plan, time.perf_counter() - self.started, tuple(self.spans))


async def sequential(plan: BenchPlan) -> PlanTiming:
    clock = Clock()
    for task in plan.tasks:
        await clock.run(task.id, task.seconds)
    return clock.timing(plan)


async def level_barrier(plan: BenchPlan) -> PlanTiming:
    clock = Clock()
    durations = plan.durations()
    for level in plan.levels():
        await asyncio.gather(*(clock.run(task_id, durations[task_id]) for task_id in level))
    return clock.timing(plan)


async def as_soon_as_ready(plan: BenchPlan) -> PlanTiming:
    clock = Clock()
    durations = plan.durations()
    sorter = graphlib.TopologicalSorter({task.id: task.deps for task in plan.tasks})
    sorter.prepare()
    running: dict[asyncio.Task[None], str] = {}
    while sorter.is_active():
        for task_id in sorter.get_ready():
            running[asyncio.create_task(clock.run(task_id, durations[task_id]))] = task_id
        done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for finished in done:
            sorter.done(running.pop(finished))
    return clock.timing(plan)


class _GraphState(TypedDict):
    done: Annotated[list[str], operator.add]


def langgraph_runner() -> Callable[[BenchPlan], Awaitable[PlanTiming]]:
    """LangGraph's StateGraph, built per plan (its graphs are static), invoked with ``ainvoke``."""
    from langgraph.graph import END, START, StateGraph

    async def run(plan: BenchPlan) -> PlanTiming:
        clock = Clock()
        graph = StateGraph(_GraphState)  # built per plan, as a planner's plan would be; timed from ainvoke
        used = {dep for task in plan.tasks for dep in task.deps}
        for task in plan.tasks:
            graph.add_node(f"t{task.id}", _node(clock, task.id, task.seconds))
            if not task.deps:
                graph.add_edge(START, f"t{task.id}")
            elif len(task.deps) == 1:
                graph.add_edge(f"t{task.deps[0]}", f"t{task.id}")
            else:  # waits for every dependency
                graph.add_edge([f"t{dep}" for dep in task.deps], f"t{task.id}")
            if task.id not in used:
                graph.add_edge(f"t{task.id}", END)
        compiled = graph.compile()
        clock.restart()
        await compiled.ainvoke({"done": []})
        return clock.timing(plan)

    return run


def _node(clock: Clock, task_id: str, seconds: float) -> Callable[[Any], Awaitable[dict[str, list[str]]]]:
    async def node(state: Any) -> dict[str, list[str]]:
        await clock.run(task_id, seconds)
        return {"done": [task_id]}

    return node


Mode = Callable[[BenchPlan], Awaitable[PlanTiming]]
SEQUENTIAL = "sequential"


def in_process_modes(*, with_langgraph: bool) -> dict[str, Mode]:
    modes: dict[str, Mode] = {
        SEQUENTIAL: sequential,
        "level barrier": level_barrier,
        "as soon as ready": as_soon_as_ready,
    }
    if with_langgraph:
        modes["LangGraph"] = langgraph_runner()
    return modes


async def run_all(mode: Mode, plans: Sequence[BenchPlan]) -> list[PlanTiming]:
    """Every plan in flight at once, as a service would have them."""
    return list(await asyncio.gather(*(mode(plan) for plan in plans)))
