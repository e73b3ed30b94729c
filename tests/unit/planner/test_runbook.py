"""Specification of the runs one planner holds: ownership by partition, eviction, and bounded memory."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import Plan, Policy, RunRequested, Task
from services.planner.core.run import RunState
from services.planner.core.scheduling import SchedulingConfig
from services.planner.runbook import RunBook, decode_journal, encode_journal

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PLAN = Plan(tasks=(Task(id="1", tool="sleep", args={"seconds": 1}),))


def started(run_id: str) -> tuple[RunState, list]:
    ids = iter(range(1_000_000))
    return RunState.begin(
        RunRequested(run_id=run_id, plan=PLAN),
        PLAN,
        policy=Policy(),
        strategy="parallel",
        config=SchedulingConfig(),
        now=AT,
        new_id=lambda: f"e{next(ids)}",
    )


def test_finished_run_leaves_memory_but_is_remembered_when_released() -> None:
    book = RunBook(remember_finished=10)
    state, _ = started("r1")
    book.hold(state, partition=0)
    book.release("r1")
    assert "r1" not in book and len(book) == 0
    assert book.known("r1")  # a redelivered request for it is not a new run


def test_memory_stays_bounded_when_many_runs_have_finished() -> None:
    book = RunBook(remember_finished=3)
    for number in range(100):
        state, _ = started(f"r{number}")
        book.hold(state, partition=number % 6)
        book.release(f"r{number}")
    assert len(book) == 0
    assert [book.known(f"r{n}") for n in (96, 97, 98, 99)] == [False, True, True, True]


def test_runs_of_revoked_partitions_are_dropped_when_another_planner_takes_them() -> None:
    book = RunBook(remember_finished=10)
    for number, partition in ((1, 0), (2, 1), (3, 1)):
        state, _ = started(f"r{number}")
        book.hold(state, partition)
    book.drop_partitions({1})
    assert "r1" in book and "r2" not in book and "r3" not in book


def test_journal_round_trips_to_an_equal_state_when_encoded() -> None:
    state, _ = started("r1")
    replayed = RunState.replay(decode_journal(encode_journal(state.history)), new_id=state.new_id)
    assert replayed == state


def test_due_returns_each_run_once_when_its_wakeup_has_come() -> None:
    book = RunBook(remember_finished=10)
    early, _ = started("early")
    late, _ = started("late")
    book.hold(early, partition=0)
    book.hold(late, partition=0)
    wakeup = early.next_wakeup()
    assert wakeup is not None and book.next_wakeup() == wakeup
    assert [state.run_id for state in book.due(wakeup)] == ["early", "late"]  # same deadline: both due
    assert book.due(wakeup) == [] and book.next_wakeup() is None  # taken until scheduled again


def test_stale_timer_is_skipped_when_the_run_was_rescheduled_or_released() -> None:
    book = RunBook(remember_finished=10)
    kept, _ = started("kept")
    gone, _ = started("gone")
    book.hold(kept, partition=0)
    book.hold(gone, partition=0)
    book.release("gone")
    assert not book.schedule(kept)  # unchanged wakeup: nothing new to wait for
    assert [state.run_id for state in book.due(kept.next_wakeup())] == ["kept"]


def test_timers_stay_bounded_when_runs_are_rescheduled_many_times() -> None:
    book = RunBook(remember_finished=10)
    state, _ = started("r1")
    book.hold(state, partition=0)
    for number in range(5_000):
        state.deadline_at = AT.replace(year=2027) if number % 2 else AT.replace(year=2028)
        book.schedule(state)
    assert len(book._timers) <= 2 * 1 + 1024 + 1
