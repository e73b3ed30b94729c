"""Synthetic but realistic event streams for the warehouse benchmark: runs of parallel DAGs, as Kafka records.

Each run is requested, planned, has every task dispatched, recorded and finished (some attempts fail and are
retried), and finishes with metrics; one in ten gets a reward. Records carry the topic, partition and offset the
catalogue would give them, so the writer stores real-looking offsets. Arguments repeat across runs the way tool
queries do, calculator expressions and results mostly do not, and about one text in fifty holds personal data.
Event ids are this project's (time-ordered UUIDv7s), or with ``random_ids`` random v4 UUIDs, as a producer
outside the project may write them.
"""

from __future__ import annotations

import random
import uuid
import zlib
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import msgspec

from schemas import (
    Event,
    Plan,
    RewardAssigned,
    RunFinished,
    RunMetrics,
    RunPlanned,
    RunRequested,
    Task,
    TaskFinished,
    TaskReady,
    TurnRecorded,
    encode_event,
)
from services.warehouse.core.batch import RawRecord
from streams.catalogue import TOPIC_SPECS, Catalogue

START = datetime(2026, 11, 20, tzinfo=UTC)
# Median seconds and spread of each tool's latency (log-normal), and how often an attempt fails.
TOOLS = {
    "kb_search": (0.25, 0.4, 0.03),
    "calculator": (0.002, 0.5, 0.01),
    "http_get": (0.6, 0.8, 0.08),
    "llm": (1.8, 0.5, 0.04),
}
TOPICS = ("France", "Germany", "Japan", "Brazil", "Kenya", "Canada", "India", "Peru", "Norway", "Egypt")
FACTS = ("population", "capital", "area", "GDP", "median age", "highest mountain")
EXECUTORS = [f"executor-{n}@bench:{1000 + n}" for n in range(1, 9)]
PERSONAL = ("contact bob.smith@example.com", "call +1 415 555 2671", "card 4111 1111 1111 1111")


class SyntheticStream:
    def __init__(self, seed: int = 7, prefix: str = "bench", *, random_ids: bool = False) -> None:
        self._random = random.Random(seed)
        self._random_ids = random_ids
        self._catalogue = Catalogue(prefix)
        self._partitions = {self._catalogue.name(spec): spec.partitions for spec in TOPIC_SPECS}
        self._next_offset: dict[tuple[str, int], int] = defaultdict(int)
        self.attempts = 0
        self.runs = 0

    def records(self, attempts: int) -> Iterator[RawRecord]:
        """Records of whole runs until at least ``attempts`` task attempts have been produced."""
        while self.attempts < attempts:
            for event in self._run():
                yield self._record(event)

    def _record(self, event: Event) -> RawRecord:
        topic, key = self._catalogue.route(event)
        partition = zlib.crc32(key.encode()) % self._partitions[topic]
        offset = self._next_offset[(topic, partition)]
        self._next_offset[(topic, partition)] = offset + 1
        if self._random_ids:
            event = msgspec.structs.replace(event, event_id=uuid.uuid4().hex)
        return RawRecord(topic, partition, offset, encode_event(event), int(event.occurred_at.timestamp() * 1000), None)

    def _run(self) -> list[Event]:
        rng = self._random
        run_id = f"run-{self.runs:07d}-{rng.getrandbits(32):08x}"
        self.runs += 1
        at = START + timedelta(seconds=self.runs * 0.7)
        plan = self._plan(rng)
        envelope = {"run_id": run_id, "source": "planner@bench"}
        events: list[Event] = [
            RunRequested(**envelope, occurred_at=at, plan=plan, labels={"job": f"job-{self.runs % 50}"}),
            RunPlanned(
                **envelope,
                occurred_at=at + timedelta(milliseconds=5),
                plan=plan,
                strategy="parallel",
                levels=[[t.id for t in plan.tasks[:-1]], [plan.tasks[-1].id]],
                critical_path=[plan.tasks[0].id, plan.tasks[-1].id],
            ),
        ]
        clock = at + timedelta(milliseconds=10)
        finished: dict[str, datetime] = {}
        durations: dict[str, float] = {}
        for task in plan.tasks:
            ready_at = max([finished[dep] for dep in task.deps], default=clock)
            attempt_at, attempt = ready_at, 1
            while True:
                ended_at, ok, task_events = self._attempt(run_id, task, attempt, attempt_at)
                events.extend(task_events)
                self.attempts += 1
                if ok or attempt == 3:
                    break
                attempt, attempt_at = attempt + 1, ended_at + timedelta(milliseconds=50)
            finished[task.id] = ended_at
            durations[task.id] = (ended_at - attempt_at).total_seconds()
        end = max(finished.values()) + timedelta(milliseconds=5)
        makespan = (end - at).total_seconds()
        sequential = sum(durations.values())
        events.append(
            RunFinished(
                **envelope,
                occurred_at=end,
                status="succeeded",
                answer=rng.randint(1, 10**9),
                metrics=RunMetrics(
                    makespan_s=makespan,
                    sequential_s=sequential,
                    critical_path_s=max(durations.values()),
                    speedup=sequential / makespan,
                    turns=len(plan.tasks),
                    tasks=len(plan.tasks),
                    attempts=len(plan.tasks),
                ),
                strategy="parallel",
            )
        )
        if self.runs % 10 == 0:
            events.append(RewardAssigned(**envelope, occurred_at=end, reward=rng.random(), components={"correct": 1.0}))
        return events

    def _plan(self, rng: random.Random) -> Plan:
        width = rng.randint(3, 8)
        searches = [
            Task(
                id=str(n),
                tool=rng.choice(("kb_search", "kb_search", "http_get", "llm")),
                args={"query": self._text(rng)},
            )
            for n in range(1, width + 1)
        ]
        join = Task(
            id=str(width + 1),
            tool="calculator",
            args={"expression": " + ".join(f"${t.id}" for t in searches)},
            deps=tuple(t.id for t in searches),
        )
        return Plan(tasks=(*searches, join), format="seed")

    def _attempt(self, run_id: str, task: Task, attempt: int, ready_at: datetime) -> tuple[datetime, bool, list[Event]]:
        rng = self._random
        median, spread, failure_rate = TOOLS[task.tool or "llm"]
        started = ready_at + timedelta(milliseconds=rng.uniform(1, 15))
        latency = median * rng.lognormvariate(0, spread)
        ended = started + timedelta(seconds=latency)
        ok = rng.random() >= failure_rate
        executor = rng.choice(EXECUTORS)
        common = {"run_id": run_id, "task_id": task.id, "attempt": attempt, "source": executor}
        result = rng.randint(1, 10**8) if ok else None
        error = None if ok else f"{task.tool} timed out after {latency:.1f}s"
        tokens = (rng.randint(200, 900), rng.randint(20, 300)) if task.tool == "llm" else (0, 0)
        return (
            ended,
            ok,
            [
                TaskReady(**common, occurred_at=ready_at, tool=task.tool or "llm", args=task.args),
                TurnRecorded(
                    **common,
                    occurred_at=ended,
                    operation="chat" if task.tool == "llm" else "execute_tool",
                    tool_name=task.tool or "llm",
                    model="gpt-4o-mini" if task.tool == "llm" else None,
                    arguments=str(task.args),
                    output=str(result) if ok else "",
                    started_at=started,
                    latency_s=latency,
                    status="ok" if ok else "error",
                    error=error,
                    input_tokens=tokens[0],
                    output_tokens=tokens[1],
                    executor=executor,
                ),
                TaskFinished(
                    **common,
                    occurred_at=ended,
                    status="ok" if ok else "error",
                    result=result,
                    error=error,
                    started_at=started,
                    finished_at=ended,
                    executor=executor,
                    input_tokens=tokens[0],
                    output_tokens=tokens[1],
                ),
            ],
        )

    def _text(self, rng: random.Random) -> str:
        text = f"{rng.choice(FACTS)} of {rng.choice(TOPICS)}"
        return f"{text}, {rng.choice(PERSONAL)}" if rng.random() < 0.02 else text


def as_consumed(records: list[RawRecord], per_fetch: int = 2_000) -> list[RawRecord]:
    """The records in the order a consumer reading them as a backlog gets them: each partition in turn, about
    one fetch (1 MB, some 2,000 records) at a time. Events of one run then land in different batches (a task's
    dispatch in one, its end in a later one), as they do in a running system, where they are seconds apart."""
    partitions: dict[tuple[str, int], list[RawRecord]] = defaultdict(list)
    for record in records:
        partitions[(record.topic, record.partition)].append(record)
    ordered: list[RawRecord] = []
    for start in range(0, max(map(len, partitions.values()), default=0), per_fetch):
        for records_of_partition in partitions.values():
            ordered.extend(records_of_partition[start : start + per_fetch])
    return ordered
