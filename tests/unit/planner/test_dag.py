"""Levels, critical path, canonical order, sinks and dependents, with graphlib as the oracle."""

from __future__ import annotations

from graphlib import TopologicalSorter

import pytest
from hypothesis import given

from schemas import Plan, Task
from services.planner.core.dag import Dag
from services.planner.core.errors import PlanError
from tests.unit.planner.runs import random_dags


def dag_of(edges: dict[str, tuple[str, ...]]) -> Dag:
    return Dag.from_plan(Plan(tasks=tuple(Task(id=task_id, tool="t", deps=deps) for task_id, deps in edges.items())))


DIAMOND = {"A": (), "B": ("A",), "C": ("A",), "D": ("B", "C")}
# Two chains of different length joined at the end; E is independent.
UNEVEN = {"A": (), "B": ("A",), "C": ("B",), "X": (), "J": ("C", "X"), "E": ()}


@pytest.mark.parametrize(
    ("edges", "levels"),
    [
        (DIAMOND, [["A"], ["B", "C"], ["D"]]),
        (UNEVEN, [["A", "X", "E"], ["B"], ["C"], ["J"]]),
        ({"3": (), "1": (), "2": ("3",)}, [["3", "1"], ["2"]]),
    ],
)
def test_levels_group_tasks_by_longest_distance_from_a_root_when_built(edges, levels) -> None:
    assert dag_of(edges).levels() == levels


@pytest.mark.parametrize(
    ("edges", "durations", "path", "time"),
    [
        (UNEVEN, None, ["A", "B", "C", "J"], 4.0),
        (UNEVEN, {"A": 1, "B": 1, "C": 1, "X": 9, "J": 1, "E": 2}, ["X", "J"], 10.0),
        (DIAMOND, {"A": 1, "B": 2, "C": 5, "D": 1}, ["A", "C", "D"], 7.0),
        (DIAMOND, None, ["A", "B", "D"], 3.0),  # tie between B and C goes to the earliest written
    ],
)
def test_critical_path_is_the_heaviest_chain_when_weighted_by_count_or_duration(edges, durations, path, time) -> None:
    dag = dag_of(edges)
    assert dag.critical_path(durations) == path
    weights = durations if durations is not None else {task_id: 1.0 for task_id in edges}
    assert dag.critical_path_time(weights) == time


def test_canonical_order_takes_the_earliest_written_ready_task_when_several_are_ready() -> None:
    assert dag_of({"c": (), "a": ("b",), "b": (), "d": ("c",)}).canonical_order() == ["c", "b", "a", "d"]


def test_sinks_and_dependents_follow_plan_order_when_asked() -> None:
    dag = dag_of(UNEVEN)
    assert dag.sinks() == ["J", "E"]
    assert dag.dependents("A") == ["B", "C", "J"]
    assert dag.dependents("E") == []
    assert dag.heights() == {"A": 4, "B": 3, "C": 2, "X": 2, "J": 1, "E": 1}


def test_graph_is_refused_when_it_has_a_cycle() -> None:
    with pytest.raises(PlanError, match=r"^cycle: a -> b -> a"):
        dag_of({"a": ("b",), "b": ("a",)})


@given(random_dags())
def test_orders_and_levels_agree_with_graphlib_when_the_dag_is_random(edges) -> None:
    dag = dag_of(edges)
    order = dag.canonical_order()
    assert sorted(order) == sorted(edges)
    assert all(order.index(dep) < order.index(task_id) for task_id, deps in edges.items() for dep in deps)
    sorter = TopologicalSorter(edges)
    sorter.prepare()
    batches = []
    while sorter.is_active():
        batch = sorter.get_ready()
        batches.append(set(batch))
        sorter.done(*batch)
    assert [set(level) for level in dag.levels()] == batches
    assert len(dag.critical_path()) == len(batches)
