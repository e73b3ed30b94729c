from __future__ import annotations

import pytest

from services.executor.tools import ToolArgumentsError, ToolRegistry, run_tool
from services.executor.tools.calculator import CalculationError, evaluate


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 / 4", 2.5),
        ("7 // 2", 3),
        ("7 % 3", 1),
        ("2 ** 10", 1024),
        ("-3 + +5", 2),
        ("max(3, 9, 4) - min(3, 9, 4)", 6),
        ("abs(-2.5)", 2.5),
        ("round(68170000 / 84482000, 3)", 0.807),
        ("sqrt(16)", 4),
        ("log(1000, 10)", 3),
        ("1_000 * 1.5", 1500),
    ],
)
def test_evaluates_arithmetic_when_expression_is_valid(expression: str, expected: float) -> None:
    assert evaluate(expression) == pytest.approx(expected)


def test_returns_int_when_value_is_integral() -> None:
    assert isinstance(evaluate("6 / 3"), int)
    assert isinstance(evaluate("7 / 2"), float)


@pytest.mark.parametrize(
    "expression",
    [
        "x + 1",
        "__import__('os').system('true')",
        "(1).__class__",
        "eval('1')",
        "round(1.25, ndigits=1)",
        "[1, 2][0]",
        "'a' * 3",
        "True + 1",
        "1 if 2 else 3",
        "lambda: 1",
    ],
)
def test_rejects_expression_when_it_is_not_plain_arithmetic(expression: str) -> None:
    with pytest.raises(CalculationError):
        evaluate(expression)


@pytest.mark.parametrize("expression", ["9 ** 9 ** 9", "2 ** 100000", "10 ** 999 * 10 ** 999", "1e308 * 10"])
def test_rejects_expression_when_result_would_be_huge(expression: str) -> None:
    with pytest.raises(CalculationError):
        evaluate(expression)


def test_rejects_expression_when_it_is_too_long() -> None:
    with pytest.raises(CalculationError, match="longer than"):
        evaluate("1 + " * 400 + "1")


async def test_names_the_argument_when_tool_gets_bad_expression(registry: ToolRegistry) -> None:
    with pytest.raises(ToolArgumentsError, match="'expression'.*division by zero") as caught:
        await run_tool(registry, "calculator", {"expression": "1 / 0"})
    assert caught.value.retryable is False


async def test_accepts_a_number_when_a_whole_result_is_passed(registry: ToolRegistry) -> None:
    result = await run_tool(registry, "calculator", {"expression": 42})
    assert result.value == 42


async def test_rejects_argument_when_it_is_neither_text_nor_number(registry: ToolRegistry) -> None:
    with pytest.raises(ToolArgumentsError, match="'expression'"):
        await run_tool(registry, "calculator", {"expression": [1, 2]})
