"""Batches are cut by size and by time, and forget the partitions a rebalance takes away."""

from __future__ import annotations

from schemas import RunRequested
from services.warehouse.core.batch import Batch
from tests.unit.warehouse.events import record


def test_batch_is_due_when_full_or_when_its_oldest_record_has_waited_long_enough() -> None:
    batch = Batch()
    assert not batch.due(100.0, max_events=2, max_wait_s=0.5)
    batch.add(record(RunRequested(run_id="a")), now=10.0)
    assert not batch.due(10.4, max_events=2, max_wait_s=0.5)
    assert batch.due(10.5, max_events=2, max_wait_s=0.5)
    batch.add(record(RunRequested(run_id="b")), now=10.1)
    assert batch.due(10.1, max_events=2, max_wait_s=0.5)


def test_revoked_partitions_are_dropped_with_their_offsets_when_a_rebalance_takes_them() -> None:
    batch = Batch()
    for partition in (0, 1):
        batch.add(record(RunRequested(run_id=f"r{partition}"), topic="t", partition=partition, offset=5), now=1.0)
    batch.drop({("t", 0)})
    assert [row[1] for row in batch.records] == [1]  # (topic, partition, ...)
    assert batch.next_offsets == {("t", 1): 6}
    batch.drop({("t", 1)})
    assert batch.is_empty and not batch.due(99.0, max_events=10, max_wait_s=0.1)
