"""The plan's dependency graph, computed with graphlib: levels, critical path, canonical order, dependents.

Everything here is deterministic: ties are broken by the order the tasks were written in the plan.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from graphlib import CycleError, TopologicalSorter

from schemas.plan import Plan
from services.planner.core.errors import PlanError


@dataclass(frozen=True)
class Dag:
    order: tuple[str, ...]  # task ids as written in the plan
    deps: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_plan(cls, plan: Plan) -> Dag:
        """The plan's graph; PlanError when it is not one (validate_plan reports these with line numbers)."""
        ids = [task.id for task in plan.tasks]
        seen: set[str] = set()
        for task in plan.tasks:
            if task.id in seen:
                raise PlanError(f"task {task.id} is defined twice", task_id=task.id)
            seen.add(task.id)
        for task in plan.tasks:
            for dep in task.deps:
                if dep not in seen:
                    raise PlanError(f"task {task.id} depends on unknown task {dep}", task_id=task.id)
        dag = cls(tuple(ids), {task.id: tuple(task.deps) for task in plan.tasks})
        if cycle := dag.cycle():
            raise PlanError(cycle_message(cycle), task_id=cycle[0])
        return dag

    def cycle(self) -> list[str] | None:
        """A cycle as ``[a, b, ..., a]`` where each task needs the one before it, starting at the earliest-written
        task of the cycle; None for an acyclic graph."""
        try:
            TopologicalSorter(self.deps).prepare()
        except CycleError as error:
            # graphlib walks from a task to the tasks that need it, so the path already reads "feeds".
            loop = list(error.args[1][:-1])
            start = min(range(len(loop)), key=lambda position: self._position.get(loop[position], len(self.order)))
            rotated = loop[start:] + loop[:start]
            return [*rotated, rotated[0]]
        return None

    @cached_property
    def _position(self) -> dict[str, int]:
        return {task_id: position for position, task_id in enumerate(self.order)}

    @cached_property
    def _children(self) -> dict[str, tuple[str, ...]]:
        children: dict[str, list[str]] = {task_id: [] for task_id in self.order}
        for task_id in self.order:
            for dep in self.deps[task_id]:
                children[dep].append(task_id)
        return {task_id: tuple(needers) for task_id, needers in children.items()}

    def _prepared(self) -> TopologicalSorter[str]:
        sorter = TopologicalSorter(self.deps)
        sorter.prepare()
        return sorter

    def levels(self) -> list[list[str]]:
        """The seed's build_dag: level n holds the tasks whose longest chain of dependencies from a root has n edges.
        These are exactly graphlib's ready batches when each batch is marked done as a whole."""
        sorter = self._prepared()
        levels = []
        while sorter.is_active():
            batch = sorted(sorter.get_ready(), key=self._position.__getitem__)
            levels.append(batch)
            sorter.done(*batch)
        return levels

    def canonical_order(self) -> list[str]:
        """A topological order that, whenever several tasks are ready, takes the earliest-written one first."""
        return list(self._canonical)

    @cached_property
    def _canonical(self) -> tuple[str, ...]:
        sorter = self._prepared()
        ready = [(self._position[task_id], task_id) for task_id in sorter.get_ready()]
        heapq.heapify(ready)
        order = []
        while ready:
            _, task_id = heapq.heappop(ready)
            order.append(task_id)
            sorter.done(task_id)
            for unlocked in sorter.get_ready():
                heapq.heappush(ready, (self._position[unlocked], unlocked))
        return tuple(order)

    def critical_path(self, durations: Mapping[str, float] | None = None) -> list[str]:
        """The longest dependency chain: by number of tasks, or by summed ``durations`` (missing tasks weigh 0)."""
        return self._longest_chain(durations)[1]

    def critical_path_time(self, durations: Mapping[str, float]) -> float:
        """The summed durations along the heaviest dependency chain: the best makespan with unlimited workers."""
        return self._longest_chain(durations)[0]

    def _longest_chain(self, durations: Mapping[str, float] | None) -> tuple[float, list[str]]:
        if not self.order:
            return 0.0, []
        weight = (lambda task_id: 1.0) if durations is None else (lambda task_id: float(durations.get(task_id, 0.0)))
        finish: dict[str, float] = {}
        via: dict[str, str | None] = {}
        for task_id in self._canonical:
            # max() keeps the first maximum, and deps are scanned in plan order, so ties go to the earliest-written.
            heaviest = max(
                sorted(self.deps[task_id], key=self._position.__getitem__), key=finish.__getitem__, default=None
            )
            via[task_id] = heaviest
            finish[task_id] = weight(task_id) + (finish[heaviest] if heaviest is not None else 0.0)
        end: str | None = max(self.order, key=finish.__getitem__)
        total = finish[end]
        path = []
        while end is not None:
            path.append(end)
            end = via[end]
        return total, path[::-1]

    def sinks(self) -> list[str]:
        """The tasks no other task needs: their results are the run's answer."""
        return [task_id for task_id in self.order if not self._children[task_id]]

    def dependents(self, task_id: str) -> list[str]:
        """Every task that needs ``task_id``, directly or through others, in plan order."""
        found: set[str] = set()
        frontier = [task_id]
        while frontier:
            for child in self._children[frontier.pop()]:
                if child not in found:
                    found.add(child)
                    frontier.append(child)
        return [other for other in self.order if other in found]

    def children(self, task_id: str) -> tuple[str, ...]:
        """The tasks that need ``task_id`` directly, in plan order."""
        return self._children[task_id]

    def position(self, task_id: str) -> int:
        """Where the task was written in the plan (0 first)."""
        return self._position[task_id]

    def heights(self) -> dict[str, int]:
        """For each task, the number of tasks on its longest chain to a sink, itself included: a capped scheduler
        that starts the tallest ready task first keeps the critical path moving."""
        return dict(self._heights)

    @cached_property
    def _heights(self) -> dict[str, int]:
        height: dict[str, int] = {}
        for task_id in reversed(self._canonical):
            height[task_id] = 1 + max((height[child] for child in self._children[task_id]), default=0)
        return height

    def tallest_first(self) -> list[str]:
        """Tasks by their height (see heights), tallest first, ties in canonical order: the order in which a capped
        parallel run starts ready tasks (list scheduling)."""
        return list(self._tallest_first)

    @cached_property
    def _tallest_first(self) -> tuple[str, ...]:
        return tuple(sorted(self._canonical, key=lambda task_id: -self._heights[task_id]))

    def rank(self, *, tallest_first: bool) -> dict[str, int]:
        """Each task's place in ``tallest_first()`` (or else in ``canonical_order()``), to order a few tasks without
        walking the whole plan."""
        return self._tallest_rank if tallest_first else self._canonical_rank

    @cached_property
    def _canonical_rank(self) -> dict[str, int]:
        return {task_id: rank for rank, task_id in enumerate(self._canonical)}

    @cached_property
    def _tallest_rank(self) -> dict[str, int]:
        return {task_id: rank for rank, task_id in enumerate(self._tallest_first)}


def cycle_message(cycle: list[str]) -> str:
    return f"cycle: {' -> '.join(cycle)} (each task needs the one before it)"
