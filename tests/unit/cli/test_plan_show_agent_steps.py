"""`genesis plan show` draws plans whose tasks are free text (agent steps) without any model configured."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

SEED_PLAN = """<plan>
Task 1: Fetch user data | Dependencies: none
Task 2: Calculate metrics | Dependencies: none
Task 3: Generate report | Dependencies: Task 1, Task 2
</plan>
"""
GAP_PLAN = """T1: Find the director of Inception - Dependencies: none
T2: kb_search("Inception") - Dependencies: none
T3: Find the birth year of the director from T1 - Dependencies: T1, T2
"""
NO_MODEL = {"GENESIS_LLM_BASE_URL": "", "GENESIS_LLM_MODEL": ""}


def test_plan_show_draws_free_text_tasks_as_agent_steps_when_no_model_is_configured(
    genesis: Callable[..., Result], tmp_path: Path
) -> None:
    plan = tmp_path / "seed.txt"
    plan.write_text(SEED_PLAN)
    shown = genesis("plan", "show", str(plan), "--json", env=NO_MODEL)
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.output)
    assert [task["kind"] for task in report["tasks"]] == ["agent", "agent", "agent"]
    assert report["levels"] == [["1", "2"], ["3"]]
    assert report["critical_path"][-1] == "3"


def test_plan_show_mixes_tool_calls_and_agent_steps_when_the_plan_is_in_gap_format(
    genesis: Callable[..., Result], tmp_path: Path
) -> None:
    plan = tmp_path / "gap.txt"
    plan.write_text(GAP_PLAN)
    shown = genesis("plan", "show", str(plan), env=NO_MODEL)
    assert shown.exit_code == 0, shown.output
    assert "agent step: Find the director of Inception" in shown.output
    assert "kb_search" in shown.output
    mermaid = genesis("plan", "show", str(plan), "--mermaid", env=NO_MODEL)
    assert "T1. agent step: Find the director" in mermaid.output
