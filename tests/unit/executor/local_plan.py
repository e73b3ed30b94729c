"""A tiny plan evaluator for the demo workload's tests: proves each expected answer follows from the tools.

It reads only what the workload uses (one tool call per line, keyword arguments with literal values, ``$N`` /
``${N}`` references inside strings) and runs the tasks in dependency order with the real tools. It is a test
oracle, not the planner: the planner has its own parser and dispatches tasks in parallel.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from graphlib import TopologicalSorter
from typing import Any

from services.executor.tools.registry import ToolRegistry, run_tool

SEED_LINE = re.compile(r"^Task\s+(?P<id>\d+)\s*:\s*(?P<call>.+?)\s*\|\s*Dependencies\s*:\s*(?P<deps>.+)$", re.I)
COMPILER_LINE = re.compile(r"^(?P<id>\d+)\.\s*(?P<call>.+)$")
REFERENCE = re.compile(r"\$\{?(\d+)\}?")


@dataclass(frozen=True)
class LocalTask:
    id: str
    tool: str
    args: dict[str, Any]
    deps: frozenset[str]


def parse_local_plan(text: str) -> list[LocalTask]:
    tasks = []
    for line in text.replace("<plan>", "").replace("</plan>", "").splitlines():
        line = line.strip()
        if not line or line == "join()" or line.endswith(". join()"):
            continue
        if seed := SEED_LINE.match(line):
            tasks.append(_task(seed["id"], seed["call"], _declared_deps(seed["deps"])))
        elif compiler := COMPILER_LINE.match(line):
            tasks.append(_task(compiler["id"], compiler["call"], None))
        else:
            raise ValueError(f"unreadable plan line: {line!r}")
    return tasks


def _declared_deps(text: str) -> frozenset[str]:
    if text.strip().lower() == "none":
        return frozenset()
    return frozenset(re.findall(r"\d+", text))


def _task(task_id: str, call_text: str, declared: frozenset[str] | None) -> LocalTask:
    call = ast.parse(call_text, mode="eval").body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.args:
        raise ValueError(f"task {task_id}: expected tool(name=value, ...), got {call_text!r}")
    args = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
    referenced = frozenset(ref for value in args.values() if isinstance(value, str) for ref in REFERENCE.findall(value))
    if declared is not None and not referenced <= declared:
        raise ValueError(f"task {task_id} references {sorted(referenced - declared)} outside its Dependencies")
    return LocalTask(id=task_id, tool=call.func.id, args=args, deps=referenced if declared is None else declared)


def substitute(value: Any, results: dict[str, Any]) -> Any:
    """A string that is exactly one reference becomes that result; references inside text become its text."""
    if not isinstance(value, str):
        return value
    if whole := REFERENCE.fullmatch(value):
        return results[whole[1]]
    return REFERENCE.sub(lambda match: str(results[match[1]]), value)


def sinks(tasks: list[LocalTask]) -> list[str]:
    used = {dep for task in tasks for dep in task.deps}
    return [task.id for task in tasks if task.id not in used]


async def evaluate_local_plan(tasks: list[LocalTask], registry: ToolRegistry) -> Any:
    """The result of the plan's single final task."""
    by_id = {task.id: task for task in tasks}
    (final,) = sinks(tasks)
    results: dict[str, Any] = {}
    for task_id in TopologicalSorter({task.id: task.deps for task in tasks}).static_order():
        task = by_id[task_id]
        args = {name: substitute(value, results) for name, value in task.args.items()}
        results[task_id] = (await run_tool(registry, task.tool, args)).value
    return results[final]
