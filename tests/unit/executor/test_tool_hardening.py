"""Tools under hostile input: deep expressions get a clear refusal, the sql tool binds upstream values as
parameters and runs under locked memory, thread and time limits."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.executor.tools import ToolArgumentsError, ToolError, ToolRegistry, ToolTimeoutError, run_tool
from services.executor.tools.calculator import MAX_DEPTH, CalculationError, evaluate
from services.executor.tools.knowledge_base import KnowledgeBase
from services.executor.tools.sql import SqlLimits, make_sql, open_database


@pytest.mark.parametrize(
    "expression",
    ["-" * 999 + "1", "+-" * 499 + "1", "1+" * 499 + "1", "2**" * 300 + "2"],
    ids=["unary", "alternating-unary", "long-sum", "power-tower"],
)
def test_refuses_with_a_clear_message_when_the_expression_is_nested_too_deeply(expression: str) -> None:
    with pytest.raises(CalculationError, match=f"nested more than {MAX_DEPTH} levels deep"):
        evaluate(expression)


def test_still_evaluates_when_the_nesting_is_moderate() -> None:
    assert evaluate("(" * 100 + "1" + ")" * 100) == 1
    assert evaluate("-" * 100 + "1") == 1


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-*/%().,e abcdlmnqrstx_", max_size=1_000))
async def test_only_refuses_with_a_calculation_error_when_given_random_text(text: str) -> None:
    # Whatever the text, the outcome is a number or a clean refusal: never RecursionError, MemoryError, a crash.
    try:
        value = evaluate(text)
    except CalculationError:
        return
    assert isinstance(value, int | float)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=999), st.sampled_from(["-", "+", "(", "abs(", "sqrt("]))
def test_never_overflows_the_stack_when_nesting_grows(depth: int, opener: str) -> None:
    closer = ")" if opener.endswith("(") else ""
    expression = (opener * depth + "4" + closer * depth)[:1_000]
    try:
        evaluate(expression)
    except CalculationError:
        pass


async def sql(registry: ToolRegistry, query: str, params: object = None, timeout_s: float | None = None) -> object:
    args = {"query": query} if params is None else {"query": query, "params": params}
    return (await run_tool(registry, "sql", args, timeout_s)).value


async def test_binds_an_upstream_value_as_data_when_it_arrives_in_params(registry: ToolRegistry) -> None:
    assert await sql(registry, "SELECT population FROM countries WHERE name = ?", ["France"]) == 68_170_000
    assert await sql(registry, "SELECT population FROM countries WHERE name = $name", {"name": "France"}) == 68_170_000


async def test_treats_an_injection_as_a_plain_string_when_it_arrives_in_params(registry: ToolRegistry) -> None:
    hostile = "x' OR '1'='1"
    assert await sql(registry, "SELECT count(*) FROM countries WHERE name = ?", [hostile]) == 0
    assert await sql(registry, "SELECT ? AS echoed", ["'); DROP TABLE films; --"]) == "'); DROP TABLE films; --"
    assert await sql(registry, "SELECT count(*) FROM films") >= 40


async def test_binds_a_single_value_when_params_is_not_a_list(registry: ToolRegistry) -> None:
    assert await sql(registry, "SELECT ? * 2", 21) == 42


async def test_fails_without_retry_when_the_parameters_do_not_match(registry: ToolRegistry) -> None:
    with pytest.raises(ToolError) as caught:
        await sql(registry, "SELECT ? + ?", [1])
    assert caught.value.retryable is False


async def test_refuses_params_of_another_shape(registry: ToolRegistry) -> None:
    with pytest.raises(ToolArgumentsError, match="'params'"):
        await sql(registry, "SELECT 1", params=object())


@pytest.mark.parametrize("setting", ["memory_limit = '64GB'", "threads = 64", "enable_external_access = true"])
async def test_keeps_its_limits_when_a_query_tries_to_change_them(registry: ToolRegistry, setting: str) -> None:
    with pytest.raises(ToolArgumentsError):
        await sql(registry, f"SET {setting}")
    assert await sql(registry, "SELECT current_setting('threads')") == 2


async def test_fails_the_call_when_a_query_needs_more_memory_than_its_limit(kb: KnowledgeBase) -> None:
    limits = SqlLimits(memory_limit="32MB", threads=1, timeout_s=20.0)
    registry = ToolRegistry()
    registry.register(make_sql(open_database(None, kb, limits), limits))
    with pytest.raises(ToolError, match="(?i)out of memory|memory"):
        await sql(registry, "SELECT list(i::VARCHAR || repeat('x', 100)) FROM range(2000000) t(i)")


async def test_interrupts_the_query_when_it_runs_past_its_configured_time(kb: KnowledgeBase) -> None:
    limits = SqlLimits(timeout_s=0.3)
    registry = ToolRegistry()
    registry.register(make_sql(open_database(None, kb, limits), limits))
    clock = time.perf_counter()
    with pytest.raises(ToolTimeoutError, match="sql timed out after 0.3 s"):
        await sql(registry, "SELECT count(*) FROM range(100000000000) a")
    assert time.perf_counter() - clock < 5
    assert await sql(registry, "SELECT 1") == 1
