"""Asking an OpenAI-compatible endpoint for JSON of a given shape, and what the built-in tools' arguments are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Argument types where a parameter is not text; anything else is a string (the calculator's expression, a query).
ARGUMENT_TYPES: dict[str, dict[str, dict[str, Any]]] = {
    "sleep": {"seconds": {"type": "number"}},
    "sql": {"params": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "number"}]}, "maxItems": 4}},
    "llm": {"context": {"type": "object"}},
}
# Tools a question never needs (sleep is for demos and tests), and llm (free text is an agent step instead).
NOT_OFFERED = frozenset({"llm", "sleep"})
# Bounds that keep a small model's arguments short and non-empty (llama.cpp turns them into the grammar).
TEXT = {"type": "string", "minLength": 1}
TOOL_HINTS = {
    "kb_search": "kb_search(query): facts about a country or a film, by name",
    "calculator": "calculator(expression): arithmetic, e.g. 3 * (4 + 5)",
    "sql": "sql(query): DuckDB SQL over tables countries and films",
    "sleep": "sleep(seconds): wait",
    "http_get": "http_get(url): fetch a page",
}


def response_format(style: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """How ``llm.structured_output`` asks an endpoint for ``schema``; None for plain text."""
    if style == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "plan", "schema": schema}}
    if style == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


def offered(tools: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """The tools a model may call in a plan or an agent step, with their parameters."""
    return {name: tuple(parameters) for name, parameters in sorted(tools.items()) if name not in NOT_OFFERED}


def arguments_schema(tool: str, parameters: Sequence[str]) -> dict[str, Any]:
    """A tool's arguments: its first parameter required, the others optional, text unless typed otherwise."""
    types = ARGUMENT_TYPES.get(tool, {})
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {parameter: types.get(parameter, TEXT) for parameter in parameters},
        "additionalProperties": False,
    }
    if parameters:
        schema["required"] = [parameters[0]]
    return schema
