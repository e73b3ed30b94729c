"""The writer: prepares each batch while DuckDB commits the one before, and notes what the snapshots must refresh.

Preparing (scrubbing, mapping rows, building Arrow tables) is Python and holds the GIL; committing is DuckDB and
releases it. Two threads let the two overlap, which on a two-core machine nearly doubles the ingest rate.
The DuckDB connection is only ever used from its own thread.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any, TypeVar

from services.warehouse.core.batch import Batch, Partition
from services.warehouse.core.prepare import EventScrubber, PreparedBatch, prepare
from services.warehouse.store import WarehouseStore, WriteResult

T = TypeVar("T")
# See tune_process_for_ingest.
GC_FIRST_GENERATION_THRESHOLD = 100_000
GIL_SWITCH_INTERVAL_S = 0.0001
# Batches handed to the database thread before preparing waits: enough to keep preparing through a checkpoint
# (DuckDB folds its log into the file inside one commit, for a second or two at the default threshold).
COMMITS_AHEAD = 4


def tune_process_for_ingest() -> None:
    """Settings for a process whose main work is ingesting; they double the ingest rate on two cores.

    A batch allocates a few hundred thousand short-lived objects, none in reference cycles: reference counting
    frees them, and the cyclic collector running every 700 allocations only rescans the batch being prepared.
    DuckDB takes the GIL briefly many times per statement; with the default 5 ms switch interval each take
    waits behind the preparing thread, which makes a commit several times slower.
    """
    gc.set_threshold(GC_FIRST_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


class BatchWriter:
    def __init__(self, store: WarehouseStore, scrubber: EventScrubber) -> None:
        self._store = store
        self._scrubber = scrubber
        self._database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse-db")
        self._preparing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse-prepare")
        # Batches handed to the database thread, oldest first, with the offsets each stores.
        self._committing: deque[tuple[asyncio.Future[WriteResult], dict[Partition, int]]] = deque()
        self.events = 0  # events stored in the warehouse, all time
        self.repeated = 0  # events received again under an id already stored, since start
        # Per partition, the offset the warehouse has stored (committed in DuckDB) since start.
        self.stored_offsets: dict[Partition, int] = {}
        # Per table, the days changed since the snapshot writer last took this: the partitions to rewrite.
        self.touched: dict[str, set[date]] = defaultdict(set)

    async def start(self) -> None:
        self.events = await self.in_database(self._store.count, "events")

    async def prepare(self, batch: Batch) -> PreparedBatch:
        """Decode, scrub and map a batch on the preparing thread (while the previous batch may still commit)."""
        return await asyncio.get_running_loop().run_in_executor(self._preparing, prepare, batch, self._scrubber)

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
            self._preparing.shutdown()
