"""The trainer's durable ledger: turns and finished runs in any order, redelivered, across a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.events import RunFinished, TurnRecorded
from services.trainer.core.reward import RewardConfig
from services.trainer.core.traces import RunTrace, scored_trace
from services.trainer.core.trajectory import succeeded
from services.trainer.lightning.ledger import TrainerLedger
from services.trainer.lightning.sqlite_store import SqliteLightningStore
from services.trainer.lightning.store import RolloutLog


def turn(run_id: str, task_id: str = "1", event_id: str | None = None) -> TurnRecorded:
    identity = {"event_id": event_id} if event_id else {}
    return TurnRecorded(run_id=run_id, task_id=task_id, tool_name="sleep", **identity)


def finished(run_id: str) -> RunFinished:
    return RunFinished(run_id=run_id, status="succeeded", answer="x", expected_answer="x")


def score(run: RunFinished, turns: list[TurnRecorded]) -> RunTrace:
    return scored_trace(run, turns, RewardConfig(), succeeded)


def ledger_at(path: Path, *, max_open_runs: int = 10, remember_runs: int = 10) -> TrainerLedger:
    return TrainerLedger(SqliteLightningStore(path), remember_runs=remember_runs, max_open_runs=max_open_runs)


async def tool_spans(ledger: TrainerLedger, rollout_id: str) -> int:
    return [span.name for span in await ledger.store.query_spans(rollout_id)].count("execute_tool sleep")


async def test_waiting_turns_join_their_run_once_when_turns_are_redelivered(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path / "s.sqlite")
    for event in (turn("a", "1", "e1"), turn("a", "1", "e1"), turn("a", "2", "e2"), turn("b", "1", "e3")):
        await ledger.add_turn(event)
    assigned = await ledger.record_run(finished("a"), score)
    assert await tool_spans(ledger, assigned.rollout_id) == 2


async def test_redelivered_run_gets_the_same_reward_and_no_second_rollout_when_reopened(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    ledger = ledger_at(path)
    await ledger.add_turn(turn("a", "1", "e1"))
    await ledger.add_turn(turn("b", "1", "e2"))  # b still waits for its RunFinished when the trainer stops
    first = await ledger.record_run(finished("a"), score)
    await ledger.store.close()

    reopened = ledger_at(path)
    again = await reopened.record_run(finished("a"), score)
    assert again == first
    late = await reopened.record_run(finished("b"), score)
    assert await tool_spans(reopened, late.rollout_id) == 1  # its waiting turn survived the restart
    assert len(await reopened.store.query_rollouts()) == 2


async def test_late_turn_joins_its_rollout_once_when_it_comes_after_the_run(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path / "s.sqlite")
    assigned = await ledger.record_run(finished("a"), score)
    await ledger.add_turn(turn("a", "1", "late"))
    await ledger.add_turn(turn("a", "1", "late"))
    assert await tool_spans(ledger, assigned.rollout_id) == 1


async def test_oldest_waiting_runs_are_dropped_when_too_many_wait_for_their_end(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path / "s.sqlite", max_open_runs=2)
    for run_id in ("a", "b", "c"):
        await ledger.add_turn(turn(run_id))
    assert ledger.dropped_runs == 1
    dropped = await ledger.record_run(finished("a"), score)
    kept = await ledger.record_run(finished("c"), score)
    assert await tool_spans(ledger, dropped.rollout_id) == 0
    assert await tool_spans(ledger, kept.rollout_id) == 1


async def test_oldest_recorded_runs_are_forgotten_when_more_than_remembered(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path / "s.sqlite", remember_runs=1)
    await ledger.record_run(finished("a"), score)
    await ledger.record_run(finished("b"), score)
    assert ledger.recorded("a") is None and ledger.recorded("b") is not None


async def test_nothing_of_a_run_is_kept_when_recording_it_fails_midway(tmp_path: Path, monkeypatch) -> None:
    ledger = ledger_at(tmp_path / "s.sqlite")
    await ledger.add_turn(turn("a", "1", "e1"))
    record = RolloutLog.record

    async def record_then_fail(self: RolloutLog, trace: RunTrace) -> tuple[str, str]:
        await record(self, trace)  # the rollout, its spans and its attempt are written...
        raise OSError("disk full")  # ...and then the process fails before the ledger notes the run

    monkeypatch.setattr(RolloutLog, "record", record_then_fail)
    with pytest.raises(OSError):
        await ledger.record_run(finished("a"), score)
    monkeypatch.undo()
    assert ledger.recorded("a") is None and len(await ledger.store.query_rollouts()) == 0
    assigned = await ledger.record_run(finished("a"), score)  # the waiting turn is still there
    assert await tool_spans(ledger, assigned.rollout_id) == 1
    assert len(await ledger.store.query_rollouts()) == 1


async def test_a_failed_input_leaves_nothing_and_its_batch_is_kept_when_inputs_share_one_transaction(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite"
    ledger = ledger_at(path)
    async with ledger.batch():
        with ledger.one_input():
            await ledger.add_turn(turn("a", "1", "e1"))
        with pytest.raises(RuntimeError), ledger.one_input():
            await ledger.add_turn(turn("a", "2", "e2"))
            await ledger.record_run(finished("a"), score)
            raise RuntimeError("the input fails after it wrote")
        with ledger.one_input():
            await ledger.add_turn(turn("b", "1", "e3"))
    await ledger.store.close()

    reopened = ledger_at(path)  # what the batch's one commit put on disk
    assert reopened.recorded("a") is None and not await reopened.store.query_rollouts()
    assert [event.event_id for event in reopened.waiting_turns("a")] == ["e1"]
    assert [event.event_id for event in reopened.waiting_turns("b")] == ["e3"]
