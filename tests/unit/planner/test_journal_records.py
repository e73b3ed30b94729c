"""The journal topic's records: each change appends what it added (run_id/seq), restore folds them back."""

from __future__ import annotations

from schemas import RunFinished, TaskReady
from services.planner.core.journal import encode_journal, group_journal, journal_key, split_journal_key
from services.planner.runbook import JournalWrite, RunBook, replay_journal
from tests.unit.planner.runs import at, counting_ids, ok, start

WIDE = "\n".join(
    [f"Task {n}: sleep(seconds=1) | Dependencies: none" for n in range(1, 30)]
    + ["Task 30: sleep(seconds=1) | Dependencies: " + ", ".join(f"Task {n}" for n in range(1, 30))]
)


def journal_a_run_change_by_change() -> tuple[dict[bytes, bytes | None], list[JournalWrite], int, int]:
    """A 30-task run flushed after each result: the topic's latest values, the writes, the bytes written now and
    the bytes the former format (the whole history on every change) would have written."""
    book = RunBook(remember_finished=10)
    state, _ = start(WIDE)
    book.hold(state, partition=3)
    topic: dict[bytes, bytes | None] = {}
    writes: list[JournalWrite] = []
    written = whole_history = 0

    def flush() -> None:
        nonlocal written, whole_history
        write = book.journal_write(state)
        if write is None:
            return
        for key, value in write.records:
            topic[key] = value
            written += len(value or b"")
        if not state.finished:
            whole_history += len(encode_journal(state.history))
        writes.append(write)
        book.journaled(write)

    flush()
    for n in range(1, 31):
        state.on_task_finished(ok(str(n), started_s=0, finished_s=n / 10, result=n), at(n / 10))
        flush()
    assert state.outcome.status == "succeeded"
    return topic, writes, written, whole_history


def test_journal_grows_with_the_changes_when_a_run_is_flushed_after_each_result() -> None:
    _, writes, written, whole_history = journal_a_run_change_by_change()
    assert len(writes) == 31  # the founding record and one per result: the last is the tombstones
    assert all(write.partition == 3 for write in writes)
    # Each change wrote only what it added: well under the former format's whole-history rewrites.
    assert written * 10 < whole_history


def test_finished_run_leaves_a_tombstone_on_every_key_it_wrote() -> None:
    topic, writes, _, _ = journal_a_run_change_by_change()
    tombstones = writes[-1].records
    assert {key for key, value in tombstones if value is None} == {
        key for write in writes[:-1] for key, _ in write.records
    }
    assert all(value is None for value in topic.values())


def test_restore_folds_the_records_into_the_same_state_when_read_back() -> None:
    book = RunBook(remember_finished=10)
    state, _ = start(WIDE)
    book.hold(state, partition=0)
    topic: dict[bytes, bytes] = {}
    for n in range(1, 6):
        state.on_task_finished(ok(str(n), started_s=0, finished_s=n, result=n), at(n))
        write = book.journal_write(state)
        topic.update(write.records)
        book.journaled(write)
    [(run_id, records)] = group_journal(topic).items()
    assert run_id == "run-1" and [seq for seq, _, _ in records] == sorted(seq for seq, _, _ in records)
    restored, cursor = replay_journal(records, new_id=counting_ids("r"))
    assert restored == state
    # The restored run continues its journal after the last key, never over one.
    book.release("run-1")
    book.hold(restored, partition=0, cursor=cursor)
    restored.on_task_finished(ok("6", started_s=0, finished_s=6, result=6), at(6))
    [(key, _)] = book.journal_write(restored).records
    assert split_journal_key(key) == ("run-1", len(state.history))
    assert key not in topic


def test_write_that_was_not_acknowledged_is_computed_again_whole_when_flushed_next() -> None:
    book = RunBook(remember_finished=10)
    state, _ = start(WIDE)
    book.hold(state, partition=0)
    first = book.journal_write(state)  # lost: never confirmed
    state.on_task_finished(ok("1", started_s=0, finished_s=1), at(1))
    again = book.journal_write(state)
    assert again.records[0][0] == first.records[0][0] == journal_key("run-1", 0)
    entries = group_journal(dict(again.records))["run-1"]
    restored, _ = replay_journal(entries, new_id=counting_ids())
    assert restored == state


def test_record_under_a_bare_run_id_reads_as_a_whole_history_when_written_by_the_former_format() -> None:
    state, _ = start(WIDE)
    assert split_journal_key(b"run-1") == ("run-1", 0)
    assert split_journal_key(b"team/run-7/12") == ("team/run-7", 12)
    restored, _ = replay_journal([(0, b"run-1", encode_journal(state.history))], new_id=counting_ids())
    assert restored == state
    assert len([event for event in restored.history if isinstance(event, TaskReady)]) == 29
    assert not any(isinstance(event, RunFinished) for event in restored.history)
