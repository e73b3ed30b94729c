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
