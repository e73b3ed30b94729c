"""Failure handling: retries with backoff, skipped dependents, duplicates, leases and the run deadline."""

from __future__ import annotations

import copy

import msgspec
import pytest

from schemas import Policy, RunFinished, TaskReady, TaskSkipped
from services.planner.core.journal import TaskLeaseExpired, TaskRetryScheduled
from services.planner.core.scheduling import SchedulingConfig, retry_delay_s
from tests.unit.planner.runs import CONFIG, at, dispatched, error, of_type, ok, start

# A chain 1 -> 2 -> 3 and an independent task 4; the sinks are 3 and 4.
CHAIN_AND_SIDE = """Task 1: kb_search(query="Peru") | Dependencies: none
Task 2: calculator(expression="$1") | Dependencies: Task 1
Task 3: sleep(seconds=1) | Dependencies: Task 2
Task 4: sleep(seconds=1) | Dependencies: none"""


def test_failed_attempt_is_retried_after_a_jittered_backoff_when_retryable_and_attempts_remain() -> None:
    state, _ = start(CHAIN_AND_SIDE, policy=Policy(max_attempts=3))
    [retry] = state.on_task_finished(error("1", at_s=1), at(1))
    assert isinstance(retry, TaskRetryScheduled) and (retry.task_id, retry.attempt, retry.reason) == ("1", 2, "boom")
    assert at(1.5) <= retry.due_at <= at(2)  # base 1 s, jitter in [ceiling/2, ceiling]
    assert state.next_wakeup() == retry.due_at
    assert state.on_tick(at(1.49)) == []
    [again] = state.on_tick(retry.due_at)
    assert isinstance(again, TaskReady) and (again.task_id, again.attempt) == ("1", 2)
    [second] = state.on_task_finished(error("1", at_s=3, attempt=2), at(3))
    assert at(4) <= second.due_at <= at(5)  # the ceiling doubled


@pytest.mark.parametrize(("failed_attempt", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (40, 8.0)])
def test_backoff_doubles_up_to_the_maximum_with_deterministic_jitter_when_attempts_fail(
    failed_attempt, ceiling
) -> None:
    delays = [retry_delay_s(CONFIG, run_id="r", task_id=f"t{n}", failed_attempt=failed_attempt) for n in range(20)]
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(set(delays)) > 1  # siblings do not retry in lockstep
    assert delays[0] == retry_delay_s(CONFIG, run_id="r", task_id="t0", failed_attempt=failed_attempt)


def test_dependents_are_skipped_with_the_reason_when_a_task_fails_after_its_last_attempt() -> None:
    state, _ = start(CHAIN_AND_SIDE, policy=Policy(max_attempts=2))
    [retry] = state.on_task_finished(error("1", at_s=1), at(1))
    state.on_tick(retry.due_at)
    skipped = state.on_task_finished(error("1", at_s=4, attempt=2, message="tool exploded"), at(4))
    assert [(event.task_id, event.reason) for event in of_type(skipped, TaskSkipped)] == [
        ("2", "dependency 1 failed: tool exploded"),
        ("3", "dependency 1 failed: tool exploded"),
    ]
    assert not state.finished  # task 4 is still running
    [finished] = state.on_task_finished(ok("4", started_s=0, finished_s=5), at(5))
    assert isinstance(finished, RunFinished)
    assert (finished.status, finished.answer, finished.reason) == (
        "partial",
        {"4": "result of 4"},
        "task 1 failed: tool exploded",
    )
    assert finished.skipped == {"2": "dependency 1 failed: tool exploded", "3": "dependency 1 failed: tool exploded"}
    assert (finished.metrics.tool_errors, finished.metrics.attempts, finished.metrics.turns) == (2, 3, 3)


def test_task_fails_at_once_when_its_error_is_not_retryable() -> None:
    state, _ = start(CHAIN_AND_SIDE, policy=Policy(max_attempts=5))
    events = state.on_task_finished(error("1", at_s=1, retryable=False, message="unknown tool"), at(1))
    assert of_type(events, TaskRetryScheduled) == []
    assert [event.task_id for event in of_type(events, TaskSkipped)] == ["2", "3"]


def test_run_fails_with_the_observations_it_has_when_no_final_task_succeeds() -> None:
    state, _ = start(
        "T1: sleep(seconds=1) - Dependencies: none\nT2: sleep(seconds=1) - Dependencies: T1",
        policy=Policy(max_attempts=1),
    )
    state.on_task_finished(ok("T1", started_s=0, finished_s=1), at(1))
    [finished] = of_type(state.on_task_finished(error("T2", at_s=2), at(2)), RunFinished)
    assert (finished.status, finished.answer, finished.observations) == ("failed", None, {"T1": "result of T1"})
    assert finished.reason == "task T2 failed: boom"


def test_duplicate_result_changes_nothing_when_the_task_already_finished() -> None:
    state, _ = start(CHAIN_AND_SIDE)
    assert dispatched(state.on_task_finished(ok("1", started_s=0, finished_s=1), at(1))) == ["2"]
    before = copy.deepcopy(state)
    assert state.on_task_finished(ok("1", started_s=0, finished_s=1, result="other"), at(2)) == []
    assert state.on_task_finished(error("1", at_s=2), at(2)) == []
    assert state == before


def test_result_is_ignored_when_it_belongs_to_another_run_or_an_unknown_task() -> None:
    state, _ = start(CHAIN_AND_SIDE)
    foreign = msgspec.structs.replace(ok("1", started_s=0, finished_s=1), run_id="run-2")
    assert state.on_task_finished(foreign, at(1)) == []
    assert state.on_task_finished(ok("99", started_s=0, finished_s=1), at(1)) == []


def test_task_is_redispatched_when_its_lease_expires_without_a_result() -> None:
    state, _ = start(CHAIN_AND_SIDE, policy=Policy(max_attempts=3))
    state.on_task_finished(ok("4", started_s=0, finished_s=1), at(1))
    assert state.next_wakeup() == at(12)
    expired, ready = state.on_tick(at(12))
    assert isinstance(expired, TaskLeaseExpired) and (expired.task_id, expired.attempt) == ("1", 1)
    assert isinstance(ready, TaskReady) and (ready.task_id, ready.attempt) == ("1", 2)
    assert state.next_wakeup() == at(24)


def test_results_of_a_superseded_attempt_are_ignored_when_a_newer_attempt_was_dispatched() -> None:
    state, _ = start(CHAIN_AND_SIDE)
    state.on_tick(at(12))  # attempt 2 of task 1 is now running
    assert state.on_task_finished(error("1", at_s=13, attempt=1), at(13)) == []
    assert state.on_task_finished(ok("1", started_s=0, finished_s=13, attempt=1), at(13)) == []
    assert state.tasks["1"].status == "running"
    assert dispatched(state.on_task_finished(ok("1", started_s=12, finished_s=14, attempt=2), at(14))) == ["2"]


def test_task_fails_with_the_lease_reason_when_every_attempt_goes_silent() -> None:
    state, _ = start(CHAIN_AND_SIDE, policy=Policy(max_attempts=2))
    state.on_task_finished(ok("4", started_s=0, finished_s=1), at(1))
    state.on_tick(at(12))
    events = state.on_tick(at(24))
    assert events[0] == TaskLeaseExpired(
        event_id=events[0].event_id,
        run_id="run-1",
        occurred_at=at(24),
        task_id="1",
        attempt=2,
        reason="no executor started it in time after 2 attempts",
    )
    assert of_type(events, TaskSkipped)[0].reason == (
        "dependency 1 failed: no executor started it in time after 2 attempts"
    )
    assert of_type(events, RunFinished)[0].status == "partial"


def test_unfinished_tasks_are_skipped_and_the_run_times_out_when_the_deadline_passes() -> None:
    config = SchedulingConfig(task_timeout_s=100, start_timeout_s=100, lease_grace_s=0)
    state, _ = start(CHAIN_AND_SIDE, deadline_s=20, config=config)
    state.on_task_finished(ok("4", started_s=0, finished_s=2), at(2))
    assert state.next_wakeup() == at(20)
    events = state.on_tick(at(20))
    assert [(event.task_id, event.reason) for event in of_type(events, TaskSkipped)] == [
        (task_id, "run deadline of 20s passed") for task_id in ("1", "2", "3")
    ]
    [finished] = of_type(events, RunFinished)
    # Task 4 is a final task: its result is the answer's, and travels only there.
    assert (finished.status, finished.answer, finished.observations) == ("timed_out", {"4": "result of 4"}, {})
    assert finished.reason == "run deadline of 20s passed; 1 of 4 tasks succeeded"
    assert state.on_task_finished(ok("1", started_s=0, finished_s=21), at(21)) == []


def test_retrying_task_keeps_its_slot_when_the_parallelism_cap_is_reached() -> None:
    state, events = start(
        "T1: sleep(seconds=1) - Dependencies: none\nT2: sleep(seconds=1) - Dependencies: none",
        policy=Policy(max_parallelism=1),
    )
    assert dispatched(events) == ["T1"]
    [retry] = state.on_task_finished(error("T1", at_s=1), at(1))
    assert dispatched(state.on_tick(retry.due_at)) == ["T1"]
    assert dispatched(state.on_task_finished(ok("T1", started_s=2, finished_s=3, attempt=2), at(3))) == ["T2"]


def test_run_finishes_normally_when_its_last_result_arrives_just_after_the_deadline() -> None:
    state, _ = start("T1: sleep(seconds=1) - Dependencies: none", deadline_s=5)
    [finished] = state.on_task_finished(ok("T1", started_s=0, finished_s=5), at(5.5))
    assert isinstance(finished, RunFinished) and finished.status == "succeeded"
