"""The demo's closing words from the warehouse: the slowest tools, the overall speedup, one run's timeline.

The demo waits until the warehouse has recorded every run it made (a bounded poll of the snapshots or the
file), so the figures printed are the warehouse's own, computed from the events it ingested.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from services.warehouse import gantt
from services.warehouse.query import BadQuery, Reader, WarehouseUnavailable, open_reader
from services.warehouse.runs import load_timeline
from services.warehouse.settings import WarehouseSettings
from services.warehouse.sql import named_statements

INGEST_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.25
_QUERIES = named_statements("demo.sql")


def wait_for_runs(settings: WarehouseSettings, run_ids: list[str], timeout_s: float) -> int:
    """Poll until the warehouse holds every run finished, or the time is up; returns how many it holds."""
    deadline = time.monotonic() + timeout_s
    finished = 0
    while True:
        try:
            with open_reader(settings) as reader:
                finished = reader.query(_QUERIES["finished"].sql, [run_ids]).rows[0][0]
        except (WarehouseUnavailable, BadQuery):
            pass  # no snapshot yet, or one being replaced: ask again
        if finished >= len(run_ids) or time.monotonic() >= deadline:
            return finished
        time.sleep(POLL_INTERVAL_S)


def print_digest(console: Console, settings: WarehouseSettings, run_ids: list[str]) -> None:
    if not run_ids:
        return
    with console.status("waiting for the warehouse to record the runs"):
        recorded = wait_for_runs(settings, run_ids, INGEST_TIMEOUT_S)
    if recorded < len(run_ids):
        console.print(
            f"[yellow]the warehouse recorded {recorded} of {len(run_ids)} runs within {INGEST_TIMEOUT_S:g} s[/]"
        )
    try:
        with open_reader(settings) as reader:
            _print_answers(console, reader, settings.timeline_dir, run_ids, recorded)
    except (WarehouseUnavailable, BadQuery) as error:
        console.print(f"[yellow]no answers from the warehouse: {error}[/]")


def _print_answers(console: Console, reader: Reader, timeline_dir: Path, run_ids: list[str], recorded: int) -> None:
    console.print(f"[bold]the warehouse[/] ({reader.source}) recorded {recorded} runs:")
    tools = reader.query(_QUERIES["slowest_tools"].sql, [run_ids]).rows
    listed = ", ".join(f"{tool} {p95:.3f} s ({attempts} attempts)" for tool, attempts, p95 in tools)
    console.print(f"  slowest tools by p95 latency: {listed or 'none'}", highlight=False)
    speedup, sequential_s, makespan_s = reader.query(_QUERIES["overall_speedup"].sql, [run_ids]).rows[0]
    if speedup is not None:
        console.print(
            f"  overall speedup {speedup:.2f}x: tasks one after another {sequential_s:.1f} s, runs {makespan_s:.1f} s",
            highlight=False,
        )
    showcase = reader.query(_QUERIES["showcase_run"].sql, [run_ids]).rows
    if showcase:
        run_id, job = showcase[0]
        picture = gantt.render(load_timeline(reader, run_id), timeline_dir / f"{run_id}.png")
        console.print(f"  timeline of run {run_id} ({job or 'no job label'}): {picture}", highlight=False)
