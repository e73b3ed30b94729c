"""Seeded synthetic chat training data for the seed's five agents, with every PII value labelled.

Records follow the seed's shape: `{"id", "agent", "difficulty", "messages": [{"role", "content"}]}` plus
`pii_spans`, a list of `{"message", "start", "end", "type"}` giving the exact location of each PII value,
so detectors can be scored. The difficulty mix copies the seed's audit: 58% easy, 42% medium, no hard.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from typing import Any

from services.curator.core.spans import CORE_TYPES, PiiType
from services.curator.core.synth_lookalikes import LookalikeFactory
from services.curator.core.synth_pii import PiiFactory
from services.curator.core.synth_templates import (
    ASSISTANT_TEMPLATES,
    EXPLANATIONS,
    FOLLOW_UP_TEMPLATES,
    SYSTEM_PROMPTS,
    USER_TEMPLATES,
)

AGENTS = ("qa", "content", "legal", "support", "analyst")
SEED_DIFFICULTY_MIX = {"easy": 0.58, "medium": 0.42, "hard": 0.0}
_SLOT = re.compile(r"\{(\w+)\}")
_PII_SLOTS = {kind.value.lower(): kind for kind in CORE_TYPES}


class ChatGenerator:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._pii = PiiFactory(self._rng, seed)
        self._faker = self._pii.faker("en_US")
        self._lookalikes = LookalikeFactory(self._rng, self._faker)
        self._plain = {
            "name": self._faker.name,
            "company": self._faker.company,
            "city": self._faker.city,
            "address": lambda: self._faker.address().replace("\n", ", "),
            "product": lambda: (
                f"{self._faker.color_name()} {self._faker.word().title()} "
                f"{self._rng.choice(('Pro', 'Mini', 'Kit', 'Plus'))}"
            ),
        }

    def records(self, count: int, agents: Sequence[str] = AGENTS) -> Iterator[dict[str, Any]]:
        easy = round(count * SEED_DIFFICULTY_MIX["easy"])
        difficulties = ["easy"] * easy + ["medium"] * (count - easy)
        self._rng.shuffle(difficulties)
        for index, difficulty in enumerate(difficulties):
            yield self.record(index, self._rng.choice(agents), difficulty)

    def record(self, index: int, agent: str, difficulty: str) -> dict[str, Any]:
        turns = [
            ("system", SYSTEM_PROMPTS[agent]),
            ("user", self._rng.choice(USER_TEMPLATES[agent])),
            ("assistant", self._answer(agent, 2, 4)),
        ]
        if difficulty == "medium":
            # A medium example carries a dependent second request, as the seed's medium examples do.
            turns += [("user", self._rng.choice(FOLLOW_UP_TEMPLATES)), ("assistant", self._answer(agent, 4, 7))]
        messages, spans = [], []
        for position, (role, template) in enumerate(turns):
            content, found = self._fill(template)
            messages.append({"role": role, "content": content})
            spans.extend(
                {"message": position, "start": start, "end": end, "type": kind.value} for start, end, kind in found
            )
        return {
            "id": f"{agent}-{index:06d}",
            "agent": agent,
            "difficulty": difficulty,
            "messages": messages,
            "pii_spans": spans,
        }

    def _answer(self, agent: str, fewest: int, most: int) -> str:
        """An answer template followed by explanatory sentences, as long as real assistant turns."""
        sentences = self._rng.sample(EXPLANATIONS[agent], self._rng.randint(fewest, most))
        return " ".join([self._rng.choice(ASSISTANT_TEMPLATES[agent]), *sentences])

    def _fill(self, template: str) -> tuple[str, list[tuple[int, int, PiiType]]]:
        pieces: list[str] = []
        spans: list[tuple[int, int, PiiType]] = []
        length = cursor = 0
        for match in _SLOT.finditer(template):
            literal = template[cursor : match.start()]
            pieces.append(literal)
            length += len(literal)
            value, kind = self._draw(match.group(1))
            if kind is not None:
                spans.append((length, length + len(value), kind))
            pieces.append(value)
            length += len(value)
            cursor = match.end()
        pieces.append(template[cursor:])
        return "".join(pieces), spans

    def _draw(self, slot: str) -> tuple[str, PiiType | None]:
        if slot == "bare_phone":
            return self._pii.bare_phone(), PiiType.PHONE
        if slot == "bare_ssn":
            return self._pii.bare_ssn(), PiiType.SSN
        if (kind := _PII_SLOTS.get(slot)) is not None:
            return self._pii.draw[kind](), kind
        if slot in self._lookalikes.draw:
            return self._lookalikes.draw[slot](), None
        return self._plain[slot](), None


def generate_records(count: int, seed: int, agents: Sequence[str] = AGENTS) -> Iterator[dict[str, Any]]:
    """`count` records, identical for the same seed and agents."""
    return ChatGenerator(seed).records(count, agents)
