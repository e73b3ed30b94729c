"""Re-planning in the run's core: a task that failed for good waits for a sub-plan from the LLM, which joins the run
with new ids, or the run goes on as without re-planning."""

from __future__ import annotations

import msgspec
import pytest

from schemas import Plan, Policy, RunFinished, RunReplanned, Task, TaskReady, TaskSkipped
from services.planner.core.errors import PlanError
from services.planner.core.journal import ReplanFailed, ReplanRequested, decode_journal, encode_journal
from services.planner.core.replan import failed_step, graft
from services.planner.core.run import RunState
from tests.unit.planner.runs import CONFIG, at, counting_ids, dispatched, error, of_type, ok, start

# 1 -> 2 -> 3, and 4 on its own; 2 uses 1's result and 3 uses 2's.
CHAIN = """Task 1: kb_search(query="Peru") | Dependencies: none
Task 2: calculator(expression="$1 * 2") | Dependencies: Task 1
Task 3: calculator(expression="$2 + 1") | Dependencies: Task 2
Task 4: sleep(seconds=1) | Dependencies: none"""
REPLANNING = msgspec.structs.replace(CONFIG, max_replans=1, replan_timeout_s=30.0)
ONCE = Policy(max_attempts=1)
# What a model writes in place of task 2: a lookup, then an agent step that needs it.
SUBPLAN = Plan(
    tasks=(
        Task(id="1", tool="kb_search", args={"query": "population of Peru"}),
        Task(id="2", description="double the population", deps=("1",)),
    )
)


def failed_task_2(config=REPLANNING) -> tuple[RunState, list]:
    state, _ = start(CHAIN, policy=ONCE, config=config)
    state.on_task_finished(ok("1", started_s=0, finished_s=1, result=34), at(1))
    state.on_task_finished(ok("4", started_s=0, finished_s=1), at(1))
    return state, state.on_task_finished(error("2", at_s=2, retryable=False, message="bad expression"), at(2))


def test_dependents_wait_for_a_sub_plan_instead_of_being_skipped_when_a_task_fails_for_good_and_replans_remain():
    state, events = failed_task_2()
    [request] = of_type(events, ReplanRequested)
    assert (request.task_id, request.replan, request.error, request.due_at) == ("2", 1, "bad expression", at(32))
    assert of_type(events, TaskSkipped) == [] and not state.finished
    assert state.next_wakeup() == at(32)
    step = failed_step(state, "2")
    assert (step.tool, step.args, step.inputs, step.error) == ("calculator", {"expression": "34 * 2"}, {"1": 34},
                                                               "bad expression")  # fmt: skip


def test_sub_plan_joins_the_run_with_new_ids_and_the_dependents_need_its_last_task_when_it_is_accepted():
    state, _ = failed_task_2()
    events = state.on_replan("2", SUBPLAN, None, at(5))
    [replanned] = of_type(events, RunReplanned)
    assert (replanned.replaced_task_id, replanned.added, replanned.stands_in, replanned.replan) == (
        "2", ["r1.1", "r1.2"], "r1.2", 1)  # fmt: skip
    assert replanned.reason == "bad expression"
    assert replanned.plan.task("r1.1").deps == ("1",)  # a first task inherits what the failed one was given
    assert replanned.plan.task("r1.2").deps == ("r1.1",)
    assert replanned.plan.task("3").deps == ("r1.2",)
    assert replanned.plan.task("3").args == {"expression": {"$concat": [{"$ref": "r1.2"}, " + 1"]}}
    assert replanned.levels == [["1", "4"], ["2", "r1.1"], ["r1.2"], ["3"]]
    assert dispatched(events) == ["r1.1"]
    assert dispatched(state.on_task_finished(ok("r1.1", started_s=5, finished_s=6, result=34), at(6))) == ["r1.2"]
    [ready] = of_type(state.on_task_finished(ok("r1.2", started_s=6, finished_s=7, result=68), at(7)), TaskReady)
    assert (ready.task_id, ready.args) == ("3", {"expression": "68 + 1"})
    [finished] = of_type(state.on_task_finished(ok("3", started_s=7, finished_s=8, result=69), at(8)), RunFinished)
    assert (finished.status, finished.answer, finished.reason) == ("succeeded", {"3": 69, "4": "result of 4"}, None)
    assert finished.metrics.tasks == 6 and finished.skipped == {}


def test_replay_rebuilds_the_replanned_run_when_given_its_journal():
    state, _ = failed_task_2()
    state.on_replan("2", SUBPLAN, None, at(5))
    state.on_task_finished(ok("r1.1", started_s=5, finished_s=6), at(6))
    journal = decode_journal(encode_journal(state.history))
    replayed = RunState.replay(journal, new_id=counting_ids("x"))
    assert replayed == state
    assert replayed.dag.order == state.dag.order and replayed.dag.deps == state.dag.deps
    assert replayed.next_wakeup() == state.next_wakeup()
    for cut in range(len(state.history)):
        assert RunState.replay(state.history[: cut + 2]) == RunState.replay(journal[: cut + 2])


def test_dependents_are_skipped_at_once_when_no_replans_are_left():
    state, _ = failed_task_2()
    state.on_replan("2", SUBPLAN, None, at(5))
    events = state.on_task_finished(error("r1.1", at_s=6, retryable=False, message="no such country"), at(6))
    assert of_type(events, ReplanRequested) == []
    assert [event.task_id for event in of_type(events, TaskSkipped)] == ["3", "r1.2"]
    [finished] = of_type(events, RunFinished)
    assert (finished.status, finished.reason) == ("partial", "task r1.1 failed: no such country")


@pytest.mark.parametrize(
    ("subplan", "problem"),
    [
        (Plan(tasks=(Task(id="1", tool="calculator", deps=("2",)), Task(id="2", tool="calculator", deps=("1",)))),
         "the sub-plan cannot run: cycle: 1 -> 2 -> 1"),
        (Plan(tasks=(Task(id="1", tool="calculator", deps=("9",)),)),
         "the sub-plan cannot run: task 1 depends on unknown task 9"),
        (Plan(tasks=()), "the sub-plan cannot run: plan has no tasks"),
    ],
)  # fmt: skip
def test_run_goes_on_as_without_replanning_and_says_why_when_the_sub_plan_is_bad(subplan, problem):
    state, _ = failed_task_2()
    events = state.on_replan("2", subplan, None, at(5))
    [failed] = of_type(events, ReplanFailed)
    assert failed.reason.startswith(problem)
    reason = f"dependency 2 failed: bad expression; no sub-plan replaced it: {failed.reason}"
    assert [(event.task_id, event.reason) for event in of_type(events, TaskSkipped)] == [("3", reason)]
    [finished] = of_type(events, RunFinished)
    assert finished.reason == f"task 2 failed: bad expression; no sub-plan replaced it: {failed.reason}"
    assert RunState.replay(state.history) == state


def test_dependents_are_skipped_with_the_model_s_failure_when_no_sub_plan_comes():
    state, _ = failed_task_2()
    events = state.on_replan("2", None, "the LLM planner failed: HTTP 500", at(5))
    [skipped] = of_type(events, TaskSkipped)
    assert skipped.reason.endswith("no sub-plan replaced it: the LLM planner failed: HTTP 500")


def test_dependents_are_skipped_when_the_sub_plan_does_not_come_in_time():
    state, _ = failed_task_2()
    assert state.on_tick(at(31)) == []
    events = state.on_tick(at(32))
    [failed] = of_type(events, ReplanFailed)
    assert failed.reason == "no sub-plan within planner.replan_timeout_s (30 s)"
    assert [event.task_id for event in of_type(events, TaskSkipped)] == ["3"]
    assert state.on_replan("2", SUBPLAN, None, at(40)) == []  # too late: the run has finished without it


def test_run_keeps_today_s_failure_rules_when_replanning_is_off():
    with_model_off, events = failed_task_2(config=CONFIG)
    assert of_type(events, ReplanRequested) == []
    assert [event.task_id for event in of_type(events, TaskSkipped)] == ["3"]
    [finished] = of_type(events, RunFinished)
    assert finished.reason == "task 2 failed: bad expression"
    assert with_model_off.on_replan("2", SUBPLAN, None, at(3)) == []


def test_failed_final_task_is_replaced_and_its_stand_in_gives_the_answer_when_the_sub_plan_succeeds():
    state, _ = start("T1: kb_search(query='Peru') - Dependencies: none", policy=ONCE, config=REPLANNING)
    [request] = of_type(state.on_task_finished(error("T1", at_s=1), at(1)), ReplanRequested)
    assert not state.finished  # the only task failed, but its replacement may still answer
    single = Plan(tasks=(Task(id="1", tool="kb_search", args={"query": "population of Peru"}),))
    assert dispatched(state.on_replan(request.task_id, single, None, at(2))) == ["r1.1"]
    [finished] = of_type(state.on_task_finished(ok("r1.1", started_s=2, finished_s=3, result=34), at(3)), RunFinished)
    assert (finished.status, finished.answer, finished.reason) == ("succeeded", 34, None)


def test_run_times_out_at_its_deadline_when_it_waits_for_a_sub_plan():
    config = msgspec.structs.replace(REPLANNING, replan_timeout_s=600.0)
    state, _ = start(CHAIN, policy=ONCE, config=config, deadline_s=20)
    state.on_task_finished(error("1", at_s=1, retryable=False), at(1))
    state.on_task_finished(ok("4", started_s=0, finished_s=2), at(2))
    assert state.next_wakeup() == at(20)
    [finished] = of_type(state.on_tick(at(20)), RunFinished)
    assert finished.status == "timed_out"


def test_only_max_replans_failures_wait_for_a_sub_plan_when_several_tasks_fail():
    state, _ = start(CHAIN, policy=ONCE, config=REPLANNING)
    first = state.on_task_finished(error("1", at_s=1, retryable=False), at(1))
    assert [event.task_id for event in of_type(first, ReplanRequested)] == ["1"]
    second = state.on_task_finished(error("4", at_s=2, retryable=False), at(2))
    assert of_type(second, ReplanRequested) == [] and not state.finished  # 4 is a final task: nothing to skip


def test_sub_plan_ends_in_its_last_final_task_when_it_has_several():
    subplan = Plan(
        tasks=(
            Task(id="a", tool="kb_search", args={"query": "Peru"}),
            Task(id="b", tool="kb_search", args={"query": "Chile"}),
            Task(id="c", description="compare", deps=("a",)),
        )
    )
    plan, added, stands_in = graft(Plan(tasks=(Task(id="1", tool="sleep"),)), "1", subplan, 2)
    assert (added, stands_in) == (["r2.a", "r2.b", "r2.c"], "r2.c")
    assert plan.task("r2.c").deps == ("r2.a", "r2.b")


def test_sub_plan_is_refused_when_its_new_ids_are_taken_in_the_run():
    plan = Plan(tasks=(Task(id="1", tool="sleep"), Task(id="r1.x", tool="sleep")))
    with pytest.raises(PlanError, match="task id r1.x is taken"):
        graft(plan, "1", Plan(tasks=(Task(id="x", tool="sleep"),)), 1)


def test_run_tokens_count_the_sub_plan_s_model_calls_when_the_run_is_replayed_from_its_journal():
    state, _ = failed_task_2()
    [replanned] = of_type(state.on_replan("2", SUBPLAN, None, at(5), tokens=40), RunReplanned)
    assert replanned.tokens == 40 and state.tokens == 40
    state.on_task_finished(ok("r1.1", started_s=5, finished_s=6, result=34, input_tokens=10, output_tokens=5), at(6))
    midway = decode_journal(encode_journal(state.history))
    replayed = RunState.replay(midway)
    assert replayed == state and replayed.tokens == 40 + 15
    for run in (state, replayed):
        run.on_task_finished(ok("r1.2", started_s=6, finished_s=7, result=68), at(7))
        [finished] = of_type(run.on_task_finished(ok("3", started_s=7, finished_s=8), at(8)), RunFinished)
        assert finished.metrics.tokens == 40 + 15


@pytest.mark.parametrize(
    ("subplan", "problem"),
    [(None, "the model's sub-plan cannot run: unknown tool 'teleport'"), (Plan(tasks=()), None)],
)
def test_run_tokens_count_the_model_calls_of_a_sub_plan_that_cannot_run_when_the_dependents_are_skipped(
    subplan, problem
):
    state, _ = failed_task_2()
    events = state.on_replan("2", subplan, problem, at(5), tokens=25)
    [failed] = of_type(events, ReplanFailed)
    [finished] = of_type(events, RunFinished)
    assert failed.tokens == 25 and finished.metrics.tokens == 25
    assert RunState.replay(decode_journal(encode_journal(state.history))) == state


def test_replanning_facts_count_no_tokens_when_the_journal_was_written_before_they_carried_tokens():
    replanned_run, _ = failed_task_2()
    replanned_run.on_replan("2", SUBPLAN, None, at(5), tokens=40)
    failed_run, _ = failed_task_2()
    failed_run.on_replan("2", None, "the LLM planner failed: HTTP 500", at(5), tokens=25)
    for state in (replanned_run, failed_run):
        older = msgspec.json.decode(encode_journal(state.history))
        [cut] = [n for n, entry in enumerate(older) if entry["type"] in ("RunReplanned.v1", "ReplanFailed.v1")]
        older[cut].pop("tokens")
        replayed = RunState.replay(decode_journal(msgspec.json.encode(older[: cut + 1])))  # up to the outcome
        assert replayed.tokens == 0 and replayed.replans == state.replans
