"""Submits a workload of jobs at once and collects every outcome, with a live progress bar."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.client import GenesisClient, RunOutcome
from services.executor.tools.workload import DemoJob


@dataclass(frozen=True)
class JobOutcome:
    job: DemoJob
    outcome: RunOutcome | None  # None: no outcome before the timeout


@dataclass(frozen=True)
class WorkloadResult:
    outcomes: list[JobOutcome]
    wall_s: float


async def run_workload(jobs: list[DemoJob], *, in_flight: int, timeout_s: float) -> WorkloadResult:
    """Keeps ``in_flight`` runs going at a time (a closed-loop load, as users submitting and waiting would)."""
    started = time.perf_counter()
    slots = asyncio.Semaphore(in_flight)
    columns = (
        TextColumn("[bold]runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    async with GenesisClient.connect() as client:
        with Progress(*columns) as progress:
            bar = progress.add_task("", total=len(jobs))

            async def run(job: DemoJob) -> JobOutcome:
                async with slots:
                    run_id = await client.submit(
                        plan_text=job.plan,
                        expected_answer=job.expected_answer,
                        labels={"job": job.name, "shape": job.shape},
                    )
                    try:
                        outcome = await client.wait(run_id, timeout_s=timeout_s)
                    except TimeoutError:
                        outcome = None
                progress.update(bar, advance=1, description=job.name)
                return JobOutcome(job, outcome)

            outcomes = await asyncio.gather(*(run(job) for job in jobs))
    return WorkloadResult(outcomes=list(outcomes), wall_s=time.perf_counter() - started)
