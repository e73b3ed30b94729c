"""Runs folded from their events: node states as they change, in any arrival order, and the board's memory."""

from __future__ import annotations

from schemas import RewardAssigned, RunFinished, TaskFinished, TaskReady, TaskSkipped, TaskStarted
from services.console.core.board import Board, fold, label_matches
from tests.unit.warehouse.events import at, fan_out_run


def states(run) -> dict[str, str]:
    return {task_id: task.state for task_id, task in run.tasks.items()}


def test_nodes_go_from_waiting_to_ready_to_running_to_succeeded_when_events_arrive() -> None:
    events = fan_out_run("r", width=2)
    board = Board(keep_finished=10)
    board.apply(events[0])
    board.apply(events[1])  # RunPlanned
    run = board.get("r")
    assert states(run) == {"1": "waiting", "2": "waiting", "3": "waiting"}
    board.apply(TaskReady(run_id="r", task_id="1", tool="kb_search", occurred_at=at(1)))
    assert run.tasks["1"].state == "ready"
    board.apply(TaskStarted(run_id="r", task_id="1", executor="executor-7", occurred_at=at(1.1)))
    assert run.tasks["1"].state == "running" and run.tasks["1"].latest.executor == "executor-7"
    board.apply(TaskFinished(run_id="r", task_id="1", status="ok", result=3, occurred_at=at(2)))
    assert run.tasks["1"].state == "succeeded" and run.tasks["1"].result == 3
    assert run.status == "running" and not run.finished


def test_a_retried_task_shows_its_attempts_when_the_first_failed() -> None:
    run = fold("r", fan_out_run("r", width=3, failing="2"))
    task = run.tasks["2"]
    assert task.state == "succeeded" and task.retried and sorted(task.attempts) == [1, 2]
    assert task.attempts[1].status == "error" and task.attempts[1].error == "search backend down"
    assert run.status == "succeeded" and run.answer == 42 and len(run.turns) == 5


def test_state_is_right_when_events_of_different_topics_arrive_out_of_order() -> None:
    board = Board(keep_finished=10)
    board.apply(TaskFinished(run_id="r", task_id="1", status="error", error="boom", occurred_at=at(3)))
    board.apply(TaskStarted(run_id="r", task_id="1", executor="executor-2", occurred_at=at(2)))
    board.apply(TaskReady(run_id="r", task_id="1", tool="kb_search", occurred_at=at(1)))
    attempt = board.get("r").tasks["1"].latest
    assert board.get("r").tasks["1"].state == "failed"
    assert (attempt.dispatched_at, attempt.started_at, attempt.executor) == (at(1), at(2), "executor-2")
    assert board.get("r").last_event_at == at(3)  # the newest event, not the last to arrive


def test_skipped_tasks_and_rewards_are_shown_when_the_run_ends() -> None:
    board = Board(keep_finished=10)
    board.apply(TaskSkipped(run_id="r", task_id="3", reason="task 1 failed", occurred_at=at(1)))
    board.apply(RunFinished(run_id="r", status="partial", skipped={"4": "task 1 failed"}, occurred_at=at(2)))
    board.apply(RewardAssigned(run_id="r", reward=0.25, occurred_at=at(3)))
    run = board.get("r")
    assert states(run) == {"3": "skipped", "4": "skipped"}
    assert (run.status, run.reward) == ("partial", 0.25)


def test_oldest_finished_runs_are_forgotten_when_more_than_kept() -> None:
    board = Board(keep_finished=2)
    for number in range(4):
        board.apply(RunFinished(run_id=f"r{number}", status="succeeded", occurred_at=at(number)))
    board.apply(TaskReady(run_id="live", task_id="1", tool="sleep", occurred_at=at(9)))
    assert [run.run_id for run in board.runs()] == ["live", "r3", "r2"]


def test_labels_match_by_key_and_value_or_by_a_word_when_filtering() -> None:
    labels = {"job": "demo-7", "team": "search"}
    assert label_matches(labels, "job=demo-7") and not label_matches(labels, "job=demo")
    assert label_matches(labels, "demo") and label_matches(labels, "TEAM") and not label_matches(labels, "x")
