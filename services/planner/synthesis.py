"""Optional answer synthesis: with an LLM configured and switched on, the answer is written from the observations."""

from __future__ import annotations

import logging

import msgspec

from schemas import Event, RunFinished
from services.llm.chat import ChatClient, ChatError

log = logging.getLogger(__name__)


class AnswerSynthesis:
    def __init__(self, chat: ChatClient | None, *, enabled: bool) -> None:
        if enabled and chat is None:
            raise ValueError("planner.synthesize_answer needs the llm section (base_url and model)")
        self._chat = chat if enabled else None

    async def apply(self, event: Event) -> Event:
        """A succeeded or partial RunFinished gets a synthesised answer; every other event passes unchanged."""
        if self._chat is None or not isinstance(event, RunFinished) or event.status not in ("succeeded", "partial"):
            return event
        prompt = (
            "Answer the request from these task results. Reply with the answer only.\n"
            f"Results: {msgspec.json.encode(event.observations).decode()}"
        )
        try:
            completion = await self._chat.complete(prompt)
        except ChatError as error:
            log.warning("keeping the final task's result as the answer of run %s: %s", event.run_id, error)
            return event
        return msgspec.structs.replace(event, answer=completion.text)
