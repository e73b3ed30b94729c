"""The built-in tools' names and parameters, as data shared by the planner and the executors.

The planner checks plans against these (tool names, and the parameter names that positional arguments fill)
without building the executors' registry, which loads the knowledge base and opens DuckDB. The executors' registry
is the source of truth; tests/unit/planner/test_tool_catalogue.py checks that the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec


class ToolSignature(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    # The parameters a plan's positional arguments fill, in order: kb_search("France") -> query.
    parameters: tuple[str, ...]
    # always: registered on every executor; llm: when an endpoint is configured; http: with tools.http_allowlist.
    enabled_by: Literal["always", "llm", "http"] = "always"


BUILTIN_TOOLS: tuple[ToolSignature, ...] = (
    ToolSignature(name="calculator", parameters=("expression",)),
    ToolSignature(name="kb_search", parameters=("query",)),
    ToolSignature(name="sleep", parameters=("seconds",)),
    ToolSignature(name="sql", parameters=("query", "params")),
    ToolSignature(name="llm", parameters=("prompt", "system", "context"), enabled_by="llm"),
    ToolSignature(name="http_get", parameters=("url",), enabled_by="http"),
)


def tool_signatures(
    *, llm: bool, http: bool, extra: Mapping[str, Sequence[str]] | None = None
) -> dict[str, tuple[str, ...]]:
    """Parameter names by tool name: the built-ins the executors register with these settings, plus ``extra``
    (user tools)."""
    enabled = {"always", *(["llm"] if llm else []), *(["http"] if http else [])}
    signatures = {tool.name: tool.parameters for tool in BUILTIN_TOOLS if tool.enabled_by in enabled}
    signatures.update({name: tuple(parameters) for name, parameters in (extra or {}).items()})
    return dict(sorted(signatures.items()))
