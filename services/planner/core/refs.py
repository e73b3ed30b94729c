"""Dependency results inside tool arguments, as structure: parsed once at plan time, substituted at dispatch.

The grammar, inside string arguments only (free-text descriptions are never scanned, so "$5" there is a price):

- ``${ID}`` is always a reference to task ID (an unknown ID is a validation error, not text);
- ``$ID`` (ID made of letters, digits and ``_``) is a reference when the plan has a task ID, and text as written
  otherwise, so "under $500" stays a price in a plan without a task 500;
- ``$$`` is a literal ``$`` (write "$$5" for "$5" in a plan that has a task 5).

A string that is exactly one reference becomes ``{"$ref": ID}`` and receives the result with its type; a string with
text around its references becomes ``{"$concat": ["population of ", {"$ref": ID}]}`` and receives text.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

import msgspec

REF = "$ref"
CONCAT = "$concat"

_TOKEN = re.compile(r"\$\$|\$\{(?P<braced>[^{}]*)\}|\$(?P<bare>[A-Za-z0-9_]+)")


def structure_references(value: Any, task_ids: Collection[str]) -> Any:
    """``value`` with every reference in its strings turned into ``$ref``/``$concat`` nodes (see the module doc)."""
    if isinstance(value, str):
        return _structure_string(value, task_ids)
    if isinstance(value, list):
        return [structure_references(item, task_ids) for item in value]
    if isinstance(value, dict):
        if _is_ref(value) or _is_concat(value):
            return value
        return {key: structure_references(item, task_ids) for key, item in value.items()}
    return value


def _structure_string(text: str, task_ids: Collection[str]) -> Any:
    parts: list[Any] = []
    literal: list[str] = []

    def flush_literal() -> None:
        if literal and "".join(literal):
            parts.append("".join(literal))
        literal.clear()

    position = 0
    for token in _TOKEN.finditer(text):
        literal.append(text[position : token.start()])
        position = token.end()
        braced, bare = token.group("braced"), token.group("bare")
        if braced is not None or (bare is not None and bare in task_ids):
            flush_literal()
            parts.append({REF: (braced if braced is not None else bare).strip()})
        else:
            literal.append("$" if token.group(0) == "$$" else token.group(0))
    literal.append(text[position:])
    flush_literal()
    if not any(isinstance(part, dict) for part in parts):
        return "".join(parts)
    if len(parts) == 1:
        return parts[0]
    return {CONCAT: parts}


def reference_order(value: Any) -> list[str]:
    """The task ids ``value`` refers to, each once, in the order they first appear."""
    found: dict[str, None] = {}

    def walk(node: Any) -> None:
        if _is_ref(node):
            found.setdefault(node[REF])
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return list(found)


def references(value: Any) -> set[str]:
    """The task ids ``value`` refers to through ``$ref`` nodes, at any depth (inside ``$concat`` too)."""
    return set(reference_order(value))


def resolve_args(args: Mapping[str, Any], results: Mapping[str, Any]) -> dict[str, Any]:
    """``args`` with each ``$ref`` replaced by the referenced result and each ``$concat`` rendered to one string.

    Raises KeyError when a referenced task has no result: the scheduler only resolves tasks whose dependencies
    succeeded, so this is a bug, never a user error."""
    return {key: _resolve(value, results) for key, value in args.items()}


def _resolve(value: Any, results: Mapping[str, Any]) -> Any:
    if _is_ref(value):
        task_id = value[REF]
        if task_id not in results:
            raise KeyError(f"no result for task {task_id}")
        return results[task_id]
    if _is_concat(value):
        return "".join(render(_resolve(part, results)) for part in value[CONCAT])
    if isinstance(value, dict):
        return {key: _resolve(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, results) for item in value]
    return value


def render(value: Any) -> str:
    """A result as text inside a string: strings as they are, integral numbers without ".0", anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return msgspec.json.encode(value).decode()


def _is_ref(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and isinstance(node.get(REF), str)


def _is_concat(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and isinstance(node.get(CONCAT), list)
