"""The remembering partitioner gives every key the partition Kafka's default partitioner gives it."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.partitioning import RememberingPartitioner

keys = st.binary(min_size=0, max_size=64)
partition_counts = st.integers(min_value=1, max_value=300)


@given(st.lists(st.tuples(keys, partition_counts), min_size=1, max_size=50))
def test_each_key_gets_the_default_partitioners_partition_when_asked_again_and_counts_change(
    asks: list[tuple[bytes, int]],
) -> None:
    partitioner = RememberingPartitioner(max_keys=8)  # small: the memory is cleared while the test runs
    for key, count in asks + asks:  # every key asked twice, the second time from memory
        partitions = list(range(count))
        assert partitioner(key, partitions, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_a_record_without_key_goes_to_an_available_partition_when_some_are_down() -> None:
    partitioner = RememberingPartitioner()
    assert all(partitioner(None, [0, 1, 2, 3], [2]) == 2 for _ in range(20))
