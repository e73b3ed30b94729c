"""The executor's tools: the registry, the built-ins, and the settings that build them."""

from services.executor.tools.registry import (
    ToolArgumentsError,
    ToolError,
    ToolRegistry,
    ToolResult,
    ToolSpec,
    ToolTimeoutError,
    UnknownToolError,
    run_tool,
    tool,
)
from services.executor.tools.settings import ToolSettings, build_registry, load_tool_settings

__all__ = [
    "ToolArgumentsError",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "ToolSettings",
    "ToolSpec",
    "ToolTimeoutError",
    "UnknownToolError",
    "build_registry",
    "load_tool_settings",
    "run_tool",
    "tool",
]
