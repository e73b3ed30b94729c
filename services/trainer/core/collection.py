"""Which turns belong to which finished run, when they arrive on two topics in any order, each maybe twice.

Turns wait for their run's RunFinished (bounded: the oldest open runs are dropped first). A recorded run is
remembered with its rollout and reward (bounded too), so a redelivered RunFinished repeats the same reward instead
of making a second rollout, and a turn that arrives after its RunFinished is added to the rollout it belongs to.
"""

from __future__ import annotations

from collections import OrderedDict

import msgspec

from schemas.events import RewardAssigned, RunFinished, TurnRecorded


class RecordedRun(msgspec.Struct, frozen=True, kw_only=True):
    rollout_id: str
    attempt_id: str
    reward: RewardAssigned


class TraceAssembler:
    def __init__(self, *, remember_runs: int, max_open_runs: int) -> None:
        self._remember_runs = remember_runs
        self._max_open_runs = max_open_runs
        self._open: OrderedDict[str, dict[str, TurnRecorded]] = OrderedDict()
        self._recorded: OrderedDict[str, RecordedRun] = OrderedDict()
        self.dropped_runs = 0

    def on_turn(self, turn: TurnRecorded) -> RecordedRun | None:
        """The recorded run a late turn belongs to; None when the turn now waits for its RunFinished."""
        if (recorded := self._recorded.get(turn.run_id)) is not None:
            return recorded
        turns = self._open.setdefault(turn.run_id, {})
        turns[turn.event_id] = turn
        if len(self._open) > self._max_open_runs:
            self._open.popitem(last=False)
            self.dropped_runs += 1
        return None

    def on_finished(self, finished: RunFinished) -> list[TurnRecorded] | RecordedRun:
        """The run's turns to record with it, or the earlier recording when this RunFinished was redelivered."""
        if (recorded := self._recorded.get(finished.run_id)) is not None:
            return recorded
        return list(self._open.pop(finished.run_id, {}).values())

    def recorded(self, run_id: str, run: RecordedRun) -> None:
        self._recorded[run_id] = run
        if len(self._recorded) > self._remember_runs:
            self._recorded.popitem(last=False)
