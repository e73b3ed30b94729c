"""A finished run as a trace: one span for the run, one per LLM or tool call, and the run's reward.

Span names and attributes follow the OpenTelemetry GenAI conventions (``execute_tool quote``,
``gen_ai.tool.name``, ``gen_ai.usage.input_tokens``), with ``genesis.*`` for what those conventions do not name.
This is plain data; ``services.trainer.lightning.spans`` turns it into Agent Lightning spans.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import msgspec

from schemas.events import RunFinished, TurnRecorded
from services.trainer.core.reward import Reward, RewardConfig, score
from services.trainer.core.trajectory import Checker, trajectory_of

Attribute = str | int | float | bool


class TraceSpan(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    start_s: float  # seconds since the epoch
    end_s: float
    error: str | None = None
    attributes: dict[str, Attribute] = {}


class RunTrace(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    # The rollout's input: what was asked of the planner.
    task: dict[str, Any]
    spans: tuple[TraceSpan, ...]
    reward: Reward
    metadata: dict[str, Attribute]


def scored_trace(
    finished: RunFinished, turns: Iterable[TurnRecorded], config: RewardConfig, checker: Checker
) -> RunTrace:
    """The run's trace with its reward: what the service, the backfill and the training agent all record."""
    return run_trace(finished, turns, score(trajectory_of(finished, checker), config))


def run_trace(finished: RunFinished, turns: Iterable[TurnRecorded], reward: Reward) -> RunTrace:
    return RunTrace(
        run_id=finished.run_id,
        task={"run_id": finished.run_id, "expected_answer": finished.expected_answer, "labels": dict(finished.labels)},
        spans=(run_span(finished), *turn_spans(turns)),
        reward=reward,
        metadata={
            "status": finished.status,
            "makespan_s": finished.metrics.makespan_s,
            "turns": finished.metrics.turns,
            "tool_errors": finished.metrics.tool_errors,
        },
    )


def run_span(finished: RunFinished) -> TraceSpan:
    end = finished.occurred_at
    start = end - timedelta(seconds=finished.metrics.makespan_s)
    metrics = finished.metrics
    return TraceSpan(
        name="invoke_agent planner",
        start_s=start.timestamp(),
        end_s=end.timestamp(),
        error=None if finished.status == "succeeded" else (finished.reason or finished.status),
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "planner",
            "genesis.run_id": finished.run_id,
            "genesis.run.status": finished.status,
            "genesis.run.strategy": finished.strategy or "",
            "genesis.run.tasks": metrics.tasks,
            "genesis.run.attempts": metrics.attempts,
            "genesis.run.makespan_s": metrics.makespan_s,
            "genesis.run.speedup": metrics.speedup,
            "gen_ai.usage.total_tokens": metrics.tokens,
        },
    )


def turn_spans(turns: Iterable[TurnRecorded]) -> list[TraceSpan]:
    """One span per distinct turn (redelivered turns share an event id), in the order they started."""
    unique = {turn.event_id: turn for turn in turns}
    return [turn_span(turn) for turn in sorted(unique.values(), key=_started)]


def turn_span(turn: TurnRecorded) -> TraceSpan:
    start = _started(turn)
    attributes: dict[str, Attribute] = {
        "gen_ai.operation.name": turn.operation,
        "gen_ai.tool.name": turn.tool_name,
        "gen_ai.usage.input_tokens": turn.input_tokens,
        "gen_ai.usage.output_tokens": turn.output_tokens,
        "genesis.run_id": turn.run_id,
        "genesis.task_id": turn.task_id,
        "genesis.attempt": turn.attempt,
        "genesis.executor": turn.executor,
        # Sizes, not text: arguments and outputs may hold personal data, which the warehouse scrubs.
        "genesis.arguments_bytes": turn.arguments_bytes,
        "genesis.output_bytes": turn.output_bytes,
    }
    if turn.model:
        attributes["gen_ai.request.model"] = turn.model
    return TraceSpan(
        name=f"{turn.operation} {turn.tool_name}",
        start_s=start,
        end_s=start + turn.latency_s,
        error=turn.error or ("failed" if turn.status == "error" else None),
        attributes=attributes,
    )


def _started(turn: TurnRecorded) -> float:
    # An executor that did not say when the call started: it ended when the event was stamped.
    started = turn.started_at or (turn.occurred_at - timedelta(seconds=turn.latency_s))
    return started.timestamp()
