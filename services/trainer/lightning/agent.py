"""The agent the Trainer's runner executes: plan one environment episode under the policy resource it is given."""

from __future__ import annotations

from typing import Any

import agentlightning as agl
import msgspec

from schemas.policy import Policy
from services.trainer.core.environment import EnvironmentConfig, Episode, run_episode
from services.trainer.core.reward import RewardConfig
from services.trainer.core.traces import scored_trace
from services.trainer.core.trajectory import Checker
from services.trainer.lightning.resources import PolicyResource
from services.trainer.lightning.spans import span_fields


def environment_agent(environment: EnvironmentConfig, reward: RewardConfig, checker: Checker) -> agl.LitAgent[Any]:
    @agl.rollout
    def run_fan_out(task: dict[str, Any], prompt_template: agl.PromptTemplate) -> list[agl.SpanCoreFields]:
        """One rollout: the episode's plan run by the planner's state machine under the candidate policy; the
        spans are built from the run's own events exactly as the trainer service builds them from Kafka."""
        if not isinstance(prompt_template, PolicyResource):
            raise TypeError(f"the agent needs a PolicyResource, got {type(prompt_template).__name__}")
        episode = msgspec.convert(task, Episode)
        finished, turns = run_episode(environment, episode, Policy(**prompt_template.knobs()))
        return span_fields(scored_trace(finished, turns, reward, checker))

    return run_fan_out
