"""The plan model: what a producer asks to run, normalised from any accepted plan format.

Argument values are JSON-like. A dependency result is referenced structurally, never by text search:
``{"$ref": "T1"}`` stands for the whole result of task T1, and ``{"$concat": ["population of ", {"$ref": "T1"}]}``
for a string with results spliced in. The planner parses references once, at plan time.
"""

from __future__ import annotations

from typing import Any

import msgspec


# gc=False: see schemas/events.py (values, in no reference cycle).
class Task(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One node of the plan's DAG: a tool call (or an LLM step) and the tasks it waits for."""

    id: str
    description: str = ""
    tool: str | None = None
    args: dict[str, Any] = {}
    deps: tuple[str, ...] = ()


class Plan(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Tasks in the order they were written; ``format`` records which syntax they came from."""

    tasks: tuple[Task, ...]
    format: str = "json"

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(task_id)
