"""Specification of the executor's commit point while tasks of one partition finish out of order."""

from __future__ import annotations

from services.executor.core.offsets import InFlightOffsets


def test_commit_point_stays_at_the_oldest_task_in_flight_when_a_newer_task_finishes_first() -> None:
    offsets = InFlightOffsets()
    for offset in (10, 11, 12):
        offsets.started("p0", offset)
    assert offsets.finished("p0", 12) == 10
    assert offsets.finished("p0", 11) == 10
    assert offsets.finished("p0", 10) == 13  # all done: the next record to read


def test_commit_point_moves_to_the_next_oldest_when_the_oldest_finishes() -> None:
    offsets = InFlightOffsets()
    for offset in (5, 6, 7):
        offsets.started("p0", offset)
    assert offsets.finished("p0", 5) == 6
    assert offsets.in_flight("p0") == 2


def test_partitions_are_independent_when_tasks_come_from_several() -> None:
    offsets = InFlightOffsets()
    offsets.started("p0", 1)
    offsets.started("p1", 100)
    offsets.started("p1", 101)
    assert offsets.finished("p1", 101) == 100
    assert offsets.finished("p0", 1) == 2
    assert offsets.in_flight() == 1


def test_revoked_partition_is_forgotten_when_it_moves_to_another_executor() -> None:
    offsets = InFlightOffsets()
    offsets.started("p0", 1)
    offsets.forget("p0")
    assert offsets.in_flight("p0") == 0
    offsets.started("p0", 40)  # after a new assignment the partition starts afresh
    assert offsets.finished("p0", 40) == 41
