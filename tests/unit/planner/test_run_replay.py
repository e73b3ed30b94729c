"""Event sourcing: replaying a run's journal rebuilds the same state, which then makes the same decisions."""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime

import msgspec

from schemas import Event, Policy, TaskFinished, TaskStarted
from services.planner.core.journal import TaskRetryScheduled, decode_journal_entry, encode_journal_entry
from services.planner.core.run import RunState
from tests.unit.planner.runs import at, counting_ids, error, ok, start

PLAN = """<plan>
Task 1: kb_search(query="Peru") | Dependencies: none
Task 2: kb_search(query="Chile") | Dependencies: none
Task 3: calculator(expression="$1 + $2") | Dependencies: Task 1, Task 2
Task 4: sleep(seconds=1) | Dependencies: none
Task 5: Explain $3 | Dependencies: Task 3
</plan>"""


class JournaledRun:
    """Drives a run the way the planner service does, keeping the journal and a snapshot after every step."""

    def __init__(self, **options) -> None:
        self.state, events = start(PLAN, **options)
        self.journal: list[Event] = list(events)
        self.snapshots = [(len(self.journal), copy.deepcopy(self.state))]

    def result(self, event: TaskFinished, now: datetime) -> list[Event]:
        return self._record([event], self.state.on_task_finished(event, now))

    def started(self, task_id: str, attempt: int, now: datetime) -> list[Event]:
        event = TaskStarted(run_id="run-1", task_id=task_id, attempt=attempt, occurred_at=now)
        return self._record([event], self.state.on_task_started(event, now))

    def tick(self, now: datetime) -> list[Event]:
        return self._record([], self.state.on_tick(now))

    def _record(self, consumed: list[Event], emitted: list[Event]) -> list[Event]:
        self.journal += consumed + emitted
        self.snapshots.append((len(self.journal), copy.deepcopy(self.state)))
        return emitted


def eventful_run() -> JournaledRun:
    """Retries, a lost attempt, a duplicate, a stale error, a superseded success and a started attempt: every kind
    of journal entry."""
    run = JournaledRun(policy=Policy(max_attempts=3))
    [retry] = run.result(error("1", at_s=1), at(1))
    run.tick(retry.due_at)
    run.result(ok("1", started_s=2, finished_s=3, attempt=2, result=33), at(3))
    run.result(ok("1", started_s=2, finished_s=3, attempt=2, result=33), at(3))  # redelivered
    run.tick(at(12))  # tasks 2 and 4 went silent: both re-dispatched
    run.result(error("2", at_s=13, attempt=1), at(13))  # stale: attempt 2 is the live one
    run.result(ok("2", started_s=12, finished_s=14, attempt=2, result=19), at(14))
    run.result(ok("4", started_s=0, finished_s=15, attempt=1), at(15))  # superseded: attempt 2 is the live one
    run.started("4", 2, at(15))
    run.result(ok("4", started_s=15, finished_s=16, attempt=2), at(16))
    run.result(error("3", at_s=16, retryable=False, message="division by zero"), at(16))
    return run


def test_replay_rebuilds_the_same_state_when_given_every_prefix_of_the_journal() -> None:
    run = eventful_run()
    assert run.state.finished and run.state.outcome.status == "partial"
    for length, snapshot in run.snapshots:
        assert RunState.replay(run.journal[:length]) == snapshot


def test_replayed_state_makes_the_same_decisions_when_time_moves_on() -> None:
    run = JournaledRun()
    run.result(ok("1", started_s=0, finished_s=1), at(1))
    replayed = RunState.replay(run.journal, new_id=counting_ids("replayed"))
    live = run.state
    assert replayed.next_wakeup() == live.next_wakeup() == at(12)
    assert without_ids(replayed.on_tick(at(12))) == without_ids(live.on_tick(at(12)))
    result = ok("2", started_s=12, finished_s=13, attempt=2)
    assert without_ids(replayed.on_task_finished(result, at(13))) == without_ids(live.on_task_finished(result, at(13)))
    # Only the ids of the events each made on its own differ.
    assert dataclasses.replace(replayed, history=without_ids(replayed.history)) == dataclasses.replace(
        live, history=without_ids(live.history)
    )


def without_ids(events: list[Event]) -> list[Event]:
    return [msgspec.structs.replace(event, event_id="") for event in events]


def test_decisions_lost_in_a_crash_are_made_again_when_the_replayed_run_ticks() -> None:
    run = JournaledRun()
    run.result(error("1", at_s=1), at(1))
    # The consumed result reached the journal, the retry it caused did not.
    cut = [event for event in run.journal if not isinstance(event, TaskRetryScheduled)]
    replayed = RunState.replay(cut)
    [retry] = replayed.on_tick(at(2))
    assert isinstance(retry, TaskRetryScheduled) and (retry.task_id, retry.attempt) == ("1", 2)


def test_history_is_the_journal_without_redeliveries_when_results_come_twice() -> None:
    run = eventful_run()
    ignored = [event for event in run.journal if event not in run.state.history]
    assert [(event.task_id, event.attempt, event.status) for event in ignored] == [
        ("1", 2, "ok"),
        ("2", 1, "error"),
        ("4", 1, "ok"),
    ]
    assert RunState.replay(run.state.history) == run.state


def test_journal_survives_encoding_when_replayed_from_bytes() -> None:
    run = eventful_run()
    decoded = [decode_journal_entry(encode_journal_entry(event)) for event in run.journal]
    assert decoded == run.journal
    assert RunState.replay(decoded) == run.state


def test_run_tokens_count_the_plan_drafting_when_the_run_is_replayed_from_its_journal() -> None:
    run = JournaledRun(planning_tokens=120)  # the model calls that drafted the plan
    for task_id in ("1", "2", "4"):
        run.result(ok(task_id, started_s=0, finished_s=1, input_tokens=10, output_tokens=5), at(1))
    run.result(ok("3", started_s=1, finished_s=2), at(2))
    midway = [decode_journal_entry(encode_journal_entry(event)) for event in run.journal]
    run.result(ok("5", started_s=2, finished_s=3, input_tokens=30, output_tokens=20), at(3))
    assert run.state.outcome is not None and run.state.outcome.metrics.tokens == 120 + 3 * 15 + 50
    replayed = RunState.replay(midway)
    assert replayed.tokens == 120 + 3 * 15
    replayed.on_task_finished(ok("5", started_s=2, finished_s=3, input_tokens=30, output_tokens=20), at(3))
    assert replayed.outcome is not None and replayed.outcome.metrics == run.state.outcome.metrics


def test_run_tokens_start_at_zero_when_the_journal_was_written_before_planning_tokens_existed() -> None:
    run = JournaledRun()
    [planned, configured, *rest] = run.journal
    older = msgspec.json.decode(encode_journal_entry(configured))
    older.pop("planning_tokens")
    replayed = RunState.replay([planned, decode_journal_entry(msgspec.json.encode(older)), *rest])
    assert replayed == run.state and replayed.tokens == 0
