"""Which offset an executor may commit while many tasks of one partition are in flight.

Tasks finish out of order. Committing the offset of a finished task would, after a crash, lose the slower
tasks below it; so the commit point is the oldest offset still in flight (the Confluent Parallel Consumer idea).
"""

from __future__ import annotations

from collections.abc import Hashable


class InFlightOffsets:
    def __init__(self) -> None:
        self._in_flight: dict[Hashable, set[int]] = {}
        self._highest_done: dict[Hashable, int] = {}

    def started(self, partition: Hashable, offset: int) -> None:
        self._in_flight.setdefault(partition, set()).add(offset)

    def finished(self, partition: Hashable, offset: int) -> int:
        """Mark ``offset`` done; return the offset to commit (the next record to read after a restart)."""
        pending = self._in_flight.get(partition, set())
        pending.discard(offset)
        self._highest_done[partition] = max(offset, self._highest_done.get(partition, -1))
        return min(pending) if pending else self._highest_done[partition] + 1

    def in_flight(self, partition: Hashable | None = None) -> int:
        if partition is not None:
            return len(self._in_flight.get(partition, ()))
        return sum(len(offsets) for offsets in self._in_flight.values())

    def forget(self, partition: Hashable) -> None:
        """The partition went to another executor: its commit point is no longer ours to move."""
        self._in_flight.pop(partition, None)
        self._highest_done.pop(partition, None)
