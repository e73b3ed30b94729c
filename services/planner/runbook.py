"""The runs one planner process holds: their states, their journals, and which partition each belongs to.

A run's journal is the list of facts its state is folded from. It is written to the compacted journal topic,
keyed by run id, after every change; a finished run's key gets a tombstone and the run leaves memory. Because
the journal has as many partitions as the input topics and the same keys, partition p of the journal holds
exactly the runs whose events arrive on partition p of the inputs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import datetime

import msgspec

from schemas.events import Event
from services.planner.core.journal import JournalEntry
from services.planner.core.run import RunState

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(list[JournalEntry])


def encode_journal(entries: Iterable[Event]) -> bytes:
    return _encoder.encode(list(entries))


def decode_journal(data: bytes) -> list[Event]:
    return _decoder.decode(data)


class RunBook:
    def __init__(self, remember_finished: int) -> None:
        self._states: dict[str, RunState] = {}
        self._partition: dict[str, int] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._remember_finished = remember_finished

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, run_id: str) -> bool:
        return run_id in self._states

    def get(self, run_id: str) -> RunState | None:
        return self._states.get(run_id)

    def known(self, run_id: str) -> bool:
        """Held now, or finished recently: a request for it is a redelivery, not a new run."""
        return run_id in self._states or run_id in self._finished

    def hold(self, state: RunState, partition: int) -> None:
        self._states[state.run_id] = state
        self._partition[state.run_id] = partition

    def release(self, run_id: str) -> None:
        """The run finished: evict it, remembering its id."""
        self._states.pop(run_id, None)
        self._partition.pop(run_id, None)
        self._finished[run_id] = None
        while len(self._finished) > self._remember_finished:
            self._finished.popitem(last=False)

    def drop_partitions(self, partitions: set[int]) -> None:
        """Another planner owns these partitions now; it rebuilds their runs from the journal."""
        for run_id in [run_id for run_id, partition in self._partition.items() if partition in partitions]:
            self._states.pop(run_id, None)
            self._partition.pop(run_id, None)

    def due(self, now: datetime) -> Iterator[RunState]:
        for state in list(self._states.values()):
            wakeup = state.next_wakeup()
            if wakeup is not None and wakeup <= now:
                yield state

    def next_wakeup(self) -> datetime | None:
        wakeups = [wakeup for state in self._states.values() if (wakeup := state.next_wakeup()) is not None]
        return min(wakeups, default=None)
