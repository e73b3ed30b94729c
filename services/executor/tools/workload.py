"""The demo workload: multi-step jobs with plans and the answers the knowledge base gives them.

``configs/demo/workload.yaml`` holds a list under ``jobs``; each job has a ``name``, a ``shape`` (comparison,
fan-out, branches, chain), the ``question`` a user would ask, a ``plan`` (seed or LLMCompiler format, built-in
tools only, so it runs offline) and ``expected_answer``: the final task's result as text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec
import yaml

from configs.settings import CONFIG_DIR

DEFAULT_WORKLOAD = CONFIG_DIR / "demo" / "workload.yaml"

Shape = Literal["comparison", "fan-out", "branches", "chain"]


class DemoJob(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    shape: Shape
    question: str
    plan: str
    expected_answer: str


class WorkloadError(ValueError):
    """The workload file is missing, not YAML, or a job is malformed; the message names the file and the job."""


def load_workload(path: Path | str = DEFAULT_WORKLOAD) -> list[DemoJob]:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise WorkloadError(f"{path}: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("jobs"), list):
        raise WorkloadError(f"{path}: expected a mapping with a list under 'jobs'")
    try:
        jobs = msgspec.convert(document["jobs"], list[DemoJob])
    except msgspec.ValidationError as error:
        raise WorkloadError(f"{path}: {error}") from None
    seen: set[str] = set()
    for job in jobs:
        if job.name in seen:
            raise WorkloadError(f"{path}: job name {job.name!r} is used twice")
        seen.add(job.name)
    return jobs
