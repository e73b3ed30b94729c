"""The run page's view model: DAG levels, the measured critical path, a Gantt lane per executor."""

from __future__ import annotations

from schemas import TaskReady, TaskStarted
from services.console.core.board import fold
from services.console.core.charts import line
from services.console.core.views import detail, summary
from tests.unit.warehouse.events import at, fan_out_run, replanned_run


def test_run_page_has_levels_critical_path_and_one_gantt_lane_per_executor_when_finished() -> None:
    run = fold("r", fan_out_run("r", width=3, executors=2, failing="2"))
    page = detail(run, at(100))
    assert page["levels"] == [["1", "2", "3"], ["4"]]
    assert page["critical_path"] == ["3", "4"]  # task 3's settling attempt ran longest (1.2 s)
    assert [lane["executor"] for lane in page["gantt"]["lanes"]] == ["executor-1", "executor-2"]
    bars = [bar for lane in page["gantt"]["lanes"] for bar in lane["bars"]]
    attempts = sorted((bar["task_id"], bar["attempt"]) for bar in bars)
    assert attempts == [("1", 1), ("2", 1), ("2", 2), ("3", 1), ("4", 1)]
    node = next(node for node in page["nodes"] if node["id"] == "2")
    assert node["state"] == "succeeded" and node["retried"] and not node["critical"] and node["level"] == 0
    assert page["answer"] == 42 and page["speedup"] == 2.5 and page["labels"] == {"job": "fan"}
    assert len(page["turns"]) == 5 and page["last_event_type"] == "RunFinished"
    assert "Task 4: calculator(expression='1') | Dependencies: Task 1, Task 2, Task 3" in page["plan_text"]


def test_a_running_attempt_reaches_now_on_the_gantt_when_the_run_is_live() -> None:
    events = fan_out_run("r", width=2)[:2]  # requested and planned
    events += [
        TaskReady(run_id="r", task_id="1", tool="kb_search", occurred_at=at(1)),
        TaskStarted(run_id="r", task_id="1", executor="executor-3", occurred_at=at(1.5)),
    ]
    run = fold("r", events)
    page = detail(run, at(4))
    (lane,) = page["gantt"]["lanes"]
    assert lane["executor"] == "executor-3" and lane["bars"][0]["end"] == 4.0 - 0.01  # seconds since planned
    assert summary(run, at(4))["running"] == 1 and page["makespan_s"] == 3.99  # since planned
    assert {node["id"]: node["state"] for node in page["nodes"]} == {"1": "running", "2": "waiting", "3": "waiting"}


def test_attempts_overlapping_on_one_executor_get_their_own_tracks_when_drawn() -> None:
    run = fold("r", fan_out_run("r", width=3, executors=1))  # three searches at once on executor-1
    (lane,) = detail(run, at(100))["gantt"]["lanes"]
    searches = {bar["task_id"]: bar["track"] for bar in lane["bars"] if bar["task_id"] != "4"}
    assert lane["tracks"] == 3 and sorted(searches.values()) == [0, 1, 2]
    assert next(bar["track"] for bar in lane["bars"] if bar["task_id"] == "4") == 0  # after them: the first track


def test_reward_curve_is_a_polyline_through_every_point_when_there_are_rewards() -> None:
    drawn = line("reward", [(1.0, 0.2), (2.0, 0.5), (3.0, 0.9)], x_label="runs", y_label="reward")
    assert drawn.startswith("<svg") and drawn.count("<circle") == 3 and "<polyline" in drawn
    assert "<script" not in drawn


def test_run_page_shows_the_sub_plan_in_the_dag_and_says_what_it_replaced_when_the_run_was_replanned() -> None:
    page = detail(fold("r", replanned_run("r")), at(1))
    assert page["replans"] == [
        {"replan": 1, "replaced": "1", "reason": "search backend down", "added": ["r1.1"], "stands_in": "r1.1"}
    ]
    nodes = {node["id"]: node for node in page["nodes"]}
    assert set(nodes) == {"1", "2", "r1.1"} and nodes["2"]["deps"] == ["r1.1"]
    assert page["levels"] == [["1", "r1.1"], ["2"]]
