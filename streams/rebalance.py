"""Hooks into a consumer group's rebalances: what to do when partitions arrive or leave, and when first ready."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

PartitionsHook = Callable[[set[TopicPartition]], Awaitable[None]]


class RebalanceHooks(ConsumerRebalanceListener):
    def __init__(
        self,
        *,
        on_assigned: PartitionsHook | None = None,
        on_revoked: PartitionsHook | None = None,
        on_first_assignment: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked
        # Called once, after the first assignment (possibly of no partitions): the consumer has joined its group.
        self._on_first_assignment = on_first_assignment

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if self._on_revoked is not None:
            await self._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if self._on_assigned is not None:
            await self._on_assigned(set(assigned))
        if self._on_first_assignment is not None:
            first, self._on_first_assignment = self._on_first_assignment, None
            await first()
