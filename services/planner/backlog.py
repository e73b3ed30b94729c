"""The inputs that waited while a partition had no owner, and the time each is judged at while a new owner reads them.

A planner that takes a partition over resumes its inputs from the offsets the previous owner journaled. Between
that owner's last commit and now (its session timeout, a restore), results kept arriving. Judged by the clock, the
first of them would expire leases whose results are next in line and run those tasks again. So until the new owner
has read up to where the inputs ended when it took over, it judges each input's leases and deadline at the time the
input was sent, and holds back its clock ticks for those runs. It stops holding back when the backlog is read, when a
poll finds nothing more, or after a bound, whichever comes first.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import TopicPartition


def sent_at(timestamp_ms: int) -> datetime:
    """A record's timestamp (its producer's clock) as a time."""
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


class Backlog:
    def __init__(self) -> None:
        self._ends: dict[TopicPartition, int] = {}  # inputs still behind the end they had at the take-over
        self._until: dict[int, float] = {}  # per partition: when to stop holding back (monotonic seconds)
        self.epoch = 0  # take-overs so far: a poll that began before the last one says nothing of its backlog

    def start(
        self, partition: int, positions: dict[TopicPartition, int], ends: dict[TopicPartition, int], until: float
    ) -> bool:
        """The partition was taken over with its inputs at ``positions``, ending at ``ends``; True when some input
        is behind."""
        behind = {tp: end for tp, end in ends.items() if positions.get(tp, end) < end}
        self.epoch += 1
        self._ends.update(behind)
        if behind:
            self._until[partition] = until
        return bool(behind)

    def judged_at(self, topic_partition: TopicPartition, timestamp_ms: int) -> datetime | None:
        """When an input read from ``topic_partition`` is judged: the time it was sent while it is in the backlog,
        otherwise None (now)."""
        return sent_at(timestamp_ms) if topic_partition in self._ends else None

    def applied(self, topic_partition: TopicPartition, offset: int) -> bool:
        """The input at ``offset`` was applied; True when that was the last of the backlog of its partition."""
        end = self._ends.get(topic_partition)
        if end is None or offset + 1 < end:
            return False
        del self._ends[topic_partition]
        return self._release_if_read(topic_partition.partition)

    def holds(self, partition: int, monotonic_now: float) -> bool:
        """Whether clock ticks of the partition's runs wait (its backlog is not read yet, and the bound not met)."""
        until = self._until.get(partition)
        if until is None:
            return False
        if monotonic_now >= until:
            self.drop({partition})
            return False
        return True

    def clear(self, *, polled_since: int) -> bool:
        """A poll that began at epoch ``polled_since`` found nothing to read: when no take-over began since, every
        backlog is read as far as it can be. True when one was held and is released."""
        if polled_since != self.epoch:
            return False
        held = bool(self._until)
        self._ends.clear()
        self._until.clear()
        return held

    def drop(self, partitions: set[int]) -> None:
        """The partitions left this planner (or their bound passed)."""
        for tp in [tp for tp in self._ends if tp.partition in partitions]:
            del self._ends[tp]
        for partition in partitions:
            self._until.pop(partition, None)

    def __bool__(self) -> bool:
        return bool(self._until)

    def _release_if_read(self, partition: int) -> bool:
        if any(tp.partition == partition for tp in self._ends):
            return False
        return self._until.pop(partition, None) is not None
