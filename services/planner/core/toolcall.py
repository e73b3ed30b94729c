"""A tool call written in Python call syntax, read with ``ast`` (never evaluated).

``search(query="population of $1", k=3)`` -> ``("search", {"query": "population of $1", "k": 3})``.
Arguments must be literals: strings, numbers, booleans, None, and lists and dicts of those (tuples become lists).
Positional arguments are named by the tool's signature when one is given (``signatures={"search": ["query"]}``);
without one, the first is named ``input`` and the next ``input_2``, ``input_3``, ... A reference written outside a
string (``math($1, "x")``, LLMCompiler style) is read as the string ``"${1}"``, so it is always a reference.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from keyword import iskeyword
from typing import Any

from services.planner.core.errors import PlanError

# Signatures by tool name: the parameter names that positional arguments fill, in order.
Signatures = Mapping[str, Sequence[str]]

_CALL_SHAPE = re.compile(r"^\s*[A-Za-z_]\w*\s*\(.*\)\s*$", re.DOTALL)
_BARE_REFERENCE = re.compile(r"\$(?:\{[^{}]*\}|[A-Za-z0-9_]+)")
# The common shape, read without building a syntax tree: keyword or positional arguments that are plain strings
# (no escapes, no newlines), decimal numbers, booleans or None. Anything else goes through ``ast``.
_SIMPLE_CALL = re.compile(r"([A-Za-z_]\w*)[ \t\f]*\((.*)\)", re.DOTALL | re.ASCII)
_SIMPLE_ARGUMENT = re.compile(
    r"[ \t\n\f]*(?:([A-Za-z_]\w*)[ \t\n\f]*=[ \t\n\f]*)?"
    r"""("[^"\\\n\r\x00]*"|'[^'\\\n\r\x00]*'|-?(?:0|[1-9]\d*)(?:\.\d+)?|True|False|None)[ \t\n\f]*(,|\Z)""",
    re.ASCII,
)
_CONSTANTS = {"True": True, "False": False, "None": None}


def looks_like_call(text: str) -> bool:
    """Whether ``text`` as a whole has the shape ``name(...)``; such a description must then parse as a call."""
    return bool(_CALL_SHAPE.match(text))


def parse_call(text: str, *, signatures: Signatures | None = None) -> tuple[str, dict[str, Any]]:
    """The tool name and its named arguments; PlanError (without a line: the caller knows it) when unreadable."""
    shown = text.strip()
    if (simple := _simple_call(shown, signatures)) is not None:
        return simple
    return _ast_call(shown, signatures)


def _ast_call(shown: str, signatures: Signatures | None) -> tuple[str, dict[str, Any]]:
    try:
        tree = ast.parse(_quote_bare_references(shown), mode="eval")
    except SyntaxError as error:
        raise PlanError(f"cannot read tool call {_shortened(shown)}: {error.msg}") from None
    except (RecursionError, MemoryError):
        # Python's parser recurses per nested operator: 5,000 unary minuses overflow it before any syntax check.
        raise PlanError(f"tool call {_shortened(shown)} is nested too deeply to read") from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise PlanError(f'{shown!r} is not a call of a tool by name, like search(query="...")')
    tool = call.func.id
    args: dict[str, Any] = {}
    for name, node in zip(_positional_names(tool, len(call.args), signatures), call.args, strict=True):
        args[name] = _literal(node, tool, name)
    for keyword in call.keywords:
        if keyword.arg is None:
            raise PlanError(f"tool call {tool}(...) cannot unpack arguments with **")
        if keyword.arg in args:
            raise PlanError(f"argument '{keyword.arg}' of {tool} is given twice")
        args[keyword.arg] = _literal(keyword.value, tool, keyword.arg)
    return tool, args


def _simple_call(text: str, signatures: Signatures | None) -> tuple[str, dict[str, Any]] | None:
    """``parse_call``'s answer for a call of the common shape, or None: then ``ast`` reads it (and reports errors).
    It never accepts what ``ast`` would read differently (tests/unit/planner/test_toolcall_fast_path.py)."""
    call = _SIMPLE_CALL.fullmatch(text)
    if call is None or iskeyword(call[1]):
        return None
    tool, body = call[1], call[2]
    positional: list[Any] = []
    named: dict[str, Any] = {}
    position = 0
    while position < len(body) and body[position:].strip(" \t\n\f"):
        argument = _SIMPLE_ARGUMENT.match(body, position)
        if argument is None:
            return None
        name, literal, _ = argument.groups()
        value = _CONSTANTS[literal] if literal in _CONSTANTS else _simple_literal(literal)
        if name is None:
            if named:
                return None  # positional after keyword: a syntax error, reported by ast
            positional.append(value)
        elif iskeyword(name) or name in named:
            return None
        else:
            named[name] = value
        position = argument.end()
    try:
        names = _positional_names(tool, len(positional), signatures)
    except PlanError:
        return None
    args = dict(zip(names, positional, strict=True))
    if any(name in args for name in named):
        return None
    args.update(named)
    return tool, args


def _simple_literal(literal: str) -> Any:
    if literal[0] in "\"'":
        return literal[1:-1]
    return float(literal) if "." in literal else int(literal)


def _shortened(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _positional_names(tool: str, count: int, signatures: Signatures | None) -> list[str]:
    if signatures is not None and tool in signatures:
        names = list(signatures[tool])
        if count > len(names):
            raise PlanError(f"{tool} takes at most {len(names)} positional arguments, got {count}")
        return names[:count]
    return ["input" if index == 0 else f"input_{index + 1}" for index in range(count)]


def _literal(node: ast.expr, tool: str, name: str) -> Any:
    problem = f"argument '{name}' of {tool} must be a literal (string, number, boolean, None, list or dict)"
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise PlanError(problem) from None
    try:
        return _json_like(value)
    except TypeError:
        raise PlanError(problem) from None


def _json_like(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_json_like(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _json_like(item) for key, item in value.items()}
    raise TypeError(type(value).__name__)


def _quote_bare_references(source: str) -> str:
    """``source`` with each ``$1``/``${1}`` outside a string literal written as the string ``"${1}"``."""
    out: list[str] = []
    quote: str | None = None
    index = 0
    while index < len(source):
        char = source[index]
        if quote is not None:
            out.append(char)
            if char == "\\" and index + 1 < len(source):
                out.append(source[index + 1])
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            out.append(char)
        elif char == "$" and (bare := _BARE_REFERENCE.match(source, index)):
            token = bare.group(0)
            task_id = token[2:-1] if token.startswith("${") else token[1:]
            out.append(f'"${{{task_id}}}"')
            index = bare.end() - 1
        else:
            out.append(char)
        index += 1
    return "".join(out)
