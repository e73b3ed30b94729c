"""New hard examples through an OpenAI-compatible model, Evol-Instruct style, falling back to composition.

Each new example starts from a drawn easy or medium example: its request is rewritten twice (two methods),
answered by the model under the source's system prompt, then checked (the model judges whether the
rewrite asks for more; `elimination_reason` checks the rest). A source that fails is composed instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from typing import Any

from services.curator.core.compose import Composer, SourcePool
from services.curator.core.evolve import (
    METHODS,
    elimination_reason,
    equality_prompt,
    rewrite_prompt,
    says_equal,
)
from services.llm.chat import ChatClient, ChatError

_ROUNDS = 2
_ATTEMPTS = 3


class LlmHardExampleMaker:
    def __init__(self, client: ChatClient, fallback: Composer | None = None) -> None:
        self._client = client
        self._fallback = fallback or Composer()
        self.evolved = 0
        self.composed = 0
        self.eliminated: dict[str, int] = {}

    def __call__(self, pool: SourcePool, rng: random.Random) -> dict[str, Any]:
        source = rng.choice(pool.records)
        methods = rng.sample(METHODS, _ROUNDS)
        record = asyncio.run(self._evolve(source, methods))
        if record is None:
            self.composed += 1
            return self._fallback(pool, rng)
        self.evolved += 1
        return record

    async def _evolve(self, source: dict[str, Any], methods: list[str]) -> dict[str, Any] | None:
        messages = source["messages"]
        system = next((m["content"] for m in messages if m.get("role") == "system"), None)
        original = " ".join(m["content"] for m in messages if m.get("role") == "user")
        evolved = original
        for method in methods:
            evolved = (await self._ask(rewrite_prompt(evolved, method))).strip()
        answer = await self._ask(evolved, system)
        reason = elimination_reason(original, evolved, answer)
        if reason is None and says_equal(await self._ask(equality_prompt(original, evolved))):
            reason = "rewrite asks for nothing more than the original"
        if reason is not None:
            self.eliminated[reason] = self.eliminated.get(reason, 0) + 1
            return None
        digest = hashlib.blake2b(evolved.encode(), digest_size=6).hexdigest()
        return {
            "id": f"evolved-{digest}",
            "agent": source.get("agent"),
            "difficulty": "hard",
            "messages": [
                *([{"role": "system", "content": system}] if system else []),
                {"role": "user", "content": evolved},
                {"role": "assistant", "content": answer},
            ],
            "evolved_from": source.get("id"),
        }

    async def _ask(self, prompt: str, system: str | None = None) -> str:
        """One completion; retryable failures (rate limits, server errors) get two more tries with backoff."""
        attempt = 1
        while True:
            try:
                return (await self._client.complete(prompt, system)).text
            except ChatError as error:
                if not error.retryable or attempt == _ATTEMPTS:
                    raise
                await asyncio.sleep(2 ** (attempt - 1))
                attempt += 1
