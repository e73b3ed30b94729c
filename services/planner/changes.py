"""What the planner changed since its last flush: runs to journal, events to publish, inputs to commit."""

from __future__ import annotations

from aiokafka import TopicPartition

from schemas import Event
from services.planner.core.run import RunState


class Changes:
    def __init__(self) -> None:
        self.states: dict[str, RunState] = {}
        self.events: list[Event] = []
        self.offsets: dict[TopicPartition, int] = {}

    def record(self, state: RunState, emitted: list[Event]) -> None:
        self.states[state.run_id] = state
        self.events.extend(emitted)

    def consumed(self, partition: TopicPartition, offset: int) -> None:
        # Kafka's committed offset is the next record to read.
        self.offsets[partition] = max(offset + 1, self.offsets.get(partition, 0))

    def put_back(self, failed: Changes) -> None:
        """A flush of ``failed`` did not go through: take its changes back, ahead of those made since."""
        self.states = {**failed.states, **self.states}
        self.events = failed.events + self.events
        for partition, offset in failed.offsets.items():
            self.offsets[partition] = max(offset, self.offsets.get(partition, 0))

    def __bool__(self) -> bool:
        return bool(self.states or self.events or self.offsets)
