"""Journal snapshots: a run that has written many records rewrites its history as a few and deletes the rest, and
restoring from the snapshot and the records after it gives the state that every record gives."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from schemas import Plan, Policy, RunCancelRequested, Task, TaskFinished, TaskReady
from services.planner.core.journal import (
    decode_journal,
    encode_journal,
    encode_journal_records,
    group_journal,
    journal_key,
)
from services.planner.core.run import RunState
from services.planner.runbook import RECORD_OVERHEAD_BYTES, JournalCursor, JournalWrite, RunBook, replay_journal
from tests.unit.planner.runs import (
    BEHAVIOURS,
    PROPERTY_CONFIG,
    T0,
    at,
    counting_ids,
    executor_results,
    ok,
    random_dags,
    start,
)

WIDE = "\n".join(
    [f"Task {n}: sleep(seconds=1) | Dependencies: none" for n in range(1, 30)]
    + ["Task 30: sleep(seconds=1) | Dependencies: " + ", ".join(f"Task {n}" for n in range(1, 30))]
)
Topic = dict[bytes, bytes]  # a compacted topic's latest values: a tombstone deletes its key


def snapshots_so_far() -> float:
    return REGISTRY.get_sample_value("genesis_planner_journal_snapshots_total") or 0.0


def commit(topic: Topic, write: JournalWrite) -> None:
    for key, value in write.records:
        if value is None:
            topic.pop(key, None)
        else:
            topic[key] = value


def restore(topic: Topic, new_id: Callable[[], str] | None = None) -> tuple[RunState, JournalCursor]:
    """What a take-over rebuilds from the topic's one run."""
    [(_, records)] = group_journal(topic).items()
    return replay_journal(records, new_id=new_id or counting_ids("r"))


def test_snapshot_replaces_the_run_s_records_when_it_has_written_more_than_the_limit() -> None:
    book = RunBook(remember_finished=10, snapshot_records=4)
    state, _ = start(WIDE)
    book.hold(state, partition=0)
    topic: Topic = {}
    before = snapshots_so_far()
    writes = []
    for n in range(0, 10):
        if n:
            state.on_task_finished(ok(str(n), started_s=0, finished_s=n / 10, result=n), at(n / 10))
        write = book.journal_write(state)
        commit(topic, write)
        book.journaled(write)
        writes.append(write)
    cursor = book._cursors["run-1"]
    # The first write holds the whole history (the base); 4 records may follow it; the 6th write would be the
    # 5th since the base, so it is a snapshot, and a new base; 4 more follow.
    assert [write.snapshot for write in writes] == [True] + [False] * 4 + [True] + [False] * 4
    snapshot = writes[5]
    assert snapshot.seqs == [0] and dict(snapshot.records)[journal_key("run-1", 0)] is not None
    deleted = {key for key, value in snapshot.records if value is None}
    assert deleted == {journal_key("run-1", seq) for write in writes[1:5] for seq in write.seqs}
    assert snapshots_so_far() == before + 1  # the first write replaced nothing
    assert cursor.snapshot == 1 and len(cursor.seqs) == 5
    assert cursor.journaled == cursor.next_seq == len(state.history)
    assert cursor.seqs == [0, *(seq for write in writes[6:] for seq in write.seqs)]
    assert sorted(topic) == sorted(cursor.keys("run-1"))
    assert restore(topic)[0] == state
    state.on_task_finished(ok("10", started_s=0, finished_s=1, result=10), at(1))
    assert book.journal_write(state).snapshot


def test_snapshot_is_split_into_records_under_the_size_limit_when_the_history_is_large() -> None:
    limit = 4_000  # the founding RunPlanned of this plan alone takes 3.3 kB
    book = RunBook(remember_finished=10, snapshot_records=3, max_record_bytes=RECORD_OVERHEAD_BYTES + limit)
    state, _ = start(WIDE)
    book.hold(state, partition=0)
    topic: Topic = {}
    for n in range(0, 8):
        if n:
            state.on_task_finished(ok(str(n), started_s=0, finished_s=n / 10, result="x" * 500), at(n / 10))
        write = book.journal_write(state)
        commit(topic, write)
        book.journaled(write)
    assert len(encode_journal(state.history)) > 4 * limit
    cursor = book._cursors["run-1"]
    assert cursor.snapshot > 1  # the snapshot took several records
    assert all(len(value) <= limit for value in topic.values())
    assert restore(topic)[0] == state


def test_records_join_the_entries_encoded_once_when_split_by_size() -> None:
    state, _ = start(WIDE)
    history = state.history
    records = encode_journal_records(history, first=7, max_bytes=1_000)
    assert [entry for _, value in records for entry in decode_journal(value)] == history
    assert b"".join(value for _, value in records).replace(b"][", b",") == encode_journal(history)
    positions = list(itertools.accumulate([len(decode_journal(value)) for _, value in records], initial=7))
    assert [seq for seq, _ in records] == positions[:-1]
    # An entry larger than the limit goes alone rather than being cut.
    alone = encode_journal_records(history[:3], first=0, max_bytes=1)
    assert [(seq, len(decode_journal(value))) for seq, value in alone] == [(0, 1), (1, 1), (2, 1)]


def test_no_snapshot_is_written_when_snapshots_are_off() -> None:
    book = RunBook(remember_finished=10, snapshot_records=0)
    state, _ = start(WIDE)
    book.hold(state, partition=0)
    before = snapshots_so_far()
    for n in range(0, 30):
        if n:
            state.on_task_finished(ok(str(n), started_s=0, finished_s=n / 10, result=n), at(n / 10))
        write = book.journal_write(state)
        assert write.snapshot == (n == 0)  # only the first write holds the whole history
        book.journaled(write)
    assert len(book._cursors["run-1"].seqs) == 30 and snapshots_so_far() == before


def test_keys_of_a_write_that_committed_unseen_are_deleted_when_the_run_finishes() -> None:
    book = RunBook(remember_finished=10, snapshot_records=0)
    state, _ = start(WIDE)
    book.hold(state, partition=0)
    topic: Topic = {}
    write = book.journal_write(state)
    commit(topic, write)
    book.journaled(write)
    state.on_task_finished(ok("1", started_s=0, finished_s=0.1, result=1), at(0.1))
    unseen = book.journal_write(state)  # its transaction committed, but the planner saw it fail
    commit(topic, unseen)
    assert len(topic) == 2
    state.on_cancel(RunCancelRequested(run_id="run-1"), at(0.2))
    finished = book.journal_write(state)
    assert (journal_key("run-1", unseen.seqs[0]), None) in finished.records
    commit(topic, finished)
    assert topic == {}


def test_keys_of_a_write_that_committed_unseen_are_deleted_when_a_snapshot_follows() -> None:
    book = RunBook(remember_finished=10, snapshot_records=1, max_record_bytes=RECORD_OVERHEAD_BYTES + 4_000)
    state, _ = start(WIDE)
    book.hold(state, partition=0)
    topic: Topic = {}
    write = book.journal_write(state)
    assert len(write.seqs) > 1 and write.snapshot  # the founding write: several records, the base of the limit
    commit(topic, write)
    book.journaled(write)
    state.on_task_finished(ok("1", started_s=0, finished_s=0.1, result=1), at(0.1))
    unseen = book.journal_write(state)  # the 1st record since: plain; committed, but the planner saw it fail
    assert not unseen.snapshot
    commit(topic, unseen)
    for n in (2, 3, 4):  # what was added since no longer fits one record: with it the journal passes the limit
        state.on_task_finished(ok(str(n), started_s=0, finished_s=n / 10, result="x" * 1_500), at(n / 10))
    again = book.journal_write(state)
    assert again.snapshot and unseen.seqs[0] not in again.seqs
    commit(topic, again)
    book.journaled(again)
    assert sorted(topic) == sorted(book._cursors["run-1"].keys("run-1"))
    assert restore(topic)[0] == state


def test_record_under_a_bare_run_id_is_deleted_when_a_snapshot_replaces_it() -> None:
    state, _ = start(WIDE)
    topic: Topic = {b"run-1": encode_journal(state.history)}  # the former format: one record, the whole history
    restored, cursor = restore(topic)
    book = RunBook(remember_finished=10, snapshot_records=1)
    book.hold(restored, partition=0, cursor=cursor)
    restored.on_task_finished(ok("1", started_s=0, finished_s=0.1, result=1), at(0.1))
    write = book.journal_write(restored)
    assert write.snapshot and (b"run-1", None) in write.records
    commit(topic, write)
    book.journaled(write)
    assert sorted(topic) == [journal_key("run-1", 0)] and restore(topic)[0] == restored


# -- property: random runs, flushed, lost, committed unseen and taken over at random ----------------------------

# What the flusher does after a change: nothing yet (the change waits for the next flush), a flush the broker
# acknowledges, one that fails before anything is visible, one that commits but is seen to fail, or a take-over
# by another planner (after an acknowledged flush: an unflushed change is redone from its input by the new owner).
FLUSHES = ["wait", "ack", "ack", "ack", "lost", "unseen", "takeover"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edges=random_dags(),
    max_attempts=st.integers(1, 3),
    snapshot_records=st.integers(0, 5),
    limit=st.sampled_from([300, 1_500, 1_000_000]),
    data=st.data(),
)
def test_restore_from_a_snapshot_and_later_records_equals_the_run_when_flushes_fail_and_planners_take_over(
    edges, max_attempts, snapshot_records, limit, data
) -> None:
    plan = Plan(tasks=tuple(Task(id=task_id, tool="sleep", args={}, deps=deps) for task_id, deps in edges.items()))
    state, events = start(plan, policy=Policy(max_attempts=max_attempts), config=PROPERTY_CONFIG)

    def new_book() -> RunBook:
        return RunBook(10, snapshot_records=snapshot_records, max_record_bytes=RECORD_OVERHEAD_BYTES + limit)

    book = new_book()
    book.hold(state, partition=0)
    topic: Topic = {}
    results: list[tuple[datetime, int, TaskFinished]] = []
    serial = itertools.count()

    def executors(emitted: list, now: datetime) -> None:
        for dispatch in emitted:
            if not isinstance(dispatch, TaskReady) or (behaviour := data.draw(st.sampled_from(BEHAVIOURS))) == "silent":
                continue
            done_at = now + timedelta(seconds=data.draw(st.integers(0, 14)))
            result = f"{dispatch.task_id}@{dispatch.attempt}" + "x" * data.draw(st.integers(0, 400))
            for finished in executor_results(dispatch, behaviour, now=now, done_at=done_at, result=result):
                heapq.heappush(results, (done_at, next(serial), finished))

    def acknowledged() -> None:
        if (write := book.journal_write(state)) is None:
            return
        commit(topic, write)
        before = snapshots_so_far()
        book.journaled(write)
        if snapshots_so_far() > before:
            event("a snapshot replaced records" + (", itself in several records" if len(write.seqs) > 1 else ""))
        if state.finished:
            assert not topic, "a finished run leaves no record behind"
            return
        cursor = book._cursors[state.run_id]
        assert sorted(topic) == sorted(cursor.keys(state.run_id))  # nothing the cursor does not know of
        assert snapshot_records == 0 or cursor.written_since_snapshot() <= snapshot_records
        assert all(len(value) <= limit or len(decode_journal(value)) == 1 for value in topic.values())
        restored, _ = restore(topic, state.new_id)
        assert restored == state

    def flush() -> None:
        nonlocal book, state
        match data.draw(st.sampled_from(FLUSHES)):
            case "ack":
                acknowledged()
            case "lost":
                book.journal_write(state)
            case "unseen":
                if (write := book.journal_write(state)) is not None:
                    commit(topic, write)
            case "takeover" if not state.finished:
                event("a planner took the run over")
                acknowledged()
                [(_, records)] = group_journal(topic).items()
                state, cursor = replay_journal(records, new_id=state.new_id)
                book = new_book()
                book.hold(state, partition=0, cursor=cursor)

    now = T0
    executors(events[2:], now)
    flush()
    for _ in range(1000):
        if state.finished:
            break
        wakeup = state.next_wakeup()
        if results and results[0][0] <= wakeup:
            now, _, result = heapq.heappop(results)
            executors(state.on_task_finished(result, now), now)
        else:
            now = wakeup
            executors(state.on_tick(now), now)
        flush()
    assert state.finished
    acknowledged()
    assert RunState.replay(state.history) == state
