"""Where batches are prepared: in a worker process of their own (the service), or on a thread (tests, tools).

Preparing is Python from end to end (decoding, scrubbing, rows, Arrow tables) and holds the interpreter lock
while it runs. In the service the event loop consuming from Kafka needs the same lock, and so does DuckDB for
moments while it reads each batch's Arrow tables: on a thread, the three take turns. A worker process has a lock
of its own, so consuming, preparing and committing run at once on two cores. Records go to the worker as plain
tuples and Arrow tables come back; both pickle at a fraction of a microsecond per event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Collection
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import Protocol

import pyarrow as pa

from services.curator.bootstrap import build_detector
from services.curator.settings import load_curator_settings
from services.warehouse.core.batch import Batch
from services.warehouse.core.prepare import EventScrubber, PreparedBatch, derive_only, prepare
from services.warehouse.core.scrubbing import KeepText, TextScrubber
from services.warehouse.tuning import tune_process_for_ingest


class Preparer(Protocol):
    async def start(self) -> None: ...

    async def prepare(self, batch: Batch) -> PreparedBatch: ...

    def close(self) -> None: ...


def build_scrubber(scrub_pii: bool) -> TextScrubber | KeepText:
    # The curator's detector, with the curator's phone regions: one definition of personal data for the project.
    return TextScrubber(build_detector(load_curator_settings()).scrub) if scrub_pii else KeepText()


class ThreadPreparer:
    """Prepares on one thread of this process (in order, one batch at a time)."""

    def __init__(self, scrubber: EventScrubber) -> None:
        self._scrubber = scrubber
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse-prepare")

    async def start(self) -> None:
        return None

    async def prepare(self, batch: Batch) -> PreparedBatch:
        return await _run(self._thread, prepare, batch, self._scrubber)

    def close(self) -> None:
        self._thread.shutdown()


class ProcessPreparer:
    """Prepares in one worker process (in order, one batch at a time), which builds its own scrubber."""

    def __init__(self, *, scrub_pii: bool) -> None:
        # spawn, not fork: the parent runs threads (DuckDB's, the event loop's) that a fork would copy mid-step.
        self._worker = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(scrub_pii,),
        )
        self.worker_pid: int | None = None

    async def start(self) -> None:
        """Start the worker now (it imports for a second or so), not when the first batch arrives."""
        self.worker_pid = await _run(self._worker, os.getpid)

    async def prepare(self, batch: Batch) -> PreparedBatch:
        prepared = await _run(self._worker, _prepare_in_worker, batch)
        return dataclasses.replace(prepared, derive_only=partial(self._derive_only, batch))

    def _derive_only(self, batch: Batch, event_ids: Collection[str]) -> dict[str, pa.Table]:
        # Called on the database thread, in the rare batch that repeats stored events: waiting there is fine.
        return self._worker.submit(_derive_only_in_worker, batch, set(event_ids)).result()

    def close(self) -> None:
        self._worker.shutdown()


async def _run(executor: Executor, function, *args):  # type: ignore[no-untyped-def]
    return await asyncio.wrap_future(executor.submit(function, *args))


# The worker process's state: its scrubber, built once when the process starts.
_scrubber: EventScrubber = KeepText()


def _start_worker(scrub_pii: bool) -> None:
    global _scrubber
    _exit_with_parent()
    tune_process_for_ingest()
    _scrubber = build_scrubber(scrub_pii)


def _exit_with_parent() -> None:
    """A service killed outright (SIGKILL) cannot shut its pool down, and the worker would wait for work forever
    (it holds both ends of its task queue, so it never sees the queue close): it leaves when its parent does."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_when_gone, args=(parent.sentinel,), name="parent-watch", daemon=True).start()


def _exit_when_gone(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(1)  # nothing the worker holds is worth finishing: its batch is read again after the restart


def _prepare_in_worker(batch: Batch) -> PreparedBatch:
    # The prepared batch's own derive_only holds every decoded event: it stays here, and the parent sets its own.
    return dataclasses.replace(prepare(batch, _scrubber), derive_only=None)


def _derive_only_in_worker(batch: Batch, event_ids: set[str]) -> dict[str, pa.Table]:
    return derive_only(batch, _scrubber, event_ids)
