"""Fuzzing the plan parser: any text either becomes a plan or a PlanError with a one-line message, never another
exception (random text, unicode, huge plans, deep nesting in every accepted format)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import Plan, Task
from services.planner.core.errors import PlanError
from services.planner.core.parse import parse_plan
from services.planner.core.validate import load_plan, validate_plan

TOOLS = ("calculator", "kb_search", "sleep")
FRAGMENTS = st.sampled_from(
    [
        "Task 1:",
        "Task 2:",
        "T1:",
        "T2:",
        "1.",
        "2.",
        " | Dependencies: ",
        " - Dependencies: ",
        "none",
        "Task 1",
        "T1",
        ", ",
        "$1",
        "${2}",
        "calculator(",
        'expression="',
        "kb_search(query=",
        ")",
        "(",
        '"',
        "'",
        "[",
        "]",
        "{",
        "}",
        "join()",
        "<plan>",
        "</plan>",
        '{"tasks": [',
        '{"id": "a", "tool": "sleep", "deps": ["a"]}',
        "\n",
        "\t",
        "**",
        "lambda: 0",
        "\u202e",
        "\ud800",
        "名前",
        "🙂",
        "\x00",
    ]
)


def check(text: str) -> None:
    try:
        load_plan(text, known_tools=TOOLS, max_tasks=64, llm_available=True, max_arg_bytes=16_000)
    except PlanError as error:
        message = str(error)
        assert message and "\n" not in message and "\r" not in message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_parser_parses_or_rejects_in_one_line_when_given_random_unicode(text: str) -> None:
    check(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENTS, max_size=40).map("".join))
def test_parser_parses_or_rejects_in_one_line_when_given_plan_shaped_fragments(text: str) -> None:
    check(text)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 3000), st.sampled_from(["seed", "gap", "compiler"]))
def test_parser_rejects_in_one_line_when_a_plan_is_huge(count: int, style: str) -> None:
    line = {
        "seed": "Task {n}: sleep(seconds=0) | Dependencies: none",
        "gap": "T{n}: sleep(seconds=0) - Dependencies: none",
        "compiler": "{n}. sleep(seconds=0)",
    }[style]
    check("\n".join(line.format(n=n) for n in range(1, count + 1)))


@pytest.mark.parametrize("depth", [50, 500, 5000, 100_000])
@pytest.mark.parametrize(
    "shape",
    [
        "Task 1: calculator(expression={open}1{close}) | Dependencies: none",
        "1. calculator(expression={open}1{close})",
        '{{"tasks": [{{"id": "1", "tool": "sleep", "args": {{"x": {open}1{close}}}}}]}}',
        'Task 1: calculator(expression="{open}1{close}") | Dependencies: none',
    ],
)
@pytest.mark.parametrize("brackets", [("[", "]"), ("(", ")"), ('{"a": ', "}")])
def test_parser_rejects_in_one_line_when_arguments_are_nested_deeply(depth: int, shape: str, brackets) -> None:
    opening, closing = brackets
    check(shape.format(open=opening * depth, close=closing * depth))


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 400))
def test_parser_handles_long_dependency_chains_when_each_task_needs_the_previous(length: int) -> None:
    lines = ["Task 1: sleep(seconds=0) | Dependencies: none"] + [
        f"Task {n}: sleep(seconds=0) | Dependencies: Task {n - 1}" for n in range(2, length + 1)
    ]
    check("\n".join(lines))


def test_structured_plan_is_rejected_in_one_line_when_its_arguments_nest_deeper_than_the_limit() -> None:
    nested: object = 1
    for _ in range(10_000):
        nested = [nested]
    plan = Plan(tasks=(Task(id="a", tool="sleep", args={"seconds": nested}),))
    with pytest.raises(PlanError, match=r"^task a's arguments are nested deeper than 32 levels$"):
        validate_plan(plan, known_tools=TOOLS, max_tasks=64, llm_available=True)


def test_deeply_nested_operators_get_a_one_line_plan_error_when_a_tool_call_is_parsed() -> None:
    for text in (
        "1. calculator(expression=" + "-" * 5000 + "1)\n2. join()",
        "Task 1: calculator(expression=" + "-" * 5000 + "1) | Dependencies: none",
    ):
        with pytest.raises(PlanError, match="nested too deeply") as raised:
            parse_plan(text)
        assert "\n" not in str(raised.value) and len(str(raised.value)) < 300
