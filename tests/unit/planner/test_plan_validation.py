"""Every rejection, with the one-line message that names the line and/or the task."""

from __future__ import annotations

import pytest

from schemas import Plan, Task
from services.planner.core.errors import PlanError
from services.planner.core.validate import load_plan, validate_plan

TOOLS = {"kb_search", "calculator", "sleep"}


def rejection(text: str, *, known_tools: set[str] | None = TOOLS, max_tasks: int = 10, llm: bool = True) -> PlanError:
    with pytest.raises(PlanError) as raised:
        load_plan(text, known_tools=known_tools, max_tasks=max_tasks, llm_available=llm)
    return raised.value


@pytest.mark.parametrize(
    ("text", "message", "line", "task_id"),
    [
        (
            "Task 1: sleep(seconds=1) | Dependencies: none\nTask 2: sleep(seconds=1) | Dependencies: Task 1\n"
            "Task 1: sleep(seconds=2) | Dependencies: none",
            "line 3: task 1 is defined twice (first on line 1)",
            3,
            "1",
        ),
        (
            "T1: sleep(seconds=1) - Dependencies: none\nT2: sleep(seconds=1) - Dependencies: T1\n"
            "T3: sleep(seconds=1) - Dependencies: T9",
            "line 3: task T3 depends on unknown task T9",
            3,
            "T3",
        ),
        ("T1: sleep(seconds=1) - Dependencies: T1", "line 1: task T1 depends on itself", 1, "T1"),
        (
            "<plan>\nTask 1: sleep(seconds=1) | Dependencies: Task 3\nTask 2: sleep(seconds=1) | Dependencies: Task 1\n"
            "Task 3: sleep(seconds=1) | Dependencies: Task 2\n</plan>",
            "line 2: cycle: 1 -> 2 -> 3 -> 1 (each task needs the one before it)",
            2,
            "1",
        ),
        (
            'Task 1: kb_search(query="Peru") | Dependencies: none\n'
            'Task 2: calculator(expression="$1 * 2") | Dependencies: none',
            "line 2: task 2 uses the result of task 1 but does not list it as a dependency",
            2,
            "2",
        ),
        (
            'Task 1: kb_search(query="Peru") | Dependencies: none\n'
            'Task 2: calculator(expression="${7} * 2") | Dependencies: Task 1',
            "line 2: task 2 refers to unknown task 7 in its arguments",
            2,
            "2",
        ),
        (
            "Task 1: kb_search(query='Peru') | Dependencies: none\nTask 2: fly(to='Lima') | Dependencies: Task 1",
            "line 2: task 2 calls unknown tool 'fly' (known: calculator, kb_search, sleep)",
            2,
            "2",
        ),
        ("1. kb_search('a')\n2. kb_search($9)\njoin()", "line 2: task 2 depends on unknown task 9", 2, "2"),
    ],
)
def test_plan_is_rejected_with_its_line_and_task_when_structure_is_wrong(
    text: str, message: str, line: int, task_id: str
) -> None:
    error = rejection(text)
    assert (str(error), error.line, error.task_id) == (message, line, task_id)


def test_description_only_task_is_rejected_when_no_llm_endpoint_is_configured() -> None:
    text = "Task 1: sleep(seconds=1) | Dependencies: none\nTask 2: Explain the result | Dependencies: Task 1"
    assert str(rejection(text, llm=False)) == (
        "line 2: task 2 is free text (an agent step) and no model is configured: "
        "set llm.base_url and llm.model, or run genesis llm serve"
    )
    load_plan(text, known_tools=TOOLS, max_tasks=10, llm_available=True)


def test_plan_is_rejected_when_it_has_more_tasks_than_the_maximum() -> None:
    text = "\n".join(f"Task {n}: sleep(seconds=0) | Dependencies: none" for n in range(1, 5))
    assert str(rejection(text, max_tasks=3)) == "plan has 4 tasks, over planner.max_tasks (3)"


def test_empty_plan_is_rejected_when_given_as_structured_tasks() -> None:
    with pytest.raises(PlanError, match=r"^plan has no tasks$"):
        validate_plan(Plan(tasks=()), known_tools=None, max_tasks=10, llm_available=True)


def test_structured_plan_errors_name_the_task_when_there_are_no_lines() -> None:
    plan = Plan(tasks=(Task(id="a", tool="sleep"), Task(id="b", tool="sleep", deps=("z",))))
    with pytest.raises(PlanError) as raised:
        validate_plan(plan, known_tools=None, max_tasks=10, llm_available=True)
    assert (str(raised.value), raised.value.line, raised.value.task_id) == (
        "task b depends on unknown task z",
        None,
        "b",
    )


def test_any_tool_is_accepted_when_known_tools_is_not_given() -> None:
    load_plan("T1: teleport(to='Mars') - Dependencies: none", known_tools=None, max_tasks=1, llm_available=False)


def test_plan_error_prints_one_line_when_the_message_holds_newlines() -> None:
    error = PlanError("task 3 calls\nunknown tool", line=4, task_id="3")
    assert str(error) == "line 4: task 3 calls unknown tool"
    assert (error.message, error.line, error.task_id) == ("task 3 calls unknown tool", 4, "3")
