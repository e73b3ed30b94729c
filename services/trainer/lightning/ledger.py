"""The trainer service's durable record: turns waiting for their run, and each finished run's rollout and reward.

It lives in the same SQLite file as the rollouts, and every change is one transaction with the store calls it
makes, so what a handler did is either all on disk or not at all (the service groups a batch of inputs in one
transaction, ``batch``, each input in a savepoint of its own, ``one_input``). Offsets are committed only after the
transaction: after a crash the inputs come again, and here they find what was already done. Turns and finished runs
come on two topics in any order, each maybe twice: a turn waits for its RunFinished (bounded: the oldest waiting
runs are dropped first), a late turn joins its run's rollout, a duplicate turn is recognised by its event id, and a
redelivered RunFinished answers with the RewardAssigned it had the first time, never a second rollout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import msgspec

from schemas.codec import decode_event, encode_event
from schemas.events import RewardAssigned, RunFinished, TurnRecorded
from services.trainer.core.traces import RunTrace, turn_span
from services.trainer.lightning.sqlite_store import SqliteLightningStore
from services.trainer.lightning.store import RolloutLog

Scorer = Callable[[RunFinished, list[TurnRecorded]], RunTrace]

_SCHEMA = (
    # body is cleared once the turn is in a rollout; the row stays so that a redelivery is recognised.
    "CREATE TABLE IF NOT EXISTS trainer_turns (event_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, body BLOB)",
    "CREATE INDEX IF NOT EXISTS trainer_turns_run ON trainer_turns (run_id)",
    # Runs whose turns wait for their RunFinished, oldest first (by rowid).
    "CREATE TABLE IF NOT EXISTS trainer_open_runs (run_id TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS trainer_runs (run_id TEXT PRIMARY KEY, rollout_id TEXT NOT NULL,"
    " attempt_id TEXT NOT NULL, reward BLOB NOT NULL)",
)


class RecordedRun(msgspec.Struct, frozen=True, kw_only=True):
    rollout_id: str
    attempt_id: str
    reward: RewardAssigned


class TrainerLedger:
    def __init__(self, store: SqliteLightningStore, *, remember_runs: int, max_open_runs: int) -> None:
        self.store = store
        self._log = RolloutLog(store)
        self._db = store.collections.db
        self._remember_runs = remember_runs
        self._max_open_runs = max_open_runs
        for statement in _SCHEMA:
            self._db.execute(statement)
        self.dropped_runs = 0

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """One SQLite transaction for a batch of inputs (one commit to disk instead of one per input): the calls
        inside join it. Put each input in ``one_input`` so that one that fails takes back only its own changes."""
        async with self.store.transaction():
            yield

    @contextmanager
    def one_input(self) -> Iterator[None]:
        """Inside ``batch``: the changes of one input, undone alone (a savepoint) when it raises."""
        self._db.execute("SAVEPOINT trainer_input")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO trainer_input")
            raise
        finally:
            self._db.execute("RELEASE trainer_input")

    async def add_turn(self, turn: TurnRecorded) -> None:
        async with self.store.transaction():
            inserted = self._db.execute(
                "INSERT OR IGNORE INTO trainer_turns (event_id, run_id, body) VALUES (?, ?, ?)",
                (turn.event_id, turn.run_id, encode_event(turn)),
            ).rowcount
            if not inserted:
                return  # redelivered
            recorded = self.recorded(turn.run_id)
            if recorded is not None:  # late: the run is already a rollout
                await self._log.add_turn(recorded.rollout_id, recorded.attempt_id, turn_span(turn))
                self._db.execute("UPDATE trainer_turns SET body = NULL WHERE event_id = ?", (turn.event_id,))
                return
            self._db.execute("INSERT OR IGNORE INTO trainer_open_runs (run_id) VALUES (?)", (turn.run_id,))
            self._drop_oldest_open_runs()

    async def record_run(self, finished: RunFinished, score: Scorer) -> RewardAssigned:
        """The run's RewardAssigned: recorded now, or the one recorded when this RunFinished came before."""
        async with self.store.transaction():
            if (recorded := self.recorded(finished.run_id)) is not None:
                return recorded.reward
            trace = score(finished, self.waiting_turns(finished.run_id))
            rollout_id, attempt_id = await self._log.record(trace)
            assigned = RewardAssigned(
                event_id=f"reward-{rollout_id}",
                run_id=finished.run_id,
                reward=trace.reward.total,
                components=trace.reward.components,
                rollout_id=rollout_id,
            )
            self._db.execute(
                "INSERT INTO trainer_runs (run_id, rollout_id, attempt_id, reward) VALUES (?, ?, ?, ?)",
                (finished.run_id, rollout_id, attempt_id, encode_event(assigned)),
            )
            self._db.execute("UPDATE trainer_turns SET body = NULL WHERE run_id = ?", (finished.run_id,))
            self._db.execute("DELETE FROM trainer_open_runs WHERE run_id = ?", (finished.run_id,))
            self._forget_oldest_recorded_runs()
            return assigned

    def recorded(self, run_id: str) -> RecordedRun | None:
        row = self._db.execute(
            "SELECT rollout_id, attempt_id, reward FROM trainer_runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            return None
        reward = decode_event(row[2])
        assert isinstance(reward, RewardAssigned)
        return RecordedRun(rollout_id=row[0], attempt_id=row[1], reward=reward)

    def recorded_runs(self) -> int:
        return self._count("trainer_runs")

    def waiting_turns(self, run_id: str) -> list[TurnRecorded]:
        rows = self._db.execute(
            "SELECT body FROM trainer_turns WHERE run_id = ? AND body IS NOT NULL ORDER BY rowid", (run_id,)
        )
        return [turn for (body,) in rows if isinstance(turn := decode_event(body), TurnRecorded)]

    def _drop_oldest_open_runs(self) -> None:
        excess = self._count("trainer_open_runs") - self._max_open_runs
        if excess <= 0:
            return
        oldest = self._db.execute("SELECT run_id FROM trainer_open_runs ORDER BY rowid LIMIT ?", (excess,)).fetchall()
        self._db.executemany("DELETE FROM trainer_turns WHERE run_id = ?", oldest)
        self._db.executemany("DELETE FROM trainer_open_runs WHERE run_id = ?", oldest)
        self.dropped_runs += len(oldest)

    def _forget_oldest_recorded_runs(self) -> None:
        excess = self._count("trainer_runs") - self._remember_runs
        if excess > 0:
            oldest = self._db.execute("SELECT run_id FROM trainer_runs ORDER BY rowid LIMIT ?", (excess,)).fetchall()
            self._db.executemany("DELETE FROM trainer_runs WHERE run_id = ?", oldest)
            self._db.executemany("DELETE FROM trainer_turns WHERE run_id = ?", oldest)

    def _count(self, table: str) -> int:
        return self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
