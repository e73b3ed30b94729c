"""The planner's static list of built-in tools matches what the executors' registry builds."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from schemas.tools import tool_signatures
from services.executor.tools import ToolSettings, build_registry, registry, tool
from services.llm.settings import LlmSettings
from services.planner.tools import SPEC_ATTRIBUTE, USER_TOOLS_GROUP, planner_tools


@pytest.mark.parametrize("llm", [False, True])
@pytest.mark.parametrize("http", [False, True])
def test_static_tool_signatures_match_the_registry_when_built_with_the_same_settings(llm: bool, http: bool) -> None:
    registry = build_registry(
        ToolSettings(kb_latency_s=0.0, http_allowlist=("example.org",) if http else ()),
        llm=LlmSettings(base_url="http://127.0.0.1:9/v1", model="m") if llm else None,
        entry_point_group=None,
    )
    assert tool_signatures(llm=llm, http=http) == registry.signatures()


def test_user_tools_join_the_builtins_when_given_as_extra() -> None:
    signatures = tool_signatures(llm=False, http=False, extra={"weather": ["city"]})
    assert signatures["weather"] == ("city",) and "kb_search" in signatures


@tool(name="forecast")
async def forecast(city: str, days: int = 3) -> str:
    return f"{city}: sunny for {days} days"


async def weather(city: str, *, unit: str = "C") -> str:
    return f"{city}: 20 {unit}"


def test_planner_learns_user_tools_from_entry_points_when_they_are_installed() -> None:
    found = [
        EntryPoint(name="forecast", value=f"{__name__}:forecast", group=USER_TOOLS_GROUP),
        EntryPoint(name="weather", value=f"{__name__}:weather", group=USER_TOOLS_GROUP),
    ]
    tools = planner_tools(llm_enabled=True, found=found)
    assert tools["forecast"] == ("city", "days") and tools["weather"] == ("city",)
    assert {"calculator", "kb_search", "sleep", "sql", "llm"} <= set(tools)


def test_planner_reads_user_tools_where_the_executors_publish_them() -> None:
    assert (USER_TOOLS_GROUP, SPEC_ATTRIBUTE) == (registry.ENTRY_POINT_GROUP, registry.SPEC_ATTRIBUTE)
