"""Whether a parsed plan can run: every rejection is a PlanError naming the task, and the line when known.

Checks, in this order (the first problem found is reported): no tasks; more tasks than allowed; then task by task in
plan order: duplicate id, self dependency, unknown dependency, an argument reference to an unknown task or to a task
that is not a declared dependency, arguments over ``max_arg_bytes``; then cycles; then tools: unknown tool (when
``known_tools`` is given), a tool the request does not allow (when ``allowed_tools`` is given; a description-only task
needs ``llm``), or a description-only task when no LLM endpoint is configured.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from schemas.plan import Plan, Task
from services.planner.core.dag import Dag, cycle_message
from services.planner.core.errors import PlanError
from services.planner.core.limits import MAX_ARG_DEPTH, check_task_args, check_task_count, too_deep
from services.planner.core.parse import ParsedPlan, parse_plan_with_lines
from services.planner.core.progress import LLM_TOOL
from services.planner.core.refs import reference_order
from services.planner.core.toolcall import Signatures


def validate_plan(
    plan: Plan,
    *,
    known_tools: Collection[str] | None,
    max_tasks: int,
    llm_available: bool,
    lines: Sequence[int | None] | None = None,
    max_arg_bytes: int | None = None,
    allowed_tools: Collection[str] | None = None,
) -> None:
    """Raise PlanError for the first problem; ``lines`` (ParsedPlan.lines, aligned with ``plan.tasks``) locate it."""
    where = list(lines) if lines is not None else [None] * len(plan.tasks)
    if not plan.tasks:
        raise PlanError("plan has no tasks")
    check_task_count(plan, max_tasks)
    _check_structure(plan, where, max_arg_bytes)
    dag = Dag(tuple(task.id for task in plan.tasks), {task.id: task.deps for task in plan.tasks})
    if cycle := dag.cycle():
        first = next(position for position, task in enumerate(plan.tasks) if task.id == cycle[0])
        raise PlanError(cycle_message(cycle), line=where[first], task_id=cycle[0])
    _check_tools(plan, where, known_tools, llm_available)
    if allowed_tools is not None:
        _check_allowed(plan, where, allowed_tools)


def _check_structure(plan: Plan, where: list[int | None], max_arg_bytes: int | None) -> None:
    ids = {task.id for task in plan.tasks}
    first_line: dict[str, int | None] = {}
    for task, line in zip(plan.tasks, where, strict=True):
        if problem := _structural_problem(task, ids, first_line):
            raise PlanError(problem, line=line, task_id=task.id)
        if max_arg_bytes is not None:
            try:
                check_task_args(task, max_arg_bytes)
            except PlanError as error:
                raise PlanError(error.message, line=line, task_id=task.id) from None
        first_line[task.id] = line


def _structural_problem(task: Task, ids: set[str], first_line: dict[str, int | None]) -> str | None:
    if task.id in first_line:
        earlier = first_line[task.id]
        return f"task {task.id} is defined twice" + (f" (first on line {earlier})" if earlier else "")
    for dep in task.deps:
        if dep == task.id:
            return f"task {task.id} depends on itself"
        if dep not in ids:
            return f"task {task.id} depends on unknown task {dep}"
    if too_deep(task.args, MAX_ARG_DEPTH - 1):
        return f"task {task.id}'s arguments are nested deeper than {MAX_ARG_DEPTH} levels"
    for ref in reference_order(task.args):
        if ref not in ids:
            return f"task {task.id} refers to unknown task {ref} in its arguments"
        if ref not in task.deps:
            return f"task {task.id} uses the result of task {ref} but does not list it as a dependency"
    return None


def _check_tools(plan: Plan, where: list[int | None], known_tools: Collection[str] | None, llm_available: bool) -> None:
    for task, line in zip(plan.tasks, where, strict=True):
        if task.tool is None and not llm_available:
            raise PlanError(
                f"task {task.id} is free text (an agent step) and no model is configured: "
                "set llm.base_url and llm.model, or run genesis llm serve",
                line=line,
                task_id=task.id,
            )
        if task.tool is not None and known_tools is not None and task.tool not in known_tools:
            raise PlanError(
                f"task {task.id} calls unknown tool '{task.tool}' (known: {', '.join(sorted(known_tools))})",
                line=line,
                task_id=task.id,
            )


def _check_allowed(plan: Plan, where: list[int | None], allowed_tools: Collection[str]) -> None:
    for task, line in zip(plan.tasks, where, strict=True):
        tool = task.tool if task.tool is not None else LLM_TOOL
        if tool not in allowed_tools:
            allowed = ", ".join(sorted(allowed_tools)) or "none"
            step = f"calls tool '{tool}'" if task.tool is not None else f"is an agent step, which needs tool '{tool}'"
            raise PlanError(
                f"task {task.id} {step}, which the request does not allow (allowed_tools: {allowed})",
                line=line,
                task_id=task.id,
            )


def load_plan(
    text: str,
    *,
    known_tools: Collection[str] | None,
    max_tasks: int,
    llm_available: bool,
    signatures: Signatures | None = None,
    max_arg_bytes: int | None = None,
    allowed_tools: Collection[str] | None = None,
) -> ParsedPlan:
    """Parse and validate in one step, as the planner and ``genesis plan show`` do."""
    parsed = parse_plan_with_lines(text, signatures=signatures)
    validate_plan(
        parsed.plan,
        known_tools=known_tools,
        max_tasks=max_tasks,
        llm_available=llm_available,
        lines=parsed.lines,
        max_arg_bytes=max_arg_bytes,
        allowed_tools=allowed_tools,
    )
    return parsed
