"""What the pages show, as JSON-ready dicts: the runs list's rows and a run's page (DAG, turns, Gantt).

The Gantt and the critical path come from the warehouse's timeline model (services/warehouse/core/timeline.py),
the same one the CLI's charts are drawn from, so the console and `genesis runs show --gantt` agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas import RunReplanned
from services.console.core.board import RunState, TaskState
from services.warehouse.core.timeline import AttemptSpan, RunTimeline, TaskLine, executor_colours

# Turn text is shown whole up to this size; the executor already cut what it stored (executor.max_text_bytes).
TURN_TEXT_CHARS = 4000


def summary(run: RunState, now: datetime) -> dict[str, Any]:
    """One row of the runs list."""
    tasks = run.tasks.values()
    settled = sum(task.state in ("succeeded", "failed", "skipped") for task in tasks)
    metrics = run.metrics
    return {
        "run_id": run.run_id,
        "status": run.status,
        "requested_at": _iso(run.requested_at or run.planned_at),
        "tasks": len(run.tasks),
        "settled": settled,
        "running": sum(task.state == "running" for task in tasks),
        "makespan_s": _round(metrics.get("makespan_s") if run.finished else _elapsed(run, now)),
        "critical_path_s": _round(metrics.get("critical_path_s")),
        "speedup": _round(metrics.get("speedup")),
        "reward": _round(run.reward, 3),
        "labels": run.labels,
        "reason": run.reason,
        "source": "live",
    }


def detail(run: RunState, now: datetime, *, source: str = "live") -> dict[str, Any]:
    """A run's page: the summary, the plan, the DAG's nodes by level, the turns and the Gantt per executor."""
    timeline = as_timeline(run)
    critical = timeline.critical_path() if run.tasks else []
    levels = run.levels or _levels_from_deps(run)
    level_of = {task_id: number for number, level in enumerate(levels) for task_id in level}
    return {
        **summary(run, now),
        "source": source,
        "query": run.query,
        "plan_text": run.plan_text,
        "plan_format": run.plan_format,
        "strategy": run.strategy,
        "answer": run.answer,
        "reason_line": run.reason_line,
        "cancel_requested": run.cancel_requested,
        "replans": [_replan(replan) for replan in run.replans],
        "levels": levels,
        "critical_path": critical,
        "nodes": [_node(task, level_of.get(task.task_id), task.task_id in critical) for task in run.tasks.values()],
        "turns": [_turn(turn) for turn in run.turns],
        "gantt": gantt(timeline, None if run.finished else now),
        "last_event_ms": _epoch_ms(run.last_event_at),
        "last_event_type": run.last_event_type,
    }


def _replan(replan: RunReplanned) -> dict[str, Any]:
    return {
        "replan": replan.replan,
        "replaced": replan.replaced_task_id,
        "reason": replan.reason,
        "added": replan.added,
        "stands_in": replan.stands_in,
    }


def as_timeline(run: RunState) -> RunTimeline:
    tasks = tuple(
        TaskLine(
            task_id=task.task_id,
            tool=task.tool,
            description=task.description,
            deps=task.deps,
            attempts=tuple(
                AttemptSpan(
                    task_id=task.task_id,
                    attempt=attempt.attempt,
                    status=attempt.status,
                    executor=attempt.executor,
                    dispatched_at=attempt.dispatched_at,
                    started_at=attempt.started_at,
                    finished_at=attempt.finished_at,
                    error=attempt.error,
                )
                for attempt in sorted(task.attempts.values(), key=lambda attempt: attempt.attempt)
            ),
            skip_reason=task.skip_reason,
        )
        for task in run.tasks.values()
    )
    metrics = run.metrics
    return RunTimeline(
        run_id=run.run_id,
        status=run.status,
        makespan_s=metrics.get("makespan_s"),
        sequential_s=metrics.get("sequential_s"),
        critical_path_s=metrics.get("critical_path_s"),
        speedup=metrics.get("speedup"),
        planned_at=run.planned_at,
        tasks=tasks,
        planned_critical_path=tuple(run.planned_critical_path),
    )


def gantt(timeline: RunTimeline, now: datetime | None) -> dict[str, Any]:
    """Bars grouped in one lane per executor (in order of first use), seconds from the run's start."""
    colours = executor_colours(timeline)
    lanes: dict[str, list[dict[str, Any]]] = {name: [] for name in colours}
    end = timeline.makespan_s or 0.0
    for bar in timeline.bars(now):
        lane = bar.span.executor or "waiting for an executor"
        lanes.setdefault(lane, []).append(
            {
                "task_id": bar.span.task_id,
                "attempt": bar.span.attempt,
                "status": bar.span.status,
                "queued_from": round(bar.queued_from, 4),
                "start": round(bar.start, 4),
                "end": round(bar.end, 4),
                "critical": bar.critical,
                "error": bar.span.error,
            }
        )
        end = max(end, bar.end)
    return {
        "span_s": round(end, 4),
        "makespan_s": timeline.makespan_s,
        "lanes": [
            {"executor": name, "colour": colours.get(name, "#bbbbbb"), "tracks": _stack(bars), "bars": bars}
            for name, bars in lanes.items()
        ],
    }


def _stack(bars: list[dict[str, Any]]) -> int:
    """Give each bar a ``track`` so that bars overlapping in time sit on different tracks (an executor runs many
    attempts at once); the first free track is taken, in order of start. Returns how many tracks were needed."""
    ends: list[float] = []
    for bar in sorted(bars, key=lambda bar: (bar["queued_from"], bar["start"])):
        track = next((index for index, end in enumerate(ends) if end <= bar["queued_from"]), len(ends))
        if track == len(ends):
            ends.append(bar["end"])
        else:
            ends[track] = bar["end"]
        bar["track"] = track
    return max(1, len(ends))


def _node(task: TaskState, level: int | None, on_path: bool) -> dict[str, Any]:
    latest = task.latest
    duration = None
    if latest is not None and latest.started_at and latest.finished_at:
        duration = round((latest.finished_at - latest.started_at).total_seconds(), 3)
    return {
        "id": task.task_id,
        "tool": task.tool,
        "description": task.description,
        "args": task.args,
        "deps": list(task.deps),
        "level": level,
        "state": task.state,
        "executor": latest.executor if latest else None,
        "attempts": len(task.attempts),
        "retried": task.retried,
        "error": latest.error if latest else None,
        "skip_reason": task.skip_reason,
        "critical": on_path,
        "duration_s": duration,
        "result": task.result,
    }


def _turn(turn: Any) -> dict[str, Any]:
    return {
        "task_id": turn.task_id,
        "attempt": turn.attempt,
        "operation": turn.operation,
        "tool_name": turn.tool_name,
        "model": turn.model,
        "arguments": turn.arguments[:TURN_TEXT_CHARS],
        "output": turn.output[:TURN_TEXT_CHARS],
        "status": turn.status,
        "error": turn.error,
        "latency_s": round(turn.latency_s, 4),
        "executor": turn.executor,
        "started_at": _iso(turn.started_at),
        "tokens": turn.input_tokens + turn.output_tokens,
    }


def _levels_from_deps(run: RunState) -> list[list[str]]:
    """Levels for tasks seen only through their dispatches (the plan's event not read): one more than the deepest
    dependency; unknown dependencies count as level 0."""
    depth: dict[str, int] = {}

    def level(task_id: str, seen: frozenset[str] = frozenset()) -> int:
        if task_id not in depth:
            task = run.tasks.get(task_id)
            deps = [dep for dep in (task.deps if task else ()) if dep not in seen]
            depth[task_id] = 1 + max((level(dep, seen | {task_id}) for dep in deps), default=-1)
        return depth[task_id]

    levels: list[list[str]] = []
    for task_id in run.tasks:
        number = level(task_id)
        while len(levels) <= number:
            levels.append([])
        levels[number].append(task_id)
    return levels


def _elapsed(run: RunState, now: datetime) -> float | None:
    start = run.started_at
    return None if start is None else max(0.0, (now - start).total_seconds())


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _epoch_ms(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp() * 1000
