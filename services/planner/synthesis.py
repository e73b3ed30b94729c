"""Optional answer synthesis: with an LLM configured and switched on, the answer is written from the task results.

A stage of its own: the planner runs it off its input handler and flush (services/planner/app.py), and the run waits
for it at most ``planner.synthesis_timeout_s`` (services/planner/core/run.py, AnswerRequested).
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from services.llm.chat import ChatClient, ChatError

log = logging.getLogger(__name__)


class AnswerSynthesis:
    def __init__(self, chat: ChatClient | None, *, enabled: bool) -> None:
        if enabled and chat is None:
            raise ValueError("planner.synthesize_answer needs the llm section (base_url and model)")
        self._chat = chat if enabled else None

    @property
    def enabled(self) -> bool:
        return self._chat is not None

    async def write(self, run_id: str, results: dict[str, Any]) -> str | None:
        """The model's answer from the task results; None when it failed (the results then are the answer)."""
        if self._chat is None:
            return None
        prompt = (
            "Answer the request from these task results. Reply with the answer only.\n"
            f"Results: {msgspec.json.encode(results).decode()}"
        )
        try:
            completion = await self._chat.complete(prompt)
        except ChatError as error:
            log.warning("keeping the final tasks' results as the answer of run %s: %s", run_id, error)
            return None
        return completion.text
