"""Plan text in any accepted format -> one Plan model, with the line each task was written on.

The format is detected from the first task line (or a leading ``{`` for JSON):

- ``seed``: ``Task 1: <description> | Dependencies: none`` / ``| Dependencies: Task 1, Task 2``. Id: the token after
  "Task" ("1"). Dependencies may be written ``Task 1`` or ``1``.
- ``gap`` (the GAP repository): ``T1: <description> - Dependencies: T1, T2``. Id: as written ("T1").
- ``llmcompiler``: ``1. tool(arg="...")`` lines, optional ``Thought:`` lines, ending at ``join()``. Id: the number
  ("1"). A task depends on exactly the tasks its arguments reference (``$1``, ``${1}``).
- ``json``: ``{"tasks": [{"id", "description", "tool", "args", "deps"}]}``. Id: as written (numbers become text).
  Without ``"deps"`` a task depends on the tasks its arguments reference.

Everywhere: ``<think>...</think>`` is ignored; when a ``<plan>`` block exists only its inside is read, otherwise
every line is; blank lines and Markdown code fences are skipped; keywords ignore case and extra spaces. A seed or GAP
description that has the shape ``name(...)`` is a tool call (see toolcall.py); any other description is an LLM step
(``tool=None``). References in tool arguments become ``$ref``/``$concat`` nodes (see refs.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from schemas.plan import Plan, Task
from services.planner.core.errors import PlanError
from services.planner.core.limits import MAX_ARG_DEPTH, too_deep
from services.planner.core.refs import reference_order, structure_references
from services.planner.core.toolcall import Signatures, looks_like_call, parse_call

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_THINK_TAG = re.compile(r"</?think>", re.IGNORECASE)
_PLAN_OPEN = re.compile(r"<plan>", re.IGNORECASE)
_PLAN_CLOSE = re.compile(r"</plan>", re.IGNORECASE)
_FENCE = re.compile(r"^\s*```")
_TEXT_TASK = re.compile(r"^\s*(?:[-*]\s+)?(?P<word>task\s+)?(?P<id>\w+)\s*:\s*(?P<body>.*?)\s*$", re.IGNORECASE)
# Greedy on the description, so a "|" inside a tool argument does not end it: the last marker wins.
_DEPENDENCIES = re.compile(r"^(?P<description>.*)(?:\||\s[-\u2013\u2014])\s*dependencies\s*:(?P<deps>.*)$", re.I)
_NO_DEPENDENCIES = {"", "none", "-", "n/a", "[]"}
_DEPENDENCY = re.compile(r"^(?:task\s*)?(?P<id>\w+)$", re.IGNORECASE)
_ACTION = re.compile(r"^\s*(?P<id>\d+)\s*\.\s*(?P<call>.+?)\s*(?:#\w+)?\s*(?:<END_OF_PLAN>)?\s*$", re.IGNORECASE)
_JOIN = re.compile(r"^\s*(?:\d+\s*\.\s*)?join\s*\(\s*\)|^\s*<END_OF_PLAN>", re.IGNORECASE)
_THOUGHT = re.compile(r"^\s*thought\s*:", re.IGNORECASE)
_JSON_FIELDS = ("id", "description", "tool", "args", "deps")
_EXPECTED = (
    "expected a task like 'Task 1: ... | Dependencies: none', 'T1: ... - Dependencies: none', "
    "'1. tool(arg=\"...\")' or a JSON object with a 'tasks' list"
)


@dataclass(frozen=True)
class ParsedPlan:
    """A plan and, aligned with ``plan.tasks``, the line each task was written on (None for JSON)."""

    plan: Plan
    lines: tuple[int | None, ...]

    def line_of(self, task_id: str) -> int | None:
        return next((line for task, line in zip(self.plan.tasks, self.lines, strict=True) if task.id == task_id), None)


@dataclass(frozen=True)
class _Written:
    """A task as read, before references are structured (that needs every id of the plan)."""

    id: str
    description: str
    tool: str | None
    args: dict[str, Any]
    deps: tuple[str, ...] | None  # None: derive from the references in args
    line: int | None


def parse_plan(text: str, *, signatures: Signatures | None = None) -> Plan:
    return parse_plan_with_lines(text, signatures=signatures).plan


def parse_plan_with_lines(text: str, *, signatures: Signatures | None = None) -> ParsedPlan:
    """Parse ``text`` in whichever format it is written; PlanError names the line when the text is unreadable.
    Structural problems (unknown dependencies, cycles, ...) are validate_plan's job."""
    source = _without_thinking(text)
    start, end = _plan_block(source)
    first_line = source.count("\n", 0, start) + 1
    region = source[start:end]
    if region.lstrip().startswith("{"):
        return _parse_json(region, first_line, signatures)
    numbered = [
        (first_line + offset, line)
        for offset, line in enumerate(region.split("\n"))
        if line.strip() and not _FENCE.match(line)
    ]
    # LLMCompiler plans may open with a thought; the first other line decides the format.
    first_lines = [(line, text) for line, text in numbered if not _THOUGHT.match(text)]
    if not first_lines:
        raise PlanError("plan has no tasks")
    line, first = first_lines[0]
    if _ACTION.match(first):
        return _parse_llmcompiler(numbered, signatures)
    text_task = _TEXT_TASK.match(first)
    # "Task 1: ..." is a seed task even when its dependency part is missing (reported as such); a bare
    # "Word: ..." line is only taken for a GAP task when it has one, so prose gets the generic message.
    if text_task and (text_task["word"] or _DEPENDENCIES.match(text_task["body"])):
        return _parse_text(numbered, "seed" if text_task["word"] else "gap", signatures)
    raise PlanError(_EXPECTED, line=line)


def _without_thinking(text: str) -> str:
    """``text`` without reasoning blocks, each replaced by its newlines so that line numbers stay true."""
    text = _THINK_BLOCK.sub(lambda match: "\n" * match.group(0).count("\n"), text.replace("\r\n", "\n"))
    stray_close = text.lower().rfind("</think>")
    if stray_close >= 0:  # some models emit only the closing tag: everything before it was thinking
        cut = stray_close + len("</think>")
        text = "\n" * text.count("\n", 0, cut) + text[cut:]
    return _THINK_TAG.sub("", text)


def _plan_block(source: str) -> tuple[int, int]:
    opening = _PLAN_OPEN.search(source)
    start = opening.end() if opening else 0
    closing = _PLAN_CLOSE.search(source, start)
    return start, closing.start() if closing else len(source)


def _parse_text(numbered: list[tuple[int, str]], plan_format: str, signatures: Signatures | None) -> ParsedPlan:
    written = []
    for line, text in numbered:
        task = _TEXT_TASK.match(text)
        if not task:
            raise PlanError(_EXPECTED, line=line)
        task_id = task["id"]
        split = _DEPENDENCIES.match(task["body"])
        if not split:
            raise PlanError(
                f"task {task_id} has no '| Dependencies: ...' part (write 'none')", line=line, task_id=task_id
            )
        description = split["description"].strip()
        if not description:
            raise PlanError(f"task {task_id} has no description", line=line, task_id=task_id)
        deps = _dependencies(split["deps"], task_id, line)
        tool, args = _call_in(description, task_id, line, signatures)
        written.append(_Written(task_id, description, tool, args, deps, line))
    return _assemble(written, plan_format)


def _dependencies(text: str, task_id: str, line: int) -> tuple[str, ...]:
    if text.strip().rstrip(".").lower() in _NO_DEPENDENCIES:
        return ()
    deps: dict[str, None] = {}
    for token in re.split(r",|;|\band\b", text, flags=re.IGNORECASE):
        dependency = _DEPENDENCY.match(token.strip().strip("[]()."))
        if not dependency:
            raise PlanError(
                f"task {task_id} has an unreadable dependency {token.strip()!r}", line=line, task_id=task_id
            )
        deps.setdefault(dependency["id"])
    return tuple(deps)


def _call_in(
    description: str, task_id: str, line: int | None, signatures: Signatures | None
) -> tuple[str | None, dict]:
    if not looks_like_call(description):
        return None, {}
    try:
        return parse_call(description, signatures=signatures)
    except PlanError as error:
        raise PlanError(f"task {task_id}: {error.message}", line=line, task_id=task_id) from None


def _parse_llmcompiler(numbered: list[tuple[int, str]], signatures: Signatures | None) -> ParsedPlan:
    written = []
    for line, text in numbered:
        if _THOUGHT.match(text):
            continue
        if _JOIN.match(text):
            break  # join() is the planner's own final step, not a task; LLMCompiler ignores what follows it too
        action = _ACTION.match(text)
        if not action:
            raise PlanError(_EXPECTED, line=line)
        task_id, call = action["id"], action["call"]
        if not looks_like_call(call):
            raise PlanError(
                f'task {task_id}: expected a tool call like search(query="...")', line=line, task_id=task_id
            )
        tool, args = _call_in(call, task_id, line, signatures)
        written.append(_Written(task_id, call, tool, args, None, line))
    return _assemble(written, "llmcompiler")


def _parse_json(region: str, first_line: int, signatures: Signatures | None) -> ParsedPlan:
    try:
        document = json.loads(region)
    except json.JSONDecodeError as error:
        raise PlanError(f"invalid JSON: {error.msg}", line=first_line + error.lineno - 1) from None
    except RecursionError:
        raise PlanError("invalid JSON: nested too deeply", line=first_line) from None
    if not isinstance(document, dict) or not isinstance(document.get("tasks"), list):
        brace_line = first_line + region.count("\n", 0, region.index("{"))
        raise PlanError("a JSON plan must be an object with a 'tasks' list", line=brace_line)
    return _assemble([_json_task(item, number, signatures) for number, item in enumerate(document["tasks"], 1)], "json")


def _json_task(item: Any, number: int, signatures: Signatures | None) -> _Written:
    if not isinstance(item, dict):
        raise PlanError(f"task #{number} must be an object with {', '.join(_JSON_FIELDS)}")
    raw_id = item.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or str(raw_id).strip() == "":
        raise PlanError(f"task #{number} needs an 'id' (text or number)")
    task_id = str(raw_id).strip()

    def bad(message: str) -> PlanError:
        return PlanError(f"task {task_id}: {message}", task_id=task_id)

    if unknown := sorted(set(item) - set(_JSON_FIELDS)):
        raise bad(f"unknown field '{unknown[0]}' (fields: {', '.join(_JSON_FIELDS)})")
    description, tool, args, deps = (item.get(key) for key in ("description", "tool", "args", "deps"))
    description = "" if description is None else description
    if not isinstance(description, str):
        raise bad("'description' must be text")
    if tool is not None and not isinstance(tool, str):
        raise bad("'tool' must be a tool name or null")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise bad("'args' must be an object")
    if too_deep(args, MAX_ARG_DEPTH - 1):
        raise bad(f"'args' are nested deeper than {MAX_ARG_DEPTH} levels")
    if deps is not None and not (isinstance(deps, list) and all(_is_json_id(dep) for dep in deps)):
        raise bad("'deps' must be a list of task ids")
    if tool is None and not args:
        tool, args = _call_in(description.strip(), task_id, None, signatures)
    return _Written(
        task_id, description, tool, args, None if deps is None else tuple(dict.fromkeys(map(str, deps))), None
    )


def _is_json_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def _assemble(written: list[_Written], plan_format: str) -> ParsedPlan:
    if not written:
        raise PlanError("plan has no tasks")
    task_ids = {task.id for task in written}
    tasks = []
    for task in written:
        args = structure_references(task.args, task_ids)
        deps = task.deps if task.deps is not None else tuple(reference_order(args))
        tasks.append(Task(id=task.id, description=task.description, tool=task.tool, args=args, deps=deps))
    return ParsedPlan(Plan(tasks=tuple(tasks), format=plan_format), tuple(task.line for task in written))
