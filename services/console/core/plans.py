"""Checking a plan as it is typed: the planner's own parser and validator, with the rejection's line and reason."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from services.planner.core.dag import Dag
from services.planner.core.errors import PlanError
from services.planner.core.toolcall import Signatures
from services.planner.core.validate import load_plan


@dataclass(frozen=True)
class PlanRules:
    """What the planner checks plans against: its tools, their signatures, its task limit, whether an LLM is there."""

    known_tools: Collection[str]
    signatures: Signatures | None
    max_tasks: int
    llm_available: bool


def check_plan(text: str, rules: PlanRules) -> dict[str, Any]:
    """``ok`` with the DAG's tasks, levels and critical path, or the rejection: its line, task and reason."""
    if not text.strip():
        return {"ok": False, "line": None, "task_id": None, "reason": "the plan is empty"}
    try:
        parsed = load_plan(
            text,
            known_tools=rules.known_tools,
            signatures=rules.signatures,
            max_tasks=rules.max_tasks,
            llm_available=rules.llm_available,
        )
    except PlanError as error:
        return {"ok": False, "line": error.line, "task_id": error.task_id, "reason": error.message}
    dag = Dag.from_plan(parsed.plan)
    return {
        "ok": True,
        "format": parsed.plan.format,
        "tasks": [
            {"id": task.id, "tool": task.tool, "description": task.description, "deps": list(task.deps)}
            for task in parsed.plan.tasks
        ],
        "levels": dag.levels(),
        "critical_path": dag.critical_path(),
    }
