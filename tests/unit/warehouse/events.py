"""Building warehouse inputs in tests: Kafka-like records of events, batches of them, and a small fan-out run."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas import (
    Event,
    Plan,
    RunFinished,
    RunMetrics,
    RunPlanned,
    RunReplanned,
    RunRequested,
    Task,
    TaskFinished,
    TaskReady,
    TaskSkipped,
    TurnRecorded,
    encode_event,
)
from services.curator.core.pii import PiiDetector
from services.warehouse.core.batch import Batch
from services.warehouse.core.prepare import PreparedBatch, prepare
from services.warehouse.core.scrubbing import TextScrubber
from services.warehouse.store import WarehouseStore, WriteResult

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
_offsets = itertools.count()


@dataclass(frozen=True)
class FakeRecord:
    topic: str
    partition: int
    offset: int
    value: bytes | None
    timestamp: int = 1_772_355_600_000
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(
    event: Event | bytes, *, topic: str = "t.events", partition: int = 0, offset: int | None = None
) -> FakeRecord:
    value = event if isinstance(event, bytes) else encode_event(event)
    return FakeRecord(topic, partition, next(_offsets) if offset is None else offset, value)


def batch_of(*items: Event | bytes | FakeRecord) -> Batch:
    batch = Batch()
    for item in items:
        batch.add(item if isinstance(item, FakeRecord) else record(item), 0.0)
    return batch


def scrubber() -> TextScrubber:
    return TextScrubber(PiiDetector().scrub)


def prepared(*items: Event | bytes | FakeRecord) -> PreparedBatch:
    return prepare(batch_of(*items), scrubber())


def write(store: WarehouseStore, *items: Event | bytes | FakeRecord) -> WriteResult:
    return store.commit(prepared(*items))


def fan_out_run(run_id: str, *, width: int = 3, executors: int = 2, failing: str | None = None) -> list[Event]:
    """A run of ``width`` parallel one-second searches and a join; ``failing`` fails once, then succeeds."""
    searches = [Task(id=str(n), tool="kb_search", args={"query": f"q{n}"}) for n in range(1, width + 1)]
    join = Task(id=str(width + 1), tool="calculator", args={"expression": "1"}, deps=tuple(t.id for t in searches))
    plan = Plan(tasks=(*searches, join), format="seed")
    events: list[Event] = [
        RunRequested(run_id=run_id, occurred_at=at(0), plan=plan, labels={"job": "fan"}),
        RunPlanned(
            run_id=run_id,
            occurred_at=at(0.01),
            plan=plan,
            strategy="parallel",
            levels=[[t.id for t in searches], [join.id]],
            critical_path=[searches[0].id, join.id],
        ),
    ]
    clock = 0.02
    for index, task in enumerate(searches):
        attempts = [("error", 1.0), ("ok", 1.0)] if task.id == failing else [("ok", 1.0 + index * 0.1)]
        start = clock
        for attempt, (status, seconds) in enumerate(attempts, start=1):
            events += _attempt(run_id, task, attempt, start, seconds, status, f"executor-{(index % executors) + 1}")
            start += seconds + 0.05
    join_start = max(e.finished_at for e in events if isinstance(e, TaskFinished)).timestamp() - T0.timestamp()
    events += _attempt(run_id, join, 1, join_start + 0.02, 0.01, "ok", "executor-1")
    finished = at(join_start + 0.05)
    events.append(
        RunFinished(
            run_id=run_id,
            occurred_at=finished,
            status="succeeded",
            answer=42,
            metrics=RunMetrics(
                makespan_s=join_start + 0.05, sequential_s=3.3, critical_path_s=1.21, speedup=2.5, tasks=width + 1
            ),
            strategy="parallel",
            labels={"job": "fan"},
        )
    )
    return events


def _attempt(
    run_id: str, task: Task, attempt: int, start: float, seconds: float, status: str, executor: str
) -> list[Event]:
    common = {"run_id": run_id, "task_id": task.id, "attempt": attempt}
    error = "search backend down" if status == "error" else None
    return [
        TaskReady(**common, occurred_at=at(start - 0.01), tool=task.tool or "llm", args=task.args),
        TurnRecorded(
            **common,
            occurred_at=at(start + seconds),
            tool_name=task.tool or "llm",
            started_at=at(start),
            latency_s=seconds,
            status=status,
            error=error,
            executor=executor,
            input_tokens=10,
            output_tokens=5,
        ),
        TaskFinished(
            **common,
            occurred_at=at(start + seconds),
            status=status,
            result=None if error else 1,
            error=error,
            started_at=at(start),
            finished_at=at(start + seconds),
            executor=executor,
        ),
    ]


LOOKUP = Task(id="1", tool="kb_search", args={"query": "population of Atlantis"})
ANSWER = Task(id="2", description="say how many people live there", deps=("1",))
STAND_IN = Task(id="r1.1", tool="kb_search", args={"query": "population of Peru"})


def replanned_run(run_id: str) -> list[Event]:
    """Task 1 fails, a sub-plan of one task (r1.1) takes its place, and task 2 now needs r1.1."""
    plan = Plan(tasks=(LOOKUP, ANSWER))
    extended = Plan(tasks=(LOOKUP, Task(id="2", description=ANSWER.description, deps=("r1.1",)), STAND_IN))
    return [
        RunRequested(run_id=run_id, occurred_at=at(0), plan=plan),
        RunPlanned(
            run_id=run_id,
            occurred_at=at(0.01),
            plan=plan,
            strategy="sequential",
            levels=[["1"], ["2"]],
            critical_path=["1", "2"],
        ),
        *_attempt(run_id, LOOKUP, 1, 0.02, 0.1, "error", "executor-1"),
        RunReplanned(
            run_id=run_id,
            occurred_at=at(0.2),
            replaced_task_id="1",
            reason="search backend down",
            plan=extended,
            added=["r1.1"],
            stands_in="r1.1",
            levels=[["1", "r1.1"], ["2"]],
            critical_path=["r1.1", "2"],
        ),
        *_attempt(run_id, STAND_IN, 1, 0.3, 0.1, "ok", "executor-2"),
        TaskSkipped(run_id=run_id, occurred_at=at(0.5), task_id="2", reason="the test stops here"),
    ]
