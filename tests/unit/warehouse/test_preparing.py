"""Preparing in a worker process gives what preparing on a thread gives, repeats and dead letters included."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import RunRequested, TurnRecorded
from services.warehouse.core.batch import Batch
from services.warehouse.core.prepare import PreparedBatch
from services.warehouse.preparing import ProcessPreparer, ThreadPreparer
from services.warehouse.store import WarehouseStore
from tests.unit.warehouse.events import batch_of, fan_out_run, record, scrubber, write

CONTACT = "call +1 415 555 2671 about it"


@pytest.fixture(scope="module")
def worker() -> Iterator[ProcessPreparer]:
    preparer = ProcessPreparer(scrub_pii=True)
    asyncio.run(preparer.start())
    yield preparer
    preparer.close()


def in_worker(preparer: ProcessPreparer, batch: Batch) -> PreparedBatch:
    return asyncio.run(preparer.prepare(batch))


def on_thread(batch: Batch) -> PreparedBatch:
    preparer = ThreadPreparer(scrubber())
    try:
        return asyncio.run(preparer.prepare(batch))
    finally:
        preparer.close()


def test_worker_prepares_the_same_tables_as_a_thread_when_given_the_same_batch(worker: ProcessPreparer) -> None:
    events = [*fan_out_run("run-1"), RunRequested(run_id="run-2", query=CONTACT)]
    batch = batch_of(*events, b"{not an event")
    there, here = in_worker(worker, batch), on_thread(batch)
    assert there.events.equals(here.events)
    assert there.derived.keys() == here.derived.keys()
    assert all(there.derived[name].equals(here.derived[name]) for name in here.derived)
    assert there.offsets.equals(here.offsets) and there.next_offsets == here.next_offsets
    assert (
        (there.unique, there.received, there.pii_replaced)
        == (here.unique, here.received, here.pii_replaced)
        == (
            len(events),
            len(events),
            1,
        )
    )


def test_dead_letter_keeps_its_origin_when_the_worker_finds_a_record_that_is_no_event(
    worker: ProcessPreparer,
) -> None:
    bad = record(b"{not an event", topic="t.turns", partition=3, offset=41)
    [letter] = in_worker(worker, batch_of(bad)).dead_letters
    assert (letter.record.topic, letter.record.partition, letter.record.offset, letter.record.value) == (
        "t.turns",
        3,
        41,
        b"{not an event",
    )
    assert letter.reason.startswith("undecodable")


def test_only_new_events_are_derived_when_a_batch_prepared_in_the_worker_repeats_stored_ones(
    worker: ProcessPreparer, store: WarehouseStore
) -> None:
    stored = TurnRecorded(run_id="r", task_id="1", tool_name="kb_search", latency_s=0.2)
    new = TurnRecorded(run_id="r", task_id="2", tool_name="calculator", latency_s=0.1)
    write(store, record(stored, offset=1))
    result = store.commit(in_worker(worker, batch_of(record(stored, offset=2), record(new, offset=3))))
    assert (result.events, result.repeated) == (1, 1)
    assert store.count("events") == 2 and store.count("turns") == 2


HOLDER = """
import asyncio, sys
from services.warehouse.preparing import ProcessPreparer

if __name__ == "__main__":
    preparer = ProcessPreparer(scrub_pii=False)
    asyncio.run(preparer.start())
    print(preparer.worker_pid, flush=True)
    sys.stdin.read()  # held until killed
"""


def test_worker_exits_when_the_service_holding_it_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    holder = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=Path.cwd(), text=True
    )
    try:
        assert holder.stdout is not None
        worker_pid = int(holder.stdout.readline())
        assert _alive(worker_pid)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    deadline = time.monotonic() + 10
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the process table: there is no event to wait on for another process's exit
    assert not _alive(worker_pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited and waits only to be reaped
