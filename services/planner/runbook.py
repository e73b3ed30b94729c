"""The runs one planner process holds: their states, their journals, and which partition each belongs to.

A run's journal is the list of facts its state is folded from. It is written to the compacted journal topic as
records keyed ``run_id/seq`` (services/planner/core/journal.py), each holding what the run appended since its last
record, to the partition its inputs arrive on: partition p of the journal holds exactly the runs whose events arrive
on partition p of the inputs. A finished run's keys get tombstones and the run leaves memory.

Snapshots: once a run has written more than ``snapshot_records`` records since its last snapshot, its next write
is a snapshot instead: the whole history again, split into as few records as ``max_record_bytes`` allows (each
keyed by the position of its first entry, as always), and tombstones on the run's other keys, all in the same
transaction. The history is what a replay folds, so restoring from the snapshot and the records after it gives the
same state as from every record; a take-over reads a few records per run instead of one per change. A snapshot
costs the history's size once every ``snapshot_records`` writes, and 0 turns snapshots off (measured in
docs/adr/0003-planner-journal-and-group-commit.md).

Timers: each run's next wakeup (a due retry, a lease expiry, its deadline) sits in one heap, so finding what is due
costs O(log runs) per change instead of a scan of every task of every run. Entries are never updated in place: a
run that changes pushes its new wakeup, and entries that no longer match are skipped when they reach the top.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from services.planner.core.journal import (
    decode_journal,
    encode_journal,
    encode_journal_records,
    group_journal,
    journal_key,
    split_journal_key,
)
from services.planner.core.run import RunState
from services.planner.metrics import JOURNAL_SNAPSHOTS

# Room, within the producer's max_request_size, for what a record adds to its value: the record batch's header,
# the record's own fields and its key (aiokafka counts them all against the limit).
RECORD_OVERHEAD_BYTES = 512

__all__ = [
    "JournalCursor",
    "RunBook",
    "decode_journal",
    "encode_journal",
    "group_journal",
    "replay_journal",
    "split_journal_key",
]


@dataclass
class JournalCursor:
    """How much of a run's history is on the journal topic, and under which keys."""

    journaled: int = 0  # history entries written
    next_seq: int = 0  # the seq of the next record: one past the last entry written
    seqs: list[int] = field(default_factory=list)  # the live records' seqs, oldest first
    snapshot: int = 0  # how many of them the last snapshot wrote (they do not count towards the next one)
    legacy: list[bytes] = field(default_factory=list)  # keys in the former format (a bare run id), to delete too
    # Seqs of writes not confirmed (yet): a transaction seen to fail may still have committed, so a snapshot or a
    # finished run's tombstones delete them too, and no entry is left to be replayed twice.
    unconfirmed: set[int] = field(default_factory=set)

    @classmethod
    def restored(cls, keys: list[bytes], entries: int, history: int) -> JournalCursor:
        """After a restore: ``keys`` were read, holding ``entries`` entries that replayed to ``history``. Which of
        them a snapshot wrote is not known: all count, so a restored run gets its next snapshot a little sooner."""
        positions = {key: split_journal_key(key) for key in keys}
        legacy = [key for key, (run_id, seq) in positions.items() if journal_key(run_id, seq) != key]
        seqs = sorted(seq for key, (_, seq) in positions.items() if key not in legacy)
        return cls(journaled=history, next_seq=max(entries, history), seqs=seqs, legacy=legacy)

    def written_since_snapshot(self) -> int:
        return len(self.seqs) + len(self.legacy) - self.snapshot

    def keys(self, run_id: str) -> list[bytes]:
        """The run's live keys on the journal topic."""
        return [journal_key(run_id, seq) for seq in self.seqs] + self.legacy


@dataclass(frozen=True)
class JournalWrite:
    """Records to write for one run, and where its cursor stands once they are acknowledged."""

    run_id: str
    partition: int
    records: list[tuple[bytes, bytes | None]]
    journaled: int
    seqs: list[int]  # the seqs of the records with a value; none when only tombstones are written
    snapshot: bool = False  # the records are the whole history: they replace every record written before


def replay_journal(
    records: list[tuple[int, bytes, bytes]], *, new_id: Callable[[], str]
) -> tuple[RunState, JournalCursor]:
    """One run's state from its journal records (``group_journal``'s value for the run), and its cursor.
    msgspec.DecodeError/ValidationError for a record that does not decode, ValueError for a journal that never
    founded the run."""
    entries = [entry for _, _, value in records for entry in decode_journal(value)]
    state = RunState.replay(entries, new_id=new_id)
    return state, JournalCursor.restored([key for _, key, _ in records], len(entries), len(state.history))


class RunBook:
    def __init__(
        self, remember_finished: int, *, snapshot_records: int = 64, max_record_bytes: int = 1_048_576
    ) -> None:
        """``snapshot_records``: records a run writes before its next write is a snapshot (0: never);
        ``max_record_bytes``: the producer's max_request_size, which no journal record may exceed."""
        if snapshot_records < 0:
            raise ValueError(f"planner.journal_snapshot_records must be 0 (off) or more, not {snapshot_records}")
        if max_record_bytes <= RECORD_OVERHEAD_BYTES:
            raise ValueError(f"kafka.max_message_bytes ({max_record_bytes}) leaves no room for a journal record")
        self._snapshot_records = snapshot_records
        self._max_value_bytes = max_record_bytes - RECORD_OVERHEAD_BYTES
        self._states: dict[str, RunState] = {}
        self._partition: dict[str, int] = {}
        self._cursors: dict[str, JournalCursor] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._remember_finished = remember_finished
        self._wakeups: dict[str, datetime] = {}  # run -> its current wakeup (the heap entry that counts)
        self._timers: list[tuple[datetime, int, str]] = []
        self._pushed = itertools.count()  # ties in the heap break by push order, never by run id

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, run_id: str) -> bool:
        return run_id in self._states

    def get(self, run_id: str) -> RunState | None:
        return self._states.get(run_id)

    def known(self, run_id: str) -> bool:
        """Held now, or finished recently: a request for it is a redelivery, not a new run."""
        return run_id in self._states or run_id in self._finished

    def hold(self, state: RunState, partition: int, cursor: JournalCursor | None = None) -> None:
        """Hold a new run (nothing journaled yet) or a restored one (``cursor`` says what its journal holds)."""
        self._states[state.run_id] = state
        self._partition[state.run_id] = partition
        self._cursors[state.run_id] = cursor or JournalCursor()
        self.schedule(state)

    def partition_of(self, run_id: str) -> int | None:
        return self._partition.get(run_id)

    def journal_write(self, state: RunState) -> JournalWrite | None:
        """The records that bring the run's journal up to date: its new entries under the next keys (a snapshot
        and tombstones on its other keys, once it has written more than ``snapshot_records`` records), or, for a
        finished run, a tombstone on every key it wrote. The cursor moves only when ``journaled`` confirms the
        write (it notes which keys the write uses), so a write that fails is computed again, whole, by the next
        call."""
        run_id = state.run_id
        cursor = self._cursors.get(run_id)
        partition = self._partition.get(run_id)
        if cursor is None or partition is None:
            return None  # released, or its partition moved while the write was pending
        added = state.history[cursor.journaled :]
        if state.finished:
            stale = cursor.unconfirmed.union(cursor.seqs)
            return JournalWrite(run_id, partition, self._tombstones(run_id, stale, cursor), len(state.history), [])
        if not added:
            return None
        records = encode_journal_records(added, first=cursor.next_seq, max_bytes=self._max_value_bytes)
        # A snapshot once the records since the last one would pass the limit. A run's first write holds its whole
        # history too: its records are the base the limit counts from.
        since = cursor.written_since_snapshot()
        snapshot = cursor.next_seq == 0 or 0 < self._snapshot_records < since + len(records)
        if snapshot and cursor.next_seq:
            records = encode_journal_records(state.history, first=0, max_bytes=self._max_value_bytes)
        written = {seq for seq, _ in records}
        values: list[tuple[bytes, bytes | None]] = [(journal_key(run_id, seq), value) for seq, value in records]
        if snapshot:
            values += self._tombstones(run_id, cursor.unconfirmed.union(cursor.seqs) - written, cursor)
        # A plain write needs no tombstones for unconfirmed ones: entries split into records the same way whatever
        # follows them, so it overwrites every key they used (and after an unconfirmed snapshot comes a snapshot).
        cursor.unconfirmed |= written
        return JournalWrite(run_id, partition, values, len(state.history), sorted(written), snapshot=snapshot)

    @staticmethod
    def _tombstones(run_id: str, seqs: set[int], cursor: JournalCursor) -> list[tuple[bytes, bytes | None]]:
        return [(journal_key(run_id, seq), None) for seq in sorted(seqs)] + [(key, None) for key in cursor.legacy]

    def journaled(self, write: JournalWrite) -> None:
        """The write was acknowledged: move the run's cursor past it. Keys of earlier writes that failed are
        overwritten or deleted by it."""
        cursor = self._cursors.get(write.run_id)
        if cursor is None or not write.seqs:
            return
        if write.snapshot:
            # Only the snapshot's records are left, and the next entry follows the history they hold.
            if cursor.next_seq:  # it replaced records (a run's first write replaces none)
                JOURNAL_SNAPSHOTS.inc()
            cursor.seqs, cursor.snapshot, cursor.legacy = list(write.seqs), len(write.seqs), []
            cursor.next_seq = write.journaled
        else:
            cursor.next_seq += write.journaled - cursor.journaled
            cursor.seqs += write.seqs
        cursor.journaled = write.journaled
        cursor.unconfirmed = set()

    def release(self, run_id: str) -> None:
        """The run finished: evict it, remembering its id."""
        self._states.pop(run_id, None)
        self._partition.pop(run_id, None)
        self._cursors.pop(run_id, None)
        self._wakeups.pop(run_id, None)
        self._finished[run_id] = None
        while len(self._finished) > self._remember_finished:
            self._finished.popitem(last=False)

    def drop_partitions(self, partitions: set[int]) -> None:
        """Another planner owns these partitions now; it rebuilds their runs from the journal."""
        for run_id in [run_id for run_id, partition in self._partition.items() if partition in partitions]:
            self._states.pop(run_id, None)
            self._partition.pop(run_id, None)
            self._cursors.pop(run_id, None)
            self._wakeups.pop(run_id, None)

    def schedule(self, state: RunState) -> bool:
        """Note when the run next needs a tick (call after every change to it); True when that is sooner than
        anything noted before, so a sleeping ticker must wake up to wait for it."""
        run_id, wakeup = state.run_id, state.next_wakeup()
        if wakeup is None:
            self._wakeups.pop(run_id, None)
            return False
        if self._wakeups.get(run_id) == wakeup:
            return False
        self._wakeups[run_id] = wakeup
        sooner = not self._timers or wakeup < self._timers[0][0]
        heapq.heappush(self._timers, (wakeup, next(self._pushed), run_id))
        if len(self._timers) > 2 * len(self._wakeups) + 1024:  # mostly stale entries: rebuild from the live ones
            self._timers = [(at, next(self._pushed), run) for run, at in self._wakeups.items()]
            heapq.heapify(self._timers)
        return sooner

    def due(self, now: datetime) -> list[RunState]:
        """The runs whose wakeup has come, each once; schedule them again after their tick."""
        found: list[RunState] = []
        while self._timers and self._timers[0][0] <= now:
            wakeup, _, run_id = heapq.heappop(self._timers)
            if self._wakeups.get(run_id) != wakeup:
                continue  # stale: the run changed (or left) after this entry was pushed
            del self._wakeups[run_id]
            if (state := self._states.get(run_id)) is not None:
                found.append(state)
        return found

    def next_wakeup(self) -> datetime | None:
        while self._timers and self._wakeups.get(self._timers[0][2]) != self._timers[0][0]:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None
