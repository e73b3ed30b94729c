"""New hard examples without an LLM: several examples of one agent become one task of dependent steps.

Step n+1 is asked to build on the results of the steps before it, and the answer walks through the
steps in order, so the composed example needs a multi-step plan, which is what the planner learns from.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any

STEPS = 3


def compose_hard_example(sources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One hard record from `sources` (at least two), their asks turned into dependent steps."""
    if len(sources) < 2:
        raise ValueError("composing needs at least two source examples")
    first = sources[0]
    system = [m for m in first["messages"] if m.get("role") == "system"][:1]
    asks, answers = [], []
    for number, source in enumerate(sources, start=1):
        ask = " ".join(m["content"] for m in source["messages"] if m.get("role") == "user")
        answer = next((m["content"] for m in reversed(source["messages"]) if m.get("role") == "assistant"), "")
        previous = _step_list(number - 1)
        lead = f"Step {number}: " if number == 1 else f"Step {number}: using the results of {previous}, "
        asks.append(lead + ask)
        answers.append(f"Step {number} (builds on {previous}): {answer}" if number > 1 else f"Step 1: {answer}")
    asks.append(f"Finally, combine the results of steps 1 to {len(sources)} into one short summary.")
    answers.append(f"Summary: the {len(sources)} steps above were done in order, each using the results before it.")
    source_ids = [str(s.get("id", "")) for s in sources]
    digest = hashlib.blake2b("\x1f".join(source_ids).encode(), digest_size=6).hexdigest()
    return {
        "id": f"composed-{digest}",
        "agent": first.get("agent"),
        "difficulty": "hard",
        "messages": [
            *system,
            {"role": "user", "content": "\n".join(asks)},
            {"role": "assistant", "content": "\n\n".join(answers)},
        ],
        "composed_from": source_ids,
    }


class SourcePool:
    """The examples new ones may be built from, grouped by agent once."""

    def __init__(self, records: Sequence[dict[str, Any]]) -> None:
        self.records = list(records)
        self.by_agent: dict[Any, list[dict[str, Any]]] = {}
        for record in self.records:
            self.by_agent.setdefault(record.get("agent"), []).append(record)


class Composer:
    """Draws `steps` distinct examples, of one agent where that agent has enough, and composes them."""

    def __init__(self, steps: int = STEPS) -> None:
        self._steps = steps

    def __call__(self, pool: SourcePool, rng: random.Random) -> dict[str, Any]:
        if len(pool.records) < self._steps:
            raise ValueError(f"composing needs at least {self._steps} examples to draw from, got {len(pool.records)}")
        # Picking the agent through a random record keeps each agent's share of new examples.
        agent = rng.choice(pool.records).get("agent")
        same_agent = pool.by_agent[agent]
        candidates = same_agent if len(same_agent) >= self._steps else pool.records
        return compose_hard_example(rng.sample(candidates, self._steps))


def _step_list(count: int) -> str:
    if count == 1:
        return "step 1"
    return "steps " + ", ".join(str(n) for n in range(1, count)) + f" and {count}"
