"""algorithm.name: apo: Agent Lightning's APO tunes the planner's planning prompt against an OpenAI-compatible
endpoint (the local model offline, or any configured one).

APO (beam search with textual gradients) evaluates a prompt by enqueuing rollouts under it, asks the endpoint for a
critique of the prompt from some rollouts (the "gradient") and for a prompt rewritten by that critique (the "edit"),
scores the candidates on validation questions and keeps the best. Here a rollout is one knowledge-base question
planned under the candidate prompt and answered (``services.trainer.question_rollouts``), scored by the project's
reward function. The algorithm is Agent Lightning's own; this module adds what the planner needs around it:

- the critique and edit calls get a per-call token budget (APO sets none, and a llama.cpp server would then write
  until its context is full);
- an edit becomes a candidate only if a planner could take it as its policy's prompt: code fences around it are
  removed, and the question placeholder, if the edit model dropped it, is put back on a line of its own (recorded
  with the candidate); an edit that still fails the policy's bounds is not a candidate (APO's "no edit" path);
- everything APO proposed and every score is recorded, whether or not it beat the starting prompt.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import agentlightning as agl
import msgspec
from agentlightning.adapter import TraceToMessages
from agentlightning.algorithm.apo import APO
from agentlightning.algorithm.apo.apo import RolloutResultForAPO, VersionedPromptTemplate
from agentlightning.execution import SharedMemoryExecutionStrategy
from openai import AsyncOpenAI

from schemas.policy import QUESTION_PLACEHOLDER, Policy
from services.eval.questions import Question
from services.llm.settings import LlmSettings
from services.trainer.core.traces import RunTrace
from services.trainer.lightning.resources import ReturnedSpansTracer
from services.trainer.lightning.spans import span_fields
from services.trainer.question_rollouts import QuestionOutcome, QuestionRollouts, question_of, question_task
from services.trainer.settings import ApoConfig

PROMPT_RESOURCE = "planning_prompt"
RUNNER_POLL_S = 0.05
# Put back when the edit model dropped the question (the starting prompt's own line for it).
QUESTION_LINE = f"\n\nUSER REQUEST: {QUESTION_PLACEHOLDER}\n"
# A code fence around the edit, closed or not (a small model often stops before closing it).
_FENCE = re.compile(r"^\s*```[\w-]*\n(?P<body>.*?)(?:\n```)?\s*$", re.DOTALL)


@dataclass
class Proposal:
    """One edit APO asked for: the parent prompt, the critique, what the edit model wrote, and what became of it."""

    parent: str  # APO's version of the parent prompt
    critique: str | None
    edit: str | None
    candidate: str | None  # the prompt evaluated; None: no candidate (the note says why)
    note: str = ""
    version: str | None = None  # APO's version of the candidate, once it was evaluated


@dataclass
class Evaluation:
    version: str
    mode: str  # train: rollouts the critique reads; val: the scores APO ranks by
    rewards: list[float | None]
    mean: float


@dataclass
class TuningRecord:
    proposals: list[Proposal] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    templates: dict[str, str] = field(default_factory=dict)  # by APO version
    outcomes: list[tuple[str, QuestionOutcome]] = field(default_factory=list)  # (template, outcome)


@dataclass(frozen=True)
class TuningResult:
    seed_score: float
    best_version: str
    best_template: str
    best_score: float
    record: TuningRecord
    rollouts: int
    wall_s: float

    @property
    def improved(self) -> bool:
        return self.best_version != "v0"

    def policy(self, current: Policy) -> Policy:
        """``current`` with the learned prompt (None when the starting prompt stayed best: the planners keep theirs)."""
        return msgspec.structs.replace(current, prompt_template=self.best_template if self.improved else None)


class RolloutsIncomplete(RuntimeError):
    """Rollouts failed or did not finish in time: the scores would count them as 0, so nothing is published."""


def usable_prompt(edit: str) -> tuple[str | None, str]:
    """The edit as a planning prompt a policy may carry, and a note on what was changed or why it cannot be one."""
    fenced = _FENCE.match(edit)
    prompt = (fenced.group("body") if fenced else edit).strip()
    notes = ["code fence removed"] if fenced else []
    if not prompt:
        return None, "the edit was empty"
    if QUESTION_PLACEHOLDER not in prompt:
        prompt += QUESTION_LINE
        notes.append(f"{QUESTION_PLACEHOLDER} was missing: put back on a line of its own")
    try:
        Policy(prompt_template=prompt)
    except ValueError as error:
        return None, f"not usable as a policy prompt: {error}"
    return prompt, "; ".join(notes)


class _BudgetedClient:
    """An AsyncOpenAI client as APO uses it (``client.chat.completions.create``) with a default ``max_tokens``."""

    def __init__(self, client: AsyncOpenAI, max_tokens: int) -> None:
        self._client = client
        self._max_tokens = max_tokens
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))

    async def _create(self, **kwargs: Any) -> Any:
        return await self._client.chat.completions.create(**{"max_tokens": self._max_tokens, **kwargs})


class RecordedAPO(APO[dict[str, Any]]):
    """APO as shipped, with what it proposes and scores recorded, and edits kept to usable planning prompts."""

    def __init__(self, *args: Any, on_step: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.record = TuningRecord()
        self._on_step = on_step
        self._critique: str | None = None
        # Raised inside the algorithm's thread, where the Trainer only logs it; run_prompt_tuning raises it again.
        self.failure: RolloutsIncomplete | None = None

    async def compute_textual_gradient(
        self, current_prompt: VersionedPromptTemplate, rollout_results: list[RolloutResultForAPO], **kwargs: Any
    ) -> str | None:
        self._on_step(f"critique of {current_prompt.version}")
        self._critique = await super().compute_textual_gradient(current_prompt, rollout_results, **kwargs)
        return self._critique

    async def textual_gradient_and_apply_edit(
        self, current_prompt: VersionedPromptTemplate, rollout: list[RolloutResultForAPO], **kwargs: Any
    ) -> str | None:
        self._critique = None
        edit = await super().textual_gradient_and_apply_edit(current_prompt, rollout, **kwargs)
        critique = self._critique
        if not critique:
            candidate, note = None, "no critique"
        elif edit is None:
            candidate, note = None, "the edit model returned nothing"
        else:
            candidate, note = usable_prompt(edit)
        self.record.proposals.append(Proposal(current_prompt.version, critique, edit, candidate, note))
        return candidate

    async def evaluate_prompt_on_batch(
        self,
        prompt: VersionedPromptTemplate,
        resource_name: str,
        dataset: Sequence[dict[str, Any]],
        mode: Any,
        **kw: Any,
    ) -> tuple[list[RolloutResultForAPO], float]:
        self._on_step(f"{mode} rollouts of {prompt.version} ({len(dataset)} questions)")
        results, mean = await super().evaluate_prompt_on_batch(prompt, resource_name, dataset, mode, **kw)
        template = prompt.prompt_template.template
        self.record.templates[prompt.version] = template
        for proposal in self.record.proposals:
            if proposal.candidate == template and proposal.version is None:
                proposal.version = prompt.version
        rewards = [result["final_reward"] for result in results]
        if len(results) < len(dataset) or any(result["status"] != "succeeded" for result in results):
            statuses = [result["status"] for result in results]
            self.failure = RolloutsIncomplete(
                f"{prompt.version}: {len(dataset)} rollouts enqueued, finished: {statuses} (see the log above)"
            )
            raise self.failure
        self.record.evaluations.append(Evaluation(prompt.version, str(mode), rewards, mean))
        return results, mean


def question_agent(rollouts: QuestionRollouts, record: TuningRecord) -> agl.LitAgent[Any]:
    @agl.rollout
    async def answer_question(task: dict[str, Any], prompt_template: agl.PromptTemplate) -> list[agl.SpanCoreFields]:
        """One rollout: the question planned under the candidate prompt, run, and scored by the reward function."""
        outcome = await rollouts.run(question_of(task), prompt_template.template)
        record.outcomes.append((prompt_template.template, outcome))
        assert outcome.reward is not None
        trace = RunTrace(
            run_id=f"apo-{task['id']}",
            task=task,
            spans=tuple(outcome.spans),
            reward=outcome.reward,
            metadata={"correct": outcome.correct},
        )
        return span_fields(trace)

    return answer_question


def run_prompt_tuning(
    config: ApoConfig,
    llm: LlmSettings,
    rollouts: QuestionRollouts,
    *,
    seed_prompt: str,
    train: Sequence[Question],
    validation: Sequence[Question],
    on_step: Callable[[str], None] = lambda step: None,
) -> TuningResult:
    """One APO run: the seed prompt scored, ``beam_rounds`` rounds of critiques and edits, the best prompt."""
    if not llm.enabled:
        raise ValueError("APO needs an endpoint: llm.base_url and llm.model (or the local model)")
    client = AsyncOpenAI(base_url=str(llm.base_url), api_key=llm.api_key or "not-needed", timeout=llm.timeout_s)
    algorithm = RecordedAPO(
        _BudgetedClient(client, config.max_tokens),  # type: ignore[arg-type]  # APO calls only chat.completions
        gradient_model=config.gradient_model or str(llm.model),
        apply_edit_model=config.apply_edit_model or str(llm.model),
        diversity_temperature=config.temperature,
        gradient_batch_size=config.gradient_batch_size,
        val_batch_size=len(validation),
        beam_width=config.beam_width,
        branch_factor=config.branch_factor,
        beam_rounds=config.beam_rounds,
        rollout_batch_timeout=config.rollout_timeout_s,
        run_initial_validation=True,
        on_step=on_step,
    )
    tracer = ReturnedSpansTracer()
    trainer = agl.Trainer(
        algorithm=algorithm,
        store=agl.InMemoryLightningStore(),
        tracer=tracer,
        adapter=TraceToMessages(),  # what APO's critique reads of each rollout
        runner=agl.LitAgentRunner(
            tracer=tracer, poll_interval=RUNNER_POLL_S, interval_jitter=0.0, heartbeat_interval=0
        ),
        strategy=SharedMemoryExecutionStrategy(n_runners=1, main_thread="algorithm", poll_interval=RUNNER_POLL_S),
        initial_resources={PROMPT_RESOURCE: agl.PromptTemplate(template=seed_prompt, engine="f-string")},
    )
    started = time.perf_counter()
    trainer.fit(
        question_agent(rollouts, algorithm.record),
        train_dataset=[question_task(question) for question in train],
        val_dataset=[question_task(question) for question in validation],
    )
    if algorithm.failure is not None:
        raise algorithm.failure
    record = algorithm.record
    seed_scores = [e.mean for e in record.evaluations if e.version == "v0" and e.mode == "val"]
    best_version = algorithm._history_best_version  # APO keeps no public accessor for the version
    if not seed_scores or best_version is None:
        raise RuntimeError("APO ended before it scored the starting prompt (see the log above)")
    return TuningResult(
        seed_score=seed_scores[0],
        best_version=best_version,
        best_template=algorithm.get_best_prompt().template,
        best_score=algorithm._history_best_score,
        record=record,
        rollouts=len(record.outcomes),
        wall_s=time.perf_counter() - started,
    )


def record_document(result: TuningResult, seed_prompt: str) -> dict[str, Any]:
    """Everything the run proposed and measured, as JSON: what `genesis trainer run --algorithm apo` saves."""
    record = result.record
    versions = {template: version for version, template in record.templates.items()}
    return {
        "seed_score": result.seed_score,
        "best_version": result.best_version,
        "best_score": result.best_score,
        "improved": result.improved,
        "best_prompt": result.best_template,
        "seed_prompt": seed_prompt,
        "wall_s": round(result.wall_s, 3),
        "rollouts": result.rollouts,
        "proposals": [proposal.__dict__ for proposal in record.proposals],
        "evaluations": [evaluation.__dict__ for evaluation in record.evaluations],
        "rollout_outcomes": [
            {
                "prompt_version": versions.get(template),
                "question": outcome.question,
                "expected": outcome.expected,
                "plan": outcome.plan_text,
                "answer": outcome.answer,
                "correct": outcome.correct,
                "reward": outcome.reward.total if outcome.reward else None,
                "reward_components": outcome.reward.components if outcome.reward else None,
                "model_calls": outcome.model_calls,
                "tool_calls": outcome.tool_calls,
                "tool_errors": outcome.tool_errors,
                "wall_s": round(outcome.wall_s, 3),
                "error": outcome.error,
            }
            for template, outcome in record.outcomes
        ],
    }
