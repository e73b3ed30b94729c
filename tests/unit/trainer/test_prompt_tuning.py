"""APO over the planning prompt, wired without a model: Agent Lightning's APO, the shm runner, the question rollouts
(the planner's intake, the real tools and knowledge base, the reward function) against an OpenAI-compatible HTTP
server on loopback that answers every call with one fixed plan. What the real model proposes is tested in
tests/e2e/test_trainer_apo.py."""

from __future__ import annotations

import json

import msgspec
import pytest

from configs.settings import ConfigError
from schemas.policy import PROMPT_TEMPLATE_MAX_CHARS, Policy
from services.executor.tools import ToolSettings, build_registry
from services.executor.tools.knowledge_base import KnowledgeBase
from services.llm.chat import ChatClient
from services.llm.settings import LlmSettings
from services.planner.core.limits import IntakeLimits
from services.trainer.core.reward import RewardConfig
from services.trainer.question_rollouts import QuestionRollouts, tuning_questions
from services.trainer.settings import ApoConfig, load_trainer_config
from tests.support.openai_server import API_KEY, LocalServer

SEED_PROMPT = "Plan the request as a DAG.\nUSER REQUEST: {user_query}\nTOOLS: {tools}\n"
# Every call gets this reply: a runnable one-task plan, and so also the critique and the edit.
PLAN_REPLY = json.dumps({"tasks": [{"tool": "kb_search", "args": {"query": "Budapest"}, "deps": []}]})


def usable_prompt(edit: str) -> tuple[str | None, str]:
    from services.trainer.lightning.prompt_tuning import usable_prompt as usable

    return usable(edit)


def test_edit_keeps_its_text_when_it_is_a_usable_planning_prompt() -> None:
    assert usable_prompt("Plan {user_query} with {tools}.") == ("Plan {user_query} with {tools}.", "")


@pytest.mark.parametrize(
    "edit",
    ["```text\nBreak the request into independent lookups.\n```", "```\nBreak the request into independent lookups."],
)
def test_edit_loses_its_code_fence_and_gets_the_question_back_when_the_edit_model_dropped_it(edit: str) -> None:
    prompt, note = usable_prompt(edit)
    assert prompt == "Break the request into independent lookups.\n\nUSER REQUEST: {user_query}\n"
    assert note == "code fence removed; {user_query} was missing: put back on a line of its own"
    Policy(prompt_template=prompt)  # a planner takes it


@pytest.mark.parametrize(
    ("edit", "reason"),
    [("  \n", "the edit was empty"), ("x" * PROMPT_TEMPLATE_MAX_CHARS, f"over {PROMPT_TEMPLATE_MAX_CHARS}")],
)
def test_edit_is_no_candidate_when_a_policy_could_not_carry_it(edit: str, reason: str) -> None:
    prompt, note = usable_prompt(edit)
    assert prompt is None and reason in note


def test_config_names_the_key_when_an_apo_bound_is_broken(tmp_path) -> None:
    bad = tmp_path / "trainer.yaml"
    bad.write_text("apo:\n  beam_rounds: 0\n")
    with pytest.raises(ConfigError, match=r"`apo.beam_rounds`"):
        load_trainer_config(bad)


def test_questions_are_disjoint_and_of_the_configured_kinds_when_chosen_for_tuning() -> None:
    train, validation = tuning_questions(KnowledgeBase.load(), kinds=("bridge",), train=3, validation=2, seed=11)
    assert len(train) == 3 and len(validation) == 2
    assert {question.kind for question in train + validation} == {"bridge"}
    assert not {question.id for question in train} & {question.id for question in validation}
    with pytest.raises(ValueError, match="apo.question_kinds"):
        tuning_questions(KnowledgeBase.load(), kinds=(), train=1, validation=1, seed=11)


def test_apo_scores_its_edit_with_the_reward_function_and_records_everything_when_run_against_an_endpoint() -> None:
    from services.trainer.lightning.prompt_tuning import run_prompt_tuning

    config = ApoConfig(question_kinds=("bridge", "comparison"), max_tokens=77)
    reward = RewardConfig()
    train, validation = tuning_questions(KnowledgeBase.load(), kinds=config.question_kinds, train=2, validation=2,
                                         seed=config.question_seed)  # fmt: skip
    with LocalServer() as server:
        server.state.chat_reply = PLAN_REPLY
        llm = LlmSettings(
            base_url=f"{server.base_url}/v1", model="scripted", api_key=API_KEY, structured_output="json_object"
        )
        rollouts = QuestionRollouts(
            chat=ChatClient(llm),
            registry=build_registry(ToolSettings(kb_latency_s=0.0), llm=None, entry_point_group=None),
            reward=reward,
            limits=IntakeLimits(),
            agent_max_tool_calls=config.agent_max_tool_calls,
        )
        steps: list[str] = []
        result = run_prompt_tuning(
            config, llm, rollouts, seed_prompt=SEED_PROMPT, train=train, validation=validation, on_step=steps.append
        )
        requests = list(server.state.chat_requests)

    record = result.record
    [proposal] = record.proposals
    assert proposal.parent == "v0" and proposal.critique == PLAN_REPLY and proposal.edit == PLAN_REPLY
    assert proposal.candidate == PLAN_REPLY + "\n\nUSER REQUEST: {user_query}\n" and proposal.version == "v1"
    assert record.templates == {"v0": SEED_PROMPT, "v1": proposal.candidate}
    # The seed on the validation questions, the seed on the training questions (what the critique reads), both
    # candidates on a validation batch, the leader on the whole validation set.
    assert [(e.version, e.mode) for e in record.evaluations] == [
        ("v0", "val"), ("v0", "train"), ("v0", "val"), ("v1", "val"), (result.best_version, "val")
    ]  # fmt: skip
    assert result.rollouts == len(record.outcomes) == 10
    # Every rollout's reward is the reward function's score of what the run did.
    for template, outcome in record.outcomes:
        assert template in (SEED_PROMPT, proposal.candidate)
        assert outcome.model_calls == 1 and outcome.tool_calls == 1 and outcome.tool_errors == 0
        assert outcome.plan_text == PLAN_REPLY  # what the model wrote, as the critique reads it
        components = outcome.reward.components
        assert components["correctness"] == (reward.correct if outcome.correct else reward.incorrect)
        assert components["few_turns"] == reward.few_turns_bonus  # two turns
    assert result.seed_score == record.evaluations[0].mean
    rewards = [outcome.reward.total for _, outcome in record.outcomes]
    assert record.evaluations[0].rewards == rewards[:2]
    # The critique and the edit went to the endpoint with the model and the per-call token budget, and the
    # critique read the rollouts through Agent Lightning's TraceToMessages: the question and the grader's verdict.
    apo_calls = [request for request in requests if "response_format" not in request]
    assert len(apo_calls) == 2
    assert all(call["model"] == "scripted" and call["max_tokens"] == 77 for call in apo_calls)
    critique_prompt = apo_calls[0]["messages"][-1]["content"]
    assert SEED_PROMPT.splitlines()[0] in critique_prompt and "the known answer is" in critique_prompt
    assert "the known answer is" not in apo_calls[1]["messages"][-1]["content"]  # the edit reads the critique
    assert any(step.startswith("critique of v0") for step in steps)
    current = Policy(version=4, max_parallelism=3, gap_threshold=2, max_attempts=2)
    learned = result.policy(current)
    assert msgspec.structs.replace(learned, prompt_template=None) == current
    assert learned.prompt_template == (proposal.candidate if result.best_version == "v1" else None)
