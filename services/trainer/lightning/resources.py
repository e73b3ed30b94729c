"""The planner's policy as an Agent Lightning resource, and the tracer for agents that return their spans."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import agentlightning as agl
from agentlightning.tracer import DummyTracer

from schemas.policy import Policy

POLICY_RESOURCE = "planner_policy"


class PolicyResource(agl.PromptTemplate):
    """The planning prompt (a PromptTemplate: what APO edits) with the knobs the planner applies next to it.

    0.3's resource union is closed (LLM, ProxyLLM, PromptTemplate), so the knobs ride on the prompt template they
    belong with, as schemas.Policy keeps them together. An in-memory store keeps the subclass as it is; a store
    that serialises resources would drop the knobs, which is one reason the trainer uses the shm strategy.
    """

    max_parallelism: int
    gap_threshold: int
    max_attempts: int

    @classmethod
    def of(cls, policy: Policy, prompt: str) -> PolicyResource:
        return cls(
            template=policy.prompt_template or prompt,
            engine="f-string",
            max_parallelism=policy.max_parallelism,
            gap_threshold=policy.gap_threshold,
            max_attempts=policy.max_attempts,
        )

    def with_knobs(self, knobs: dict[str, int]) -> PolicyResource:
        return self.model_copy(update=knobs)

    def knobs(self) -> dict[str, int]:
        return {
            "max_parallelism": self.max_parallelism,
            "gap_threshold": self.gap_threshold,
            "max_attempts": self.max_attempts,
        }

    def to_policy(self, *, version: int, default_prompt: str) -> Policy:
        # Planners keep their configured prompt unless the trainer learned a different one.
        prompt = None if self.template == default_prompt else self.template
        return Policy(version=version, prompt_template=prompt, **self.knobs())


class ReturnedSpansTracer(DummyTracer):
    """For agents that return their spans (built from the run's own events) instead of emitting them while they
    run: the runner's trace context has nothing to collect, and no global OpenTelemetry provider is installed."""

    @asynccontextmanager
    async def trace_context(self, name: str | None = None, **_: Any) -> AsyncIterator[None]:
        yield None

    def get_last_trace(self) -> list[agl.Span]:
        return []
