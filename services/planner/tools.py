"""The tools the planner checks plans against: the built-ins as data (schemas/tools.py), chosen by the same settings
the executors use, plus the user tools published as entry points. Nothing here builds the executors' registry."""

from __future__ import annotations

import inspect
from importlib.metadata import EntryPoint, entry_points

import msgspec

from configs.settings import load_section
from schemas.tools import tool_signatures

# The executors' entry-point group for user tools (services/executor/tools/registry.py).
USER_TOOLS_GROUP = "genesis.tools"
# The attribute @tool sets on a user tool function (services/executor/tools/registry.py).
SPEC_ATTRIBUTE = "__genesis_tool__"


class _HttpSetting(msgspec.Struct, kw_only=True):
    """The one key of the tools section that decides whether a built-in is registered."""

    http_allowlist: tuple[str, ...] = ()


def planner_tools(*, llm_enabled: bool, found: list[EntryPoint] | None = None) -> dict[str, tuple[str, ...]]:
    """Parameter names by tool name for what the executors offer with this configuration."""
    http = bool(load_section("tools", _HttpSetting).http_allowlist)
    user = {
        entry_point.name: _parameters(entry_point.load())
        for entry_point in (entry_points(group=USER_TOOLS_GROUP) if found is None else found)
    }
    return tool_signatures(llm=llm_enabled, http=http, extra=user)


def _parameters(tool: object) -> tuple[str, ...]:
    function = getattr(getattr(tool, SPEC_ATTRIBUTE, None), "fn", tool)
    return tuple(
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.kind is parameter.POSITIONAL_OR_KEYWORD
    )
