"""Finished runs written into a LightningStore as rollouts: the run's spans and its reward, read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.events import RunFinished, RunMetrics, TurnRecorded
from services.trainer.core.reward import RewardConfig
from services.trainer.core.traces import scored_trace, turn_span
from services.trainer.core.trajectory import succeeded
from services.trainer.lightning.store import RolloutLog, export_jsonl, final_reward, make_store
from services.trainer.settings import StoreConfig

END = datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)


def run_with_turns(run_id: str) -> tuple[RunFinished, list[TurnRecorded]]:
    finished = RunFinished(
        run_id=run_id,
        occurred_at=END,
        status="succeeded",
        answer="Paris",
        expected_answer="paris",
        metrics=RunMetrics(makespan_s=2.5, turns=2, tool_errors=1),
    )
    turns = [
        TurnRecorded(
            run_id=run_id,
            task_id="1",
            tool_name="kb_search",
            started_at=END - timedelta(seconds=2),
            latency_s=0.4,
            status="error",
            error="timeout",
        ),
        TurnRecorded(
            run_id=run_id,
            task_id="1",
            attempt=2,
            tool_name="kb_search",
            started_at=END - timedelta(seconds=1),
            latency_s=0.5,
        ),
    ]
    return finished, turns


async def test_run_becomes_a_succeeded_rollout_with_its_spans_and_reward_when_recorded() -> None:
    store = make_store(StoreConfig())
    finished, turns = run_with_turns("r1")
    trace = scored_trace(finished, turns, RewardConfig(), succeeded)
    rollout_id, attempt_id = await RolloutLog(store).record(trace)

    rollout = await store.get_rollout_by_id(rollout_id)
    assert rollout is not None and rollout.status == "succeeded"
    assert rollout.input == trace.task
    assert rollout.metadata is not None and rollout.metadata["run_id"] == "r1"
    spans = await store.query_spans(rollout_id, attempt_id)
    assert [span.name for span in spans] == [
        "invoke_agent planner",
        "execute_tool kb_search",
        "execute_tool kb_search",
        "agentlightning.annotation",  # the reward span emit_reward makes
    ]
    assert spans[1].status.status_code == "ERROR" and spans[2].status.status_code == "OK"
    assert [span.sequence_id for span in spans] == sorted(span.sequence_id for span in spans)
    assert trace.reward.total == pytest.approx(1.0 + 0.1 + 0.05 - 0.2)
    assert await final_reward(store, rollout_id) == pytest.approx(trace.reward.total)
    assert spans[-1].attributes["agentlightning.reward.1.name"] == "correctness"


async def test_late_turn_joins_its_rollout_when_it_arrives_after_the_run_was_recorded() -> None:
    store = make_store(StoreConfig())
    log = RolloutLog(store)
    finished, turns = run_with_turns("r2")
    rollout_id, attempt_id = await log.record(scored_trace(finished, turns[:1], RewardConfig(), succeeded))
    await log.add_turn(rollout_id, attempt_id, turn_span(turns[1]))
    spans = await store.query_spans(rollout_id)
    assert len(spans) == 4
    assert (await store.get_rollout_by_id(rollout_id)).status == "succeeded"  # type: ignore[union-attr]


async def test_rollouts_export_as_one_json_line_each_when_written_out(tmp_path) -> None:
    store = make_store(StoreConfig())
    for run_id in ("a", "b"):
        finished, turns = run_with_turns(run_id)
        await RolloutLog(store).record(scored_trace(finished, turns, RewardConfig(), succeeded))
    path = tmp_path / "rollouts.jsonl"
    assert await export_jsonl(store, path) == 2
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and '"spans"' in lines[0]
