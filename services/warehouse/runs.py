"""Reading one run's timeline, or the latest runs, from the warehouse (file or snapshots)."""

from __future__ import annotations

from collections import defaultdict

from schemas import RunReplanned, UndecodableEvent, decode_event
from services.warehouse.core.timeline import AttemptSpan, RunTimeline, TaskLine
from services.warehouse.query import QueryResult, Reader
from services.warehouse.sql import named_statements

_QUERIES = named_statements("runs.sql")


class RunNotFound(LookupError):
    pass


def latest_runs(reader: Reader, limit: int) -> QueryResult:
    return reader.query(_QUERIES["runs_list"].sql, [limit])


def resolve_run_id(reader: Reader, prefix: str) -> str:
    """The run whose id is ``prefix`` or starts with it; a prefix must name exactly one run."""
    matches = [row[0] for row in reader.query(_QUERIES["run_ids_starting_with"].sql, [prefix]).rows]
    if prefix in matches:
        return prefix
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunNotFound(f"no run {prefix!r} in the warehouse (`genesis runs list` shows the latest)")
    raise RunNotFound(f"{prefix!r} names several runs: {', '.join(matches)}")


def load_timeline(reader: Reader, run_id: str) -> RunTimeline:
    runs = reader.query(_QUERIES["run"].sql, [run_id]).records()
    if not runs:
        raise RunNotFound(f"no run {run_id!r} in the warehouse")
    run = runs[0]
    deps: dict[str, list[str]] = defaultdict(list)
    for task_id, depends_on in reader.query(_QUERIES["run_dependencies"].sql, [run_id]).rows:
        deps[task_id].append(depends_on)
    attempts: dict[str, list[AttemptSpan]] = defaultdict(list)
    tools: dict[str, str | None] = {}
    for row in reader.query(_QUERIES["run_attempts"].sql, [run_id]).records():
        tools.setdefault(row["task_id"], row["tool"])
        attempts[row["task_id"]].append(
            AttemptSpan(
                task_id=row["task_id"],
                attempt=row["attempt"],
                status=row["status"],
                executor=row["executor"],
                dispatched_at=row["dispatched_at"],
                started_at=row["started_at"],
                finished_at=row["finished_at"],
                error=row["error"],
            )
        )
    skips = dict(reader.query(_QUERIES["run_skips"].sql, [run_id]).rows)
    planned = reader.query(_QUERIES["run_tasks"].sql, [run_id]).rows
    # Without the plan (its RunPlanned not stored), the tasks seen in attempts still make a timeline.
    rows = planned or [(task_id, tools[task_id], "") for task_id in sorted(attempts, key=_natural)]
    tasks = tuple(
        TaskLine(
            task_id=task_id,
            tool=tool,
            description=description or "",
            deps=tuple(deps.get(task_id, ())),
            attempts=tuple(sorted(attempts.get(task_id, ()), key=lambda span: span.attempt)),
            skip_reason=skips.get(task_id),
        )
        for task_id, tool, description in rows
    )
    return RunTimeline(
        run_id=run_id,
        status=run["status"],
        makespan_s=run["makespan_s"],
        sequential_s=run["sequential_s"],
        critical_path_s=run["critical_path_s"],
        speedup=run["speedup"],
        planned_at=run["planned_at"],
        tasks=tasks,
        planned_critical_path=tuple(run["critical_path"] or ()),
        replans=tuple(_replan_lines(reader, run_id)),
    )


def _replan_lines(reader: Reader, run_id: str) -> list[str]:
    lines = []
    for (payload,) in reader.query(_QUERIES["run_replans"].sql, [run_id]).rows:
        try:
            event = decode_event(payload.encode() if isinstance(payload, str) else payload)
        except UndecodableEvent:
            continue  # stored raw: the tasks and their edges still show the sub-plan
        if isinstance(event, RunReplanned):
            lines.append(
                f"re-planned: task {event.replaced_task_id} failed ({event.reason}); "
                f"the sub-plan {', '.join(event.added)} took its place, {event.stands_in} standing in for it"
            )
    return lines


def _natural(task_id: str) -> tuple[int, str]:
    # "2" before "10", as plans number their tasks.
    return (int(task_id), task_id) if task_id.isdigit() else (1 << 62, task_id)
