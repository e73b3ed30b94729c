"""Kafka's default partitioner (murmur2 of the key, as in the Java client), with each key's hash remembered.

aiokafka computes murmur2 in pure Python for every record it sends with a key. An executor sends three or four
records per task under the same key (the run id: TaskStarted, its turns, TaskFinished), so most of those hashes are
computed again; they cost about 6% of an executor's time in a burst of tasks (py-spy, docs/BENCHMARKS.md). The hash
is remembered, not the partition, so a topic that gains partitions gets the right ones.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from aiokafka.partitioner import murmur2

# Keys remembered per producer; past it the memory starts again (a run's keys are hot only while it runs).
MAX_REMEMBERED_KEYS = 65_536


class RememberingPartitioner:
    """A drop-in for aiokafka's DefaultPartitioner (``AIOKafkaProducer(partitioner=...)``): same partition for every
    key, each key hashed once while it is remembered."""

    def __init__(self, max_keys: int = MAX_REMEMBERED_KEYS) -> None:
        self._hashes: dict[bytes, int] = {}
        self._max_keys = max_keys

    def __call__(self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
        if key is None:  # as DefaultPartitioner: any available partition
            return random.choice(available or all_partitions)
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._max_keys:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]
