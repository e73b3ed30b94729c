"""`genesis eval qa`'s three styles on a handful of questions with the real local model (the local-llm extra's
SmolLM2-135M served on loopback), no stub: the turn and token accounting must add up. Accuracy is not asserted (a
135M model answers poorly; `genesis eval qa --local` reports it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.eval.qa import QaEvaluation
from services.eval.questions import build_questions
from services.executor.tools import ToolSettings, build_registry
from services.executor.tools.knowledge_base import KnowledgeBase
from services.llm.chat import ChatClient, Completion
from services.llm.local import INSTALL_HINT, extra_installed, served_in_thread
from services.llm.settings import LlmSettings
from services.planner.intake import read_prompt_template
from services.planner.settings import load_planner_settings

KINDS = ("comparison", "bridge", "aggregation", "parallel")
MAX_TOOL_CALLS = 4


class RecordingChat(ChatClient):
    """The real client, keeping every completion the endpoint returned (the ground truth for the counts)."""

    def __init__(self, settings: LlmSettings) -> None:
        super().__init__(settings)
        self.completions: list[Completion] = []

    async def chat(
        self, messages: list[dict[str, str]], *, response_format: dict[str, Any] | None = None
    ) -> Completion:
        completion = await super().chat(messages, response_format=response_format)
        self.completions.append(completion)
        return completion


@pytest.fixture(scope="module")
def local_model() -> Iterator[LlmSettings]:
    if not extra_installed():
        pytest.fail(f"this test needs the real local model: {INSTALL_HINT}", pytrace=False)
    with served_in_thread(LlmSettings(timeout_s=240.0, max_tokens=256, agent_max_tool_calls=2)) as served:
        yield served


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_turns_and_tokens_add_up_in_every_style_when_a_real_model_answers(local_model: LlmSettings) -> None:
    questions = build_questions(KnowledgeBase.load())
    picked = [next(question for question in questions if question.kind == kind) for kind in KINDS]
    chat = RecordingChat(local_model)
    registry = build_registry(ToolSettings(kb_latency_s=0.05), llm=None, entry_point_group=None)
    template = read_prompt_template(Path(load_planner_settings().prompt_file))
    run = QaEvaluation(chat, registry, template, react_max_tool_calls=MAX_TOOL_CALLS, agent_max_tool_calls=2)
    await run.run(picked)

    assert [(outcome.question, outcome.style) for outcome in run.outcomes] == [
        (question.id, style) for question in picked for style in ("react", "gap-levels", "dag")
    ]
    by_style = {style: [outcome for outcome in run.outcomes if outcome.style == style] for style in ("react", "dag")}
    levels = [outcome for outcome in run.outcomes if outcome.style == "gap-levels"]
    for react in by_style["react"]:
        assert react.error is None, react.error
        # One tool call per turn, at least one, at most N, and one last turn that answers.
        assert 1 <= react.tool_calls <= MAX_TOOL_CALLS and react.turns == react.tool_calls + 1
        assert react.tokens > 0 and react.wall_s > 0
    for level, dag in zip(levels, by_style["dag"], strict=True):
        # One plan, written once, run two ways: the same planning calls in both, and the same plan.
        plan = (level.plan_turns, level.plan_tokens, level.plan_tasks)
        assert plan == (dag.plan_turns, dag.plan_tokens, dag.plan_tasks)
        assert level.plan_first_try == dag.plan_first_try and level.plan_turns >= 1
        for outcome in (level, dag):
            assert outcome.turns >= outcome.plan_turns and outcome.tokens >= outcome.plan_tokens
            if outcome.plan_tasks:  # a runnable plan: tool calls, then one answer step of 1 + its tool calls turns
                assert 2 <= outcome.plan_tasks <= 6
                if outcome.error is None:
                    assert outcome.turns == outcome.plan_turns + 1 + outcome.tool_calls
    # Every model call the endpoint answered is counted once, in one style (the plan's in both plan styles).
    planning = [(level.plan_turns, level.plan_tokens) for level in levels]
    counted_turns = sum(outcome.turns for outcome in run.outcomes) - sum(turns for turns, _ in planning)
    counted_tokens = sum(outcome.tokens for outcome in run.outcomes) - sum(tokens for _, tokens in planning)
    assert counted_turns == len(chat.completions)
    assert counted_tokens == sum(c.input_tokens + c.output_tokens for c in chat.completions) > 0
