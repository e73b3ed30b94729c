"""The topic catalogue: the single source of truth for every Kafka topic, its key and the events on it.

Each event type travels on exactly one topic, so publishing needs only the event: ``catalogue.route(event)``
gives the topic and the key. A ``prefix`` namespaces every name, which is how tests and tenants stay apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.events import (
    Event,
    PolicyUpdated,
    RewardAssigned,
    RunCancelRequested,
    RunFinished,
    RunPlanned,
    RunRejected,
    RunReplanned,
    RunRequested,
    TaskFinished,
    TaskReady,
    TaskSkipped,
    TaskStarted,
    TurnRecorded,
)

DAY_MS = 24 * 60 * 60 * 1000


def by_run(event: Event) -> str:
    return event.run_id


def by_task(event: Event) -> str:
    # Spreads one run's tasks over the partitions, so a wide fan-out reaches many executors; the attempt is part
    # of the key so that a re-dispatch lands on another partition, not behind the backlog that delayed the last one.
    return f"{event.run_id}/{event.task_id}/{event.attempt}"  # type: ignore[attr-defined]


def by_policy_name(event: Event) -> str:
    # One key: compaction keeps only the newest policy.
    return "planner"


@dataclass(frozen=True)
class TopicSpec:
    suffix: str
    key: Callable[[Event], str]
    key_doc: str
    partitions: int
    events: tuple[type[Event], ...]
    retention_ms: int | None = 7 * DAY_MS
    compacted: bool = False

    def configs(self) -> dict[str, str]:
        if self.compacted:
            return {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1", "segment.ms": str(60 * 60 * 1000)}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms)}


RUNS_REQUESTED = TopicSpec("runs.requested", by_run, "run_id", 6, (RunRequested, RunCancelRequested))
RUN_EVENTS = TopicSpec("runs.events", by_run, "run_id", 6, (RunPlanned, RunReplanned, TaskSkipped))
RUNS_FINISHED = TopicSpec("runs.finished", by_run, "run_id", 6, (RunFinished, RunRejected))
TASKS_READY = TopicSpec("tasks.ready", by_task, "run_id/task_id/attempt", 12, (TaskReady,))
TASKS_FINISHED = TopicSpec("tasks.finished", by_run, "run_id", 6, (TaskFinished, TaskStarted))
TURNS = TopicSpec("turns", by_run, "run_id", 6, (TurnRecorded,))
POLICY = TopicSpec("policy", by_policy_name, "policy name", 1, (PolicyUpdated,), retention_ms=None, compacted=True)
REWARDS = TopicSpec("rewards", by_run, "run_id", 3, (RewardAssigned,))
# The planner's changelog: per run, the events its state is folded from; a tombstone evicts a finished run.
PLANNER_JOURNAL = TopicSpec("planner.journal", by_run, "run_id", 6, (), retention_ms=None, compacted=True)
# The runs the planner finished, one small record each, written in the transaction that ends the run and kept as
# long as runs.requested keeps requests: a request redelivered or sent again after its run ended is recognised,
# across restarts, for as long as it could be redelivered at all.
PLANNER_FINISHED = TopicSpec("planner.finished", by_run, "run_id", 6, (), retention_ms=RUNS_REQUESTED.retention_ms)
# Bytes nobody could decode or process, unchanged, with the reason and origin in the headers.
DEAD_LETTERS = TopicSpec("dlq", by_run, "original key", 1, (), retention_ms=30 * DAY_MS)

TOPIC_SPECS: tuple[TopicSpec, ...] = (
    RUNS_REQUESTED,
    RUN_EVENTS,
    RUNS_FINISHED,
    TASKS_READY,
    TASKS_FINISHED,
    TURNS,
    POLICY,
    REWARDS,
    PLANNER_JOURNAL,
    PLANNER_FINISHED,
    DEAD_LETTERS,
)
# Read together by one planner (range assignor): partition p of each holds the same runs, so their partition
# counts must be equal (streams/admin.py checks it at start-up).
CO_PARTITIONED: tuple[TopicSpec, ...] = (RUNS_REQUESTED, TASKS_FINISHED, PLANNER_JOURNAL, PLANNER_FINISHED)


@dataclass(frozen=True)
class Catalogue:
    prefix: str = "genesis"
    _routes: dict[type[Event], TopicSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        routes = {event_type: spec for spec in TOPIC_SPECS for event_type in spec.events}
        object.__setattr__(self, "_routes", routes)

    def name(self, spec: TopicSpec) -> str:
        return f"{self.prefix}.{spec.suffix}"

    def names(self) -> list[str]:
        return [self.name(spec) for spec in TOPIC_SPECS]

    def event_topics(self) -> list[str]:
        """Every topic that carries events (what the warehouse records)."""
        return [self.name(spec) for spec in TOPIC_SPECS if spec.events]

    def carries(self, event: Event) -> bool:
        """Whether the event travels on a topic (the planner's journal-only facts do not)."""
        return type(event) in self._routes

    def route(self, event: Event) -> tuple[str, str]:
        """The topic and key an event is published with."""
        spec = self._routes[type(event)]
        return self.name(spec), spec.key(event)
