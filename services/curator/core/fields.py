"""Which string values of a JSON record get scrubbed, addressed by small path expressions.

A path is dot-separated keys; `key[]` walks every item of a list, `*` matches every key of an object, and
`**` alone means every string anywhere in the record. Default: `messages[].content`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

DEFAULT_FIELDS = ("messages[].content",)
EVERY_STRING = "**"

_Step = tuple[str, bool]  # (key, then iterate the list found under it)


def parse_field_path(path: str) -> tuple[_Step, ...]:
    if path == EVERY_STRING:
        return ()
    steps: list[_Step] = []
    for part in path.split("."):
        iterate = part.endswith("[]")
        key = part[:-2] if iterate else part
        if not key or "[" in key or "]" in key:
            raise ValueError(f"bad field path {path!r}: expected keys like messages[].content")
        steps.append((key, iterate))
    return tuple(steps)


def rewrite_strings(record: Any, paths: Sequence[tuple[_Step, ...]], rewrite: Callable[[str], str]) -> Any:
    """Apply `rewrite` to each addressed string value in place and return the record.

    Values that are missing or of another type are left alone: a record without `messages` is not an error
    at this level, the reader decides what a malformed record is.
    """
    for steps in paths:
        if steps:
            _walk(record, steps, rewrite)
        else:
            record = _rewrite_all(record, rewrite)
    return record


def _walk(node: Any, steps: tuple[_Step, ...], rewrite: Callable[[str], str]) -> None:
    key, iterate = steps[0]
    if not isinstance(node, dict):
        return
    keys = list(node) if key == "*" else [key] if key in node else []
    for name in keys:
        value = node[name]
        if iterate:
            if not isinstance(value, list):
                continue
            for index, item in enumerate(value):
                if len(steps) == 1:
                    if isinstance(item, str):
                        value[index] = rewrite(item)
                else:
                    _walk(item, steps[1:], rewrite)
        elif len(steps) == 1:
            if isinstance(value, str):
                node[name] = rewrite(value)
        else:
            _walk(value, steps[1:], rewrite)


def _rewrite_all(node: Any, rewrite: Callable[[str], str]) -> Any:
    if isinstance(node, str):
        return rewrite(node)
    if isinstance(node, dict):
        for name, value in node.items():
            node[name] = _rewrite_all(value, rewrite)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            node[index] = _rewrite_all(value, rewrite)
    return node
