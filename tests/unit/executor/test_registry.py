from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from services.executor.tools import (
    ToolArgumentsError,
    ToolRegistry,
    ToolResult,
    ToolSettings,
    ToolSpec,
    UnknownToolError,
    build_registry,
    load_tool_settings,
    run_tool,
    tool,
)
from services.executor.tools.registry import ENTRY_POINT_GROUP
from services.llm.settings import LlmSettings


# User tools, as a package would publish them through entry points.
@tool(timeout_s=3, description="Double a number.")
async def double(x: float) -> float:
    return 2 * x


async def _triple(x: float) -> float:
    return 3 * x


TRIPLE = ToolSpec(name="triple", fn=_triple, description="Triple a number.", timeout_s=2)


async def undecorated(x: float) -> float:
    return x


def entry_point(name: str, attribute: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{__name__}:{attribute}", group=ENTRY_POINT_GROUP)


def test_builds_spec_from_function_when_decorated_bare() -> None:
    @tool
    async def shout(text: str) -> str:
        """Upper-case the text.

        More detail that is not part of the description."""
        return text.upper()

    registry = ToolRegistry()
    spec = registry.register(shout)
    assert (spec.name, spec.description, spec.timeout_s) == ("shout", "Upper-case the text.", 30.0)


async def test_keeps_function_callable_when_decorated() -> None:
    assert await double(4) == 8


def test_uses_given_name_when_decorator_names_the_tool() -> None:
    @tool("web_search", timeout_s=12)
    async def search(query: str) -> str:
        return query

    @tool(name="lookup")
    async def find(query: str) -> str:
        return query

    registry = ToolRegistry()
    registry.register(search)
    registry.register(find)
    assert registry.names() == ("lookup", "web_search")
    assert registry.get("web_search").timeout_s == 12


def test_refuses_function_when_it_is_not_async() -> None:
    def blocking(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="must be an async function"):
        tool(blocking)


def test_refuses_second_tool_when_name_is_taken() -> None:
    registry = ToolRegistry()
    registry.register(double)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(TRIPLE, name="double")


def test_registers_user_tools_when_entry_points_load_spec_or_decorated_function() -> None:
    registry = ToolRegistry()
    loaded = registry.load_entry_points(found=[entry_point("double", "double"), entry_point("times3", "TRIPLE")])
    assert loaded == ["double", "times3"]
    assert registry.get("times3").description == "Triple a number."
    assert registry.get("double").timeout_s == 3


def test_names_the_entry_point_when_it_loads_something_else() -> None:
    with pytest.raises(TypeError, match="entry point 'plain'.*neither a ToolSpec nor"):
        ToolRegistry().load_entry_points(found=[entry_point("plain", "undecorated")])


async def test_runs_user_tool_when_loaded_from_entry_point() -> None:
    registry = ToolRegistry()
    registry.load_entry_points(found=[entry_point("double", "double")])
    assert await run_tool(registry, "double", {"x": 21}) == ToolResult(value=42)


async def test_refuses_call_without_retry_when_tool_is_unknown(registry: ToolRegistry) -> None:
    with pytest.raises(UnknownToolError, match="unknown tool 'search'.*calculator") as caught:
        await run_tool(registry, "search", {"query": "x"})
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("args", "named"),
    [({}, "query"), ({"query": "France", "limit": 3}, "limit"), ({"q": "France"}, "q")],
)
async def test_names_the_argument_when_call_signature_does_not_bind(
    registry: ToolRegistry, args: dict[str, object], named: str
) -> None:
    with pytest.raises(ToolArgumentsError, match=named) as caught:
        await run_tool(registry, "kb_search", args)
    assert caught.value.retryable is False


async def test_passes_tokens_through_when_tool_returns_tool_result() -> None:
    @tool
    async def counted() -> ToolResult:
        return ToolResult(value="ok", input_tokens=5, output_tokens=2, model="m")

    registry = ToolRegistry()
    registry.register(counted)
    assert await run_tool(registry, "counted", {}) == ToolResult(value="ok", input_tokens=5, output_tokens=2, model="m")


def test_registers_only_offline_builtins_when_nothing_is_configured(registry: ToolRegistry) -> None:
    assert registry.names() == ("calculator", "kb_search", "sleep", "sql")


def test_registers_llm_and_http_get_when_configured() -> None:
    settings = ToolSettings(kb_latency_s=0, http_allowlist=("example.org",))
    llm = LlmSettings(base_url="http://127.0.0.1:9/v1", model="m")
    assert {"llm", "http_get"} <= set(build_registry(settings, llm=llm, entry_point_group=None).names())


def test_reads_tools_section_and_environment_when_loading_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENESIS_TOOLS_KB_LATENCY_S", "0.5")
    monkeypatch.setenv("GENESIS_TOOLS_HTTP_ALLOWLIST", "[example.org]")
    settings = load_tool_settings()
    assert (settings.kb_latency_s, settings.http_allowlist) == (0.5, ("example.org",))


def test_lists_parameter_names_in_order_when_planner_asks_for_signatures(registry: ToolRegistry) -> None:
    signatures = registry.signatures()
    assert signatures["kb_search"] == ("query",)
    assert signatures["calculator"] == ("expression",)


def test_refuses_function_when_a_parameter_cannot_be_passed_by_name() -> None:
    async def positional_only(x: int, /) -> int:
        return x

    with pytest.raises(TypeError, match="positional-only"):
        ToolSpec(name="p", fn=positional_only)
