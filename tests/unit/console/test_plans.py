"""Plans checked as they are typed, by the planner's own parser and validator."""

from __future__ import annotations

from services.console.core.plans import PlanRules, check_plan

RULES = PlanRules(known_tools={"sleep", "calculator", "kb_search"}, signatures=None, max_tasks=8, llm_available=False)


def test_a_valid_plan_gives_its_levels_and_critical_path_when_checked() -> None:
    verdict = check_plan(
        "Task 1: sleep(seconds=1) | Dependencies: none\nTask 2: sleep(seconds=1) | Dependencies: none\n"
        'Task 3: calculator(expression="$1 + $2") | Dependencies: Task 1, Task 2',
        RULES,
    )
    assert verdict["ok"] and verdict["levels"] == [["1", "2"], ["3"]] and verdict["critical_path"][-1] == "3"


def test_a_cycle_is_rejected_with_its_line_and_path_when_checked() -> None:
    verdict = check_plan(
        "Task 1: sleep(seconds=0) | Dependencies: Task 2\nTask 2: sleep(seconds=0) | Dependencies: Task 1", RULES
    )
    assert not verdict["ok"] and verdict["line"] == 1 and "cycle: 1 -> 2 -> 1" in verdict["reason"]


def test_an_unknown_tool_names_its_line_when_checked() -> None:
    plan = "Task 1: sleep(seconds=0) | Dependencies: none\nTask 2: teleport(to=1) | Dependencies: none"
    verdict = check_plan(plan, RULES)
    assert not verdict["ok"] and verdict["line"] == 2 and "teleport" in verdict["reason"]
    assert check_plan("   ", RULES) == {"ok": False, "line": None, "task_id": None, "reason": "the plan is empty"}
