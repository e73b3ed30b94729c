"""Turns and finished runs from two topics, in any order and redelivered, assembled into one trace per run."""

from __future__ import annotations

from schemas.events import RewardAssigned, RunFinished, TurnRecorded
from services.trainer.core.collection import RecordedRun, TraceAssembler


def turn(run_id: str, task_id: str = "1", event_id: str | None = None) -> TurnRecorded:
    identity = {"event_id": event_id} if event_id else {}
    return TurnRecorded(run_id=run_id, task_id=task_id, tool_name="sleep", **identity)


def recorded(run_id: str) -> RecordedRun:
    return RecordedRun(rollout_id=f"ro-{run_id}", attempt_id="at-1", reward=RewardAssigned(run_id=run_id, reward=1.0))


def test_turns_wait_for_their_run_and_duplicates_count_once_when_the_run_finishes() -> None:
    assembler = TraceAssembler(remember_runs=10, max_open_runs=10)
    assert assembler.on_turn(turn("a", "1", "e1")) is None
    assert assembler.on_turn(turn("a", "1", "e1")) is None  # redelivered
    assert assembler.on_turn(turn("a", "2", "e2")) is None
    assert assembler.on_turn(turn("b", "1", "e3")) is None
    turns = assembler.on_finished(RunFinished(run_id="a", status="succeeded"))
    assert isinstance(turns, list) and [t.event_id for t in turns] == ["e1", "e2"]


def test_redelivered_run_finished_returns_the_recording_when_the_run_was_recorded() -> None:
    assembler = TraceAssembler(remember_runs=10, max_open_runs=10)
    assembler.on_finished(RunFinished(run_id="a", status="succeeded"))
    recording = recorded("a")
    assembler.recorded("a", recording)
    assert assembler.on_finished(RunFinished(run_id="a", status="succeeded")) is recording
    assert assembler.on_turn(turn("a")) is recording  # a late turn finds its rollout


def test_oldest_open_runs_are_dropped_when_too_many_wait_for_their_end() -> None:
    assembler = TraceAssembler(remember_runs=10, max_open_runs=2)
    for run_id in ("a", "b", "c"):
        assembler.on_turn(turn(run_id))
    assert assembler.dropped_runs == 1
    assert assembler.on_finished(RunFinished(run_id="a", status="succeeded")) == []
    assert len(assembler.on_finished(RunFinished(run_id="c", status="succeeded"))) == 1


def test_oldest_recorded_runs_are_forgotten_when_more_than_remembered() -> None:
    assembler = TraceAssembler(remember_runs=1, max_open_runs=10)
    assembler.recorded("a", recorded("a"))
    assembler.recorded("b", recorded("b"))
    assert assembler.on_finished(RunFinished(run_id="a", status="succeeded")) == []
