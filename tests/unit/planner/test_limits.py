"""Bounds checked where a request enters the planner: each rejection names the setting that allows more."""

from __future__ import annotations

import pytest

from schemas import Plan, Policy, RunRequested, Task
from services.planner.core.errors import PlanError
from services.planner.core.limits import IntakeLimits
from services.planner.core.validate import load_plan
from services.planner.intake import Intake

TOOLS = ("calculator", "kb_search", "sleep", "sql")


def intake(**limits) -> Intake:
    return Intake(known_tools=TOOLS, signatures=None, limits=IntakeLimits(**limits), chat=None, prompt_template="")


def rejection(request: RunRequested, **limits) -> str:
    with pytest.raises(PlanError) as caught:
        intake(**limits).accept(request)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_plan_text_is_rejected_naming_the_setting_when_it_is_over_max_plan_bytes() -> None:
    text = 'Task 1: calculator(expression="1 + 1") | Dependencies: none\n' * 10
    assert rejection(RunRequested(run_id="r", plan_text=text), max_plan_bytes=100) == (
        f"plan text is {len(text)} bytes, over planner.max_plan_bytes (100)"
    )


def test_structured_plan_and_query_are_bounded_when_over_max_plan_bytes() -> None:
    plan = Plan(tasks=tuple(Task(id=str(n), tool="sleep") for n in range(20)))
    assert rejection(RunRequested(run_id="r", plan=plan), max_plan_bytes=50).startswith("plan is ")
    assert rejection(RunRequested(run_id="r", query="é" * 60), max_plan_bytes=100) == (
        "query is 120 bytes, over planner.max_plan_bytes (100)"
    )


def test_arguments_are_rejected_with_task_and_line_when_over_max_arg_bytes() -> None:
    text = (
        'Task 1: sleep(seconds=0) | Dependencies: none\nTask 2: kb_search(query="'
        + "x" * 200
        + '") | Dependencies: none'
    )
    message = rejection(RunRequested(run_id="r", plan_text=text), max_arg_bytes=100)
    assert message == "line 2: task 2's arguments are 212 bytes, over planner.max_arg_bytes (100)"


def test_labels_are_rejected_when_too_many_or_too_long() -> None:
    many = {f"k{n}": "v" for n in range(5)}
    assert rejection(RunRequested(run_id="r", plan_text="x", labels=many), max_labels=4) == (
        "request has 5 labels, over planner.max_labels (4)"
    )
    long = {"suite": "v" * 300}
    assert rejection(RunRequested(run_id="r", plan_text="x", labels=long)) == (
        "label 'suite' is 300 bytes, over planner.max_label_bytes (256)"
    )


def test_deadline_is_rejected_when_over_max_deadline_s_or_not_positive() -> None:
    assert rejection(RunRequested(run_id="r", plan_text="x", deadline_s=7200.0)) == (
        "deadline of 7200s is over planner.max_deadline_s (3600)"
    )
    assert rejection(RunRequested(run_id="r", plan_text="x", deadline_s=0.0)) == "deadline_s must be positive, got 0"


def test_task_count_is_rejected_naming_max_tasks() -> None:
    text = "\n".join(f"Task {n}: sleep(seconds=0) | Dependencies: none" for n in range(1, 6))
    assert rejection(RunRequested(run_id="r", plan_text=text), max_tasks=4) == (
        "plan has 5 tasks, over planner.max_tasks (4)"
    )


def test_plan_is_rejected_when_it_uses_a_tool_the_request_does_not_allow() -> None:
    text = 'Task 1: kb_search(query="Peru") | Dependencies: none\nTask 2: sql(query="SELECT 1") | Dependencies: none'
    request = RunRequested(run_id="r", plan_text=text, allowed_tools=["kb_search", "calculator"])
    assert rejection(request) == (
        "line 2: task 2 calls tool 'sql', which the request does not allow (allowed_tools: calculator, kb_search)"
    )


def test_agent_step_needs_the_llm_tool_when_the_request_restricts_tools() -> None:
    with pytest.raises(PlanError, match="task 1 is an agent step, which needs tool 'llm'"):
        load_plan(
            "Task 1: Summarise the news | Dependencies: none",
            known_tools=None,
            max_tasks=5,
            llm_available=True,
            allowed_tools=["calculator"],
        )


async def test_plan_within_every_limit_and_allowed_tools_is_accepted() -> None:
    text = 'Task 1: kb_search(query="Peru") | Dependencies: none'
    request = RunRequested(
        run_id="r", plan_text=text, labels={"suite": "unit"}, deadline_s=60, allowed_tools=["kb_search"]
    )
    parsed = await intake().plan(request, Policy())
    assert [task.tool for task in parsed.plan.tasks] == ["kb_search"]
