"""A planner that takes a partition over judges the inputs that waited at the time they were sent, and holds its
clock ticks for that partition's runs, until it has read up to where the inputs ended at the take-over, a poll
finds nothing more, or a bound passes."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import TopicPartition

from services.planner.backlog import Backlog

RESULTS = TopicPartition("tasks.finished", 2)
REQUESTS = TopicPartition("runs.requested", 2)
OTHER = TopicPartition("tasks.finished", 3)


def taken_over(**positions: int) -> Backlog:
    backlog = Backlog()
    backlog.start(
        2,
        {RESULTS: positions.get("results", 10), REQUESTS: positions.get("requests", 4)},
        {RESULTS: 15, REQUESTS: 4},
        until=100.0,
    )
    return backlog


def test_holds_nothing_when_no_input_waited() -> None:
    backlog = Backlog()
    assert not backlog.start(2, {RESULTS: 15, REQUESTS: 4}, {RESULTS: 15, REQUESTS: 4}, until=100.0)
    assert not backlog and not backlog.holds(2, 0.0) and backlog.judged_at(RESULTS, 1_000) is None


def test_judges_an_input_that_waited_at_the_time_it_was_sent() -> None:
    backlog = taken_over()
    assert backlog.holds(2, 0.0) and not backlog.holds(3, 0.0)
    assert backlog.judged_at(RESULTS, 1_764_460_800_250) == datetime(2025, 11, 30, 0, 0, 0, 250_000, tzinfo=UTC)
    assert backlog.judged_at(REQUESTS, 1_000) is None and backlog.judged_at(OTHER, 1_000) is None


def test_releases_the_partition_when_the_last_input_that_waited_is_applied() -> None:
    backlog = taken_over()
    assert not backlog.applied(RESULTS, 10) and backlog.holds(2, 0.0)
    assert backlog.applied(RESULTS, 14)
    assert not backlog.holds(2, 0.0) and backlog.judged_at(RESULTS, 1_000) is None
    assert not backlog.applied(RESULTS, 15)  # read on as usual


def test_releases_every_partition_when_a_poll_that_began_after_the_take_over_finds_nothing() -> None:
    backlog = taken_over()
    assert backlog.clear(polled_since=backlog.epoch) and not backlog.holds(2, 0.0)
    assert not backlog.clear(polled_since=backlog.epoch)


def test_keeps_holding_when_the_empty_poll_began_before_the_take_over() -> None:
    backlog = Backlog()
    polled_since = backlog.epoch
    backlog.start(2, {RESULTS: 10}, {RESULTS: 15}, until=100.0)
    assert not backlog.clear(polled_since=polled_since) and backlog.holds(2, 0.0)


def test_releases_the_partition_when_its_bound_has_passed() -> None:
    backlog = taken_over()
    assert backlog.holds(2, 99.9) and not backlog.holds(2, 100.0)
    assert backlog.judged_at(RESULTS, 1_000) is None


def test_forgets_a_partition_when_it_leaves_this_planner() -> None:
    backlog = taken_over()
    backlog.drop({2})
    assert not backlog and backlog.judged_at(RESULTS, 1_000) is None
