"""The seed's GenesisRewardFunction, with its weights and thresholds taken from configs/lightning_trainer.yaml.

A finished run scores: ``correct`` (+1.0) or ``incorrect`` (-0.5: failed, timed out, or the wrong answer), plus a
bonus for using few turns, plus a bonus for fast turns, minus a penalty per tool error. The parts are kept apart
(``components``) so RewardAssigned and the traces explain the sum.
"""

from __future__ import annotations

import msgspec


class RewardConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    correct: float = 1.0
    incorrect: float = -0.5
    few_turns_bonus: float = 0.1
    # The few-turns bonus goes to runs with at most this many turns (LLM and tool calls, retries included).
    few_turns_max: int = 3
    fast_turns_bonus: float = 0.05
    # The fast-turns bonus goes to runs whose makespan divided by their turns is below this.
    fast_turn_latency_s: float = 2.0
    # Subtracted once per failed tool call.
    tool_error_penalty: float = 0.2
    # Who decides correctness when the request gave no expected answer: "status" (a run that succeeded is
    # correct) or "package.module:function", called with the RunFinished and returning a bool.
    checker: str = "status"


class Trajectory(msgspec.Struct, frozen=True, kw_only=True):
    """What the reward looks at in a finished run."""

    correct: bool
    turns: int
    makespan_s: float
    tool_errors: int

    @property
    def latency_per_turn_s(self) -> float:
        return self.makespan_s / max(1, self.turns)


class Reward(msgspec.Struct, frozen=True, kw_only=True):
    total: float
    components: dict[str, float]


def score(trajectory: Trajectory, config: RewardConfig) -> Reward:
    components = {
        "correctness": config.correct if trajectory.correct else config.incorrect,
        "few_turns": config.few_turns_bonus if trajectory.turns <= config.few_turns_max else 0.0,
        "fast_turns": config.fast_turns_bonus if trajectory.latency_per_turn_s < config.fast_turn_latency_s else 0.0,
        "tool_errors": -config.tool_error_penalty * trajectory.tool_errors,
    }
    # Rounded so that equal runs give equal totals however the parts were added up.
    return Reward(total=round(sum(components.values()), 9), components=components)
