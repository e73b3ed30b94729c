"""The one error a plan can be rejected with: a one-line message that names the line and/or the task at fault."""

from __future__ import annotations


class PlanError(ValueError):
    """A plan that cannot run. ``str(err)`` is a single line, prefixed with ``line N:`` when the line is known;
    the message itself names the task (``task T3 depends on unknown task T9``), so RunRejected can carry all three."""

    def __init__(self, message: str, *, line: int | None = None, task_id: str | None = None) -> None:
        # A rejection travels as one log line and one RunRejected.reason; newlines from quoted input would split it.
        self.message = " ".join(message.split())
        self.line = line
        self.task_id = task_id
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message
