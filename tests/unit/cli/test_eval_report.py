"""`genesis eval report`: saved outcomes of a split evaluation merged into one table, same questions in every style."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
from click.testing import Result

from services.eval.qa import Outcome


def outcome(question: str, style: str, correct: bool, turns: int, **more: object) -> Outcome:
    return Outcome(question, "comparison", style, correct, turns, 100 * turns, 1.0, lookups=2, **more)  # type: ignore[arg-type]


def write_log(path: Path, outcomes: list[Outcome]) -> Path:
    path.write_bytes(b"".join(msgspec.json.encode(item.__dict__) + b"\n" for item in outcomes))
    return path


def test_logs_merge_into_one_table_of_complete_questions_when_a_run_stopped_part_way(
    genesis: Callable[..., Result], tmp_path: Path
) -> None:
    plan = {"plan_first_try": True, "plan_tasks": 3, "plan_turns": 1, "tool_calls": 0}
    first = write_log(
        tmp_path / "a.jsonl",
        [
            outcome("q1", "react", True, 3, tool_calls=2),
            outcome("q1", "gap-levels", False, 2, answer="x", **plan),
            outcome("q1", "dag", False, 2, answer="x", **plan),
        ],
    )
    second = write_log(tmp_path / "b.jsonl", [outcome("q2", "react", False, 2, tool_calls=1)])  # stopped here
    shown = genesis("eval", "report", "--markdown", str(first), str(second))
    assert shown.exit_code == 0, shown.output
    assert "| react | 1 | 100.0% | 3.00 | 2.00 | 300 |" in shown.output
    assert "| dag | 1 | 0.0% | 2.00 | 0.00 | 200 |" in shown.output
    assert "1 question(s) without all three styles left out" in shown.output
    assert "runnable on the first try: 1" in shown.output and "answer step gave an answer: 1" in shown.output


def test_report_names_the_file_when_it_is_not_an_evaluation_output(
    genesis: Callable[..., Result], tmp_path: Path
) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    shown = genesis("eval", "report", str(bad))
    assert shown.exit_code == 2 and "notes.txt: not a `genesis eval qa --json` or --log output" in shown.output
