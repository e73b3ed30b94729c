"""The runs one planner process holds: their states, their journals, and which partition each belongs to.

A run's journal is the list of facts its state is folded from. It is written to the compacted journal topic as
records keyed ``run_id/seq`` (services/planner/core/journal.py), each holding what the run appended since its last
record, to the partition its inputs arrive on: partition p of the journal holds exactly the runs whose events arrive
on partition p of the inputs. A finished run's keys get tombstones and the run leaves memory.

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
    group_journal,
    journal_key,
    split_journal_key,
)
from services.planner.core.run import RunState

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
    seqs: list[int] = field(default_factory=list)

    @classmethod
    def restored(cls, keys: list[bytes], entries: int, history: int) -> JournalCursor:
        """After a restore: ``keys`` were read, holding ``entries`` entries that replayed to ``history``."""
        seqs = sorted(split_journal_key(key)[1] for key in keys)
        return cls(journaled=history, next_seq=max(entries, history), seqs=seqs)


@dataclass(frozen=True)
class JournalWrite:
    """Records to write for one run, and where its cursor stands once they are acknowledged."""

    run_id: str
    partition: int
    records: list[tuple[bytes, bytes | None]]
    journaled: int
    seq: int | None  # the new record's seq; None when only tombstones are written


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
    def __init__(self, remember_finished: int) -> None:
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
        """The records that bring the run's journal up to date: its new entries under the next key, or, for a
        finished run, a tombstone on every key it wrote. Nothing changes until ``journaled`` confirms the write,
        so a write that fails is computed again, whole, by the next call."""
        cursor = self._cursors.get(state.run_id)
        partition = self._partition.get(state.run_id)
        if cursor is None or partition is None:
            return None  # released, or its partition moved while the write was pending
        if state.finished:
            tombstones = [(journal_key(state.run_id, seq), None) for seq in cursor.seqs]
            return JournalWrite(state.run_id, partition, tombstones, len(state.history), None)
        added = state.history[cursor.journaled :]
        if not added:
            return None
        record = (journal_key(state.run_id, cursor.next_seq), encode_journal(added))
        return JournalWrite(state.run_id, partition, [record], len(state.history), cursor.next_seq)

    def journaled(self, write: JournalWrite) -> None:
        """The write was acknowledged: move the run's cursor past it."""
        cursor = self._cursors.get(write.run_id)
        if cursor is None or write.seq is None:
            return
        cursor.next_seq += write.journaled - cursor.journaled
        cursor.journaled = write.journaled
        cursor.seqs.append(write.seq)

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
