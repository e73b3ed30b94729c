"""A finished run and its turns as plain spans named after the OpenTelemetry GenAI conventions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.events import RunFinished, RunMetrics, TurnRecorded
from services.trainer.core.reward import RewardConfig
from services.trainer.core.traces import scored_trace
from services.trainer.core.trajectory import succeeded

END = datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)


def test_trace_has_a_run_span_then_turn_spans_in_start_order_when_turns_arrive_shuffled() -> None:
    run = RunFinished(
        run_id="r1",
        occurred_at=END,
        status="succeeded",
        answer=5,
        expected_answer="5",
        metrics=RunMetrics(makespan_s=4.0, turns=2, tool_errors=1, tasks=2),
        labels={"suite": "unit"},
    )
    late = TurnRecorded(
        run_id="r1", task_id="2", tool_name="calculator", started_at=END - timedelta(seconds=1), latency_s=0.5
    )
    early = TurnRecorded(
        run_id="r1",
        task_id="1",
        tool_name="kb_search",
        started_at=END - timedelta(seconds=3),
        latency_s=1.0,
        status="error",
        error="timeout",
        input_tokens=7,
    )
    trace = scored_trace(run, [late, early, early], RewardConfig(), succeeded)
    names = [span.name for span in trace.spans]
    assert names == ["invoke_agent planner", "execute_tool kb_search", "execute_tool calculator"]
    run_span, first, _ = trace.spans
    assert run_span.end_s - run_span.start_s == 4.0
    assert first.error == "timeout"
    assert first.end_s - first.start_s == 1.0
    assert first.attributes["gen_ai.tool.name"] == "kb_search"
    assert first.attributes["gen_ai.usage.input_tokens"] == 7
    assert trace.reward.total == pytest.approx(1.0 + 0.1 - 0.2)  # 4 s over 2 turns is not under 2 s per turn
    assert trace.task == {"run_id": "r1", "expected_answer": "5", "labels": {"suite": "unit"}}
