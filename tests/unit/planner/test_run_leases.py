"""Leases run from TaskStarted; a dispatch not started by start_by is re-dispatched; cancellation; answer synthesis."""

from __future__ import annotations

import msgspec

from schemas import RunCancelRequested, RunFinished, TaskReady, TaskSkipped, TaskStarted
from services.planner.core.journal import AnswerRequested, TaskLeaseExpired, decode_journal, encode_journal
from services.planner.core.run import RunState
from streams.catalogue import Catalogue
from tests.unit.planner.runs import CONFIG, at, dispatched, of_type, ok, start

CHAIN = """Task 1: sleep(seconds=1) | Dependencies: none
Task 2: sleep(seconds=1) | Dependencies: Task 1
Task 3: sleep(seconds=1) | Dependencies: none"""


def started(task_id: str, at_s: float, attempt: int = 1) -> TaskStarted:
    return TaskStarted(run_id="run-1", task_id=task_id, attempt=attempt, occurred_at=at(at_s))


def test_task_ready_carries_start_by_and_the_run_deadline_when_dispatched() -> None:
    config = msgspec.structs.replace(CONFIG, start_timeout_s=7.0)
    _, events = start(CHAIN, config=config, deadline_s=90)
    ready = of_type(events, TaskReady)
    assert {(event.task_id, event.start_by, event.deadline_at) for event in ready} == {
        ("1", at(7), at(90)),
        ("3", at(7), at(90)),
    }


def test_lease_runs_from_the_start_when_an_attempt_waited_in_the_queue() -> None:
    config = msgspec.structs.replace(CONFIG, start_timeout_s=60.0)  # a long backlog may hold the task a minute
    state, _ = start(CHAIN, config=config)
    assert state.next_wakeup() == at(62)  # start_by + grace: no re-dispatch while the task waits in Kafka
    assert state.on_tick(at(30)) == []
    state.on_task_started(started("1", 50), at(50))
    assert state.tasks["1"].lease_expires_at == at(62)  # started at 50: timeout 10 s + grace 2 s
    state.on_task_started(started("3", 55), at(55))
    assert dispatched(state.on_task_finished(ok("1", started_s=50, finished_s=58), at(58))) == ["2"]
    [expired, ready] = state.on_tick(at(67))  # task 3: started at 55, no result by 55 + 12
    assert isinstance(expired, TaskLeaseExpired) and expired.reason == "no result within lease for attempt 1"
    assert isinstance(ready, TaskReady) and (ready.task_id, ready.attempt) == ("3", 2)


def test_attempt_is_redispatched_when_no_executor_started_it_by_start_by() -> None:
    state, _ = start(CHAIN)
    expired = of_type(state.on_tick(at(12)), TaskLeaseExpired)
    assert [(event.task_id, event.reason) for event in expired] == [
        ("1", "no executor started it in time for attempt 1"),
        ("3", "no executor started it in time for attempt 1"),
    ]


def test_start_of_a_superseded_attempt_is_ignored_when_a_newer_one_was_dispatched() -> None:
    state, _ = start(CHAIN)
    state.on_tick(at(12))  # attempt 2 of tasks 1 and 3
    before = len(state.history)
    assert state.on_task_started(started("1", 13, attempt=1), at(13)) == []
    assert len(state.history) == before and not state.tasks["1"].started
    state.on_task_started(started("1", 13, attempt=2), at(13))
    assert state.tasks["1"].started and len(state.history) == before + 1


def test_run_ends_cancelled_and_skips_what_has_not_started_when_cancel_is_requested() -> None:
    state, _ = start(CHAIN)
    state.on_task_started(started("1", 1), at(1))
    events = state.on_cancel(RunCancelRequested(run_id="run-1", reason="user changed their mind"), at(2))
    assert [(event.task_id, event.reason) for event in of_type(events, TaskSkipped)] == [
        ("2", "run cancelled before the task started"),
        ("3", "run cancelled before the task started"),
    ]
    [finished] = of_type(events, RunFinished)
    assert (finished.status, finished.reason) == ("cancelled", "cancelled: user changed their mind")
    assert set(finished.skipped) == {"2", "3"}
    assert state.on_task_finished(ok("1", started_s=1, finished_s=3), at(3)) == []
    assert state.on_cancel(RunCancelRequested(run_id="run-1"), at(4)) == []
    assert RunState.replay(state.history) == state


def test_cancel_is_ignored_when_the_run_has_finished() -> None:
    state, _ = start("Task 1: sleep(seconds=1) | Dependencies: none")
    state.on_task_finished(ok("1", started_s=0, finished_s=1), at(1))
    assert state.outcome.status == "succeeded"
    assert state.on_cancel(RunCancelRequested(run_id="run-1"), at(2)) == []


def test_run_waits_for_the_answer_and_finishes_with_it_when_synthesis_is_on() -> None:
    config = msgspec.structs.replace(CONFIG, synthesis_timeout_s=30.0)
    state, _ = start("Task 1: sleep(seconds=1) | Dependencies: none", config=config)
    [asked] = state.on_task_finished(ok("1", started_s=0, finished_s=1), at(1))
    assert isinstance(asked, AnswerRequested) and asked.due_at == at(31)
    assert state.answer_due_at == state.next_wakeup() == at(31)
    [finished] = state.on_answer("Lima is the capital", at(5))
    assert isinstance(finished, RunFinished) and finished.answer == "Lima is the capital"
    assert finished.observations == {"1": "result of 1"}  # the LLM wrote the answer: the results travel as such
    assert RunState.replay(state.history) == state


def test_run_finishes_with_the_task_results_when_the_answer_does_not_come_in_time() -> None:
    config = msgspec.structs.replace(CONFIG, synthesis_timeout_s=30.0)
    state, _ = start("Task 1: sleep(seconds=1) | Dependencies: none", config=config)
    state.on_task_finished(ok("1", started_s=0, finished_s=1), at(1))
    assert state.on_tick(at(30)) == []
    [finished] = state.on_tick(at(31))
    assert (finished.status, finished.answer) == ("succeeded", "result of 1")
    assert state.on_answer("too late", at(40)) == []


def test_failed_run_does_not_wait_for_an_answer_when_synthesis_is_on() -> None:
    config = msgspec.structs.replace(CONFIG, synthesis_timeout_s=30.0)
    state, _ = start("Task 1: sleep(seconds=1) | Dependencies: none", config=config, deadline_s=5)
    [*_, finished] = state.on_tick(at(5))
    assert isinstance(finished, RunFinished) and finished.status == "timed_out"


def test_observations_are_bounded_and_the_rest_listed_when_results_are_large() -> None:
    config = msgspec.structs.replace(CONFIG, max_observation_bytes=250)
    state, _ = start(
        "Task 1: sleep(seconds=1) | Dependencies: none\nTask 2: sleep(seconds=1) | Dependencies: none\n"
        "Task 3: sleep(seconds=1) | Dependencies: Task 1, Task 2",
        config=config,
    )
    state.on_task_finished(ok("1", started_s=0, finished_s=1, result="a" * 200), at(1))
    state.on_task_finished(ok("2", started_s=0, finished_s=1, result="b" * 200), at(1))
    [finished] = of_type(state.on_task_finished(ok("3", started_s=1, finished_s=2, result=3), at(2)), RunFinished)
    assert finished.answer == 3
    assert list(finished.observations) == ["1"] and finished.omitted == ["2"]


def test_redispatch_gets_its_own_key_when_the_attempt_changes() -> None:
    state, _ = start(CHAIN)
    first = next(event for event in state.history if isinstance(event, TaskReady) and event.task_id == "1")
    [_, _, again, *_] = state.on_tick(at(12))
    assert isinstance(again, TaskReady) and (again.task_id, again.attempt) == ("1", 2)
    assert Catalogue().route(first)[1] == "run-1/1/1" and Catalogue().route(again)[1] == "run-1/1/2"


def test_run_tokens_count_the_answer_s_model_call_when_the_llm_writes_the_answer() -> None:
    config = msgspec.structs.replace(CONFIG, synthesis_timeout_s=30.0)
    state, _ = start("Task 1: sleep(seconds=1) | Dependencies: none", config=config)
    state.on_task_finished(ok("1", started_s=0, finished_s=1, input_tokens=10, output_tokens=5), at(1))
    [finished] = state.on_answer("Lima is the capital", at(5), tokens=33)
    assert finished.metrics.tokens == state.tokens == 15 + 33
    replayed = RunState.replay(decode_journal(encode_journal(state.history)))
    assert replayed == state and replayed.outcome == finished


def test_results_that_waited_for_a_new_owner_are_applied_when_judged_at_the_time_they_were_sent() -> None:
    # Tasks 1 and 3 started at 1 and 2 (leases to 13 and 14) and sent their results at 3 and 4; nobody read them
    # until a new owner took the partition over at 20. Each is judged at the time it was sent.
    state, _ = start(CHAIN)
    state.on_task_started(started("1", 1), at(1))
    state.on_task_started(started("3", 2), at(2))
    first = state.on_task_finished(ok("3", started_s=2, finished_s=3), at(20), as_of=at(3))
    second = state.on_task_finished(ok("1", started_s=1, finished_s=4), at(20), as_of=at(4))
    assert of_type(first + second, TaskLeaseExpired) == []
    assert state.tasks["1"].status == state.tasks["3"].status == "succeeded" and dispatched(second) == ["2"]
    [ready] = of_type(second, TaskReady)
    assert ready.occurred_at == at(20) and ready.start_by == at(30)  # what it emits is stamped now
    assert RunState.replay(state.history) == state


def test_a_result_that_waited_is_lost_to_an_expired_lease_when_the_input_before_it_is_judged_by_the_clock() -> None:
    state, _ = start(CHAIN)
    state.on_task_started(started("1", 1), at(1))
    state.on_task_started(started("3", 2), at(2))
    expired = of_type(state.on_task_finished(ok("3", started_s=2, finished_s=3), at(20)), TaskLeaseExpired)
    assert [event.task_id for event in expired] == ["1"]  # its result, next in line, now belongs to attempt 1
    assert state.on_task_finished(ok("1", started_s=1, finished_s=4), at(20)) == []


def test_lease_expires_on_a_later_input_when_it_ran_out_before_that_input_was_sent() -> None:
    state, _ = start(CHAIN)
    state.on_task_started(started("1", 1), at(1))
    state.on_task_started(started("3", 2), at(20), as_of=at(2))
    expired = of_type(state.on_tick(at(20), as_of=at(13.5)), TaskLeaseExpired)  # task 1: no result by 1 + 12
    assert [(event.task_id, event.occurred_at) for event in expired] == [("1", at(20))]
    assert RunState.replay(state.history) == state
