"""The writer: prepares each batch while DuckDB commits the ones before, and notes what the snapshots must refresh.

Preparing (scrubbing, mapping rows, building Arrow tables) happens in the preparer (preparing.py: a worker
process in the service); committing is DuckDB on the writer's database thread, which releases the GIL while it
works. The two overlap. The DuckDB connection is only ever used from its own thread.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any, TypeVar

from services.warehouse.core.batch import Batch, Partition
from services.warehouse.core.prepare import PreparedBatch
from services.warehouse.preparing import Preparer
from services.warehouse.store import WarehouseStore, WriteResult

T = TypeVar("T")
# Batches handed to the database thread before preparing waits: enough to keep preparing through a checkpoint
# (DuckDB folds its log into the file inside one commit, for a second or two at the default threshold).
COMMITS_AHEAD = 4


class BatchWriter:
    def __init__(self, store: WarehouseStore, preparer: Preparer) -> None:
        self._store = store
        self._preparer = preparer
        self._database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse-db")
        # Batches handed to the database thread, oldest first, with the offsets each stores.
        self._committing: deque[tuple[asyncio.Future[WriteResult], dict[Partition, int]]] = deque()
        self.events = 0  # events stored in the warehouse, all time
        self.repeated = 0  # events received again under an id already stored, since start
        self.pii_replaced = 0  # personal data values replaced while preparing, since start
        # Per partition, the offset the warehouse has stored (committed in DuckDB) since start.
        self.stored_offsets: dict[Partition, int] = {}
        # Per table, the days changed since the snapshot writer last took this: the partitions to rewrite.
        self.touched: dict[str, set[date]] = defaultdict(set)

    async def start(self) -> None:
        self.events = await self.in_database(self._store.count, "events")
        await self._preparer.start()

    async def prepare(self, batch: Batch) -> PreparedBatch:
        """Decode, scrub and map a batch in the preparer (while the previous batches may still commit)."""
        prepared = await self._preparer.prepare(batch)
        self.pii_replaced += prepared.pii_replaced
        return prepared

    async def commit(self, prepared: PreparedBatch) -> None:
        """Hand a batch to the database thread, which commits batches in order; waits only while the handed-over
        batches are more than COMMITS_AHEAD (a checkpoint can stall one commit for seconds: preparing goes on)."""
        future = asyncio.get_running_loop().run_in_executor(self._database, self._store.commit, prepared)
        self._committing.append((future, prepared.next_offsets))
        while len(self._committing) > COMMITS_AHEAD:
            await self._settle_oldest()

    async def settled(self) -> None:
        """Wait until every batch handed over is committed; raises what a failed commit raised."""
        while self._committing:
            await self._settle_oldest()

    async def collect(self) -> None:
        """Take in the results of commits that have finished, without waiting for the others."""
        while self._committing and self._committing[0][0].done():
            await self._settle_oldest()

    async def _settle_oldest(self) -> None:
        future, offsets = self._committing.popleft()
        try:
            result = await future
        except BaseException:
            # Later batches may commit, but their offsets are past this one's rows: nothing after it counts.
            self._committing.clear()
            raise
        self.events += result.events
        self.repeated += result.repeated
        self.stored_offsets.update(offsets)
        for table, days in result.touched.items():
            self.touched[table] |= days

    async def in_database(self, function: Callable[..., T], *args: Any) -> T:
        """Run a function on the database thread (after the commits handed over before it)."""
        return await asyncio.get_running_loop().run_in_executor(self._database, function, *args)

    def take_touched(self) -> dict[str, set[date]]:
        touched, self.touched = dict(self.touched), defaultdict(set)
        return touched

    async def close(self) -> None:
        try:
            await self.settled()
        finally:
            await self.in_database(self._store.close)
            self._database.shutdown()
            self._preparer.close()
