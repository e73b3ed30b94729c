"""One realistic instance of every event type, for round-trip and evolution tests."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import (
    Event,
    Plan,
    Policy,
    PolicyUpdated,
    RewardAssigned,
    RunCancelRequested,
    RunFinished,
    RunMetrics,
    RunPlanned,
    RunRejected,
    RunReplanned,
    RunRequested,
    Task,
    TaskFinished,
    TaskReady,
    TaskSkipped,
    TaskStarted,
    TurnRecorded,
)

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PLAN = Plan(
    tasks=(
        Task(id="1", tool="kb_search", args={"query": "population of France"}),
        Task(id="2", tool="kb_search", args={"query": "population of Germany"}),
        Task(
            id="3",
            tool="calculator",
            args={"expression": {"$concat": [{"$ref": "1"}, " / ", {"$ref": "2"}]}},
            deps=("1", "2"),
        ),
    ),
    format="seed",
)


def one_of_each(run_id: str) -> list[Event]:
    return [
        RunRequested(run_id=run_id, plan=PLAN, expected_answer="0.8", labels={"suite": "roundtrip"}),
        RunCancelRequested(run_id=run_id, reason="the user changed their mind"),
        RunRejected(run_id=run_id, reason="cycle: 1 -> 2 -> 1", line=2),
        RunPlanned(run_id=run_id, plan=PLAN, strategy="parallel", levels=[["1", "2"], ["3"]], critical_path=["1", "3"]),
        RunReplanned(
            run_id=run_id,
            replaced_task_id="2",
            reason="kb_search: no country or film matches 'Germny'",
            plan=Plan(
                tasks=(
                    *PLAN.tasks[:2],
                    Task(id="r1.1", tool="kb_search", args={"query": "population of Germany"}),
                    Task(
                        id="3",
                        tool="calculator",
                        args={"expression": {"$concat": [{"$ref": "1"}, " / ", {"$ref": "r1.1"}]}},
                        deps=("1", "r1.1"),
                    ),
                )
            ),
            added=["r1.1"],
            stands_in="r1.1",
            levels=[["1", "2", "r1.1"], ["3"]],
            critical_path=["1", "3"],
        ),
        TaskReady(run_id=run_id, task_id="1", tool="kb_search", args={"query": "population of France"}),
        TaskStarted(run_id=run_id, task_id="1", executor="executor-1", dispatched_at=AT),
        TaskFinished(run_id=run_id, task_id="1", status="ok", result=68_400_000, started_at=AT, finished_at=AT),
        TaskSkipped(run_id=run_id, task_id="3", reason="dependency 2 failed: timeout"),
        TurnRecorded(run_id=run_id, task_id="1", tool_name="kb_search", latency_s=0.25, arguments_bytes=31),
        RunFinished(
            run_id=run_id,
            status="succeeded",
            answer=0.8,
            observations={"1": 68_400_000},
            metrics=RunMetrics(makespan_s=0.5),
        ),
        PolicyUpdated(run_id=run_id, policy=Policy(version=2, max_parallelism=4)),
        RewardAssigned(run_id=run_id, reward=1.15, components={"correct": 1.0, "few_turns": 0.1}),
    ]
