from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from services.executor.tools import ToolRegistry
from services.executor.tools.workload import WorkloadError, load_workload
from tests.unit.executor.local_plan import evaluate_local_plan, parse_local_plan, sinks

JOBS = load_workload()


def test_bundles_at_least_32_jobs_of_every_shape_when_loaded() -> None:
    shapes = Counter(job.shape for job in JOBS)
    assert len(JOBS) >= 32
    assert set(shapes) == {"comparison", "fan-out", "branches", "chain"}
    assert all(count >= 5 for count in shapes.values())


def test_mixes_seed_and_llmcompiler_formats_when_loaded() -> None:
    seed = [job for job in JOBS if "| Dependencies:" in job.plan]
    compiler = [job for job in JOBS if "join()" in job.plan]
    assert len(seed) >= 10 and len(compiler) >= 10 and len(seed) + len(compiler) == len(JOBS)
    assert any("${" in job.plan for job in compiler) and any("<plan>" in job.plan for job in seed)


def test_fans_out_eight_lookups_into_one_aggregate_when_shape_is_fan_out() -> None:
    for job in (job for job in JOBS if job.shape == "fan-out"):
        tasks = parse_local_plan(job.plan)
        assert sum(1 for task in tasks if not task.deps) == 8, job.name
        assert len(tasks) == 9, job.name


@pytest.mark.parametrize("job", JOBS, ids=[job.name for job in JOBS])
async def test_expected_answer_follows_from_the_kb_when_plan_is_evaluated(job, registry: ToolRegistry) -> None:
    tasks = parse_local_plan(job.plan)
    assert len(sinks(tasks)) == 1, "a job's answer is the result of its one final task"
    assert str(await evaluate_local_plan(tasks, registry)) == job.expected_answer


def test_names_the_job_when_a_name_is_used_twice(tmp_path: Path) -> None:
    job = "  - {name: same, shape: chain, question: q, plan: '1. sleep(seconds=0)', expected_answer: '0'}\n"
    path = tmp_path / "workload.yaml"
    path.write_text("jobs:\n" + job + job)
    with pytest.raises(WorkloadError, match="'same' is used twice"):
        load_workload(path)


def test_names_the_field_when_a_job_has_an_unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "workload.yaml"
    path.write_text("jobs:\n  - {name: a, shape: chain, question: q, plan: p, expected_answer: '1', answer: 1}\n")
    with pytest.raises(WorkloadError, match="answer"):
        load_workload(path)
