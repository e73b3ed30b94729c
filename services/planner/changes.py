"""What the planner changed since its last flush: runs to journal, events to publish, inputs to commit."""

from __future__ import annotations

from collections.abc import Callable

from aiokafka import TopicPartition

from schemas import Event
from services.planner.core.run import RunState


class Changes:
    def __init__(self) -> None:
        self.states: dict[str, RunState] = {}
        self.events: list[Event] = []
        self.offsets: dict[TopicPartition, int] = {}
        self.counts: dict[TopicPartition, int] = {}  # records consumed per input partition, for the figures

    @property
    def inputs(self) -> int:
        return sum(self.counts.values())

    def record(self, state: RunState, emitted: list[Event]) -> None:
        self.states[state.run_id] = state
        self.events.extend(emitted)

    def consumed(self, partition: TopicPartition, offset: int) -> None:
        # Kafka's committed offset is the next record to read.
        self.offsets[partition] = max(offset + 1, self.offsets.get(partition, 0))
        self.counts[partition] = self.counts.get(partition, 0) + 1

    def put_back(self, failed: Changes) -> None:
        """A flush of ``failed`` did not go through: take its changes back, ahead of those made since."""
        self.states = {**failed.states, **self.states}
        self.events = failed.events + self.events
        for partition, offset in failed.offsets.items():
            self.offsets[partition] = max(offset, self.offsets.get(partition, 0))
        for partition, count in failed.counts.items():
            self.counts[partition] = self.counts.get(partition, 0) + count

    def split(self, partition_of: Callable[[str], int]) -> dict[int, Changes]:
        """The changes per input partition (a run's by ``partition_of`` its id), each in the order made."""
        parts: dict[int, Changes] = {}

        def part(partition: int) -> Changes:
            return parts.setdefault(partition, Changes())

        for run_id, state in self.states.items():
            part(partition_of(run_id)).states[run_id] = state
        for event in self.events:
            part(partition_of(event.run_id)).events.append(event)
        for topic_partition, offset in self.offsets.items():
            part(topic_partition.partition).offsets[topic_partition] = offset
        for topic_partition, count in self.counts.items():
            part(topic_partition.partition).counts[topic_partition] = count
        return parts

    def __bool__(self) -> bool:
        return bool(self.states or self.events or self.offsets)
