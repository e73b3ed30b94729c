"""Optional answer synthesis: with an LLM configured and switched on, the answer is written from the task results.

A stage of its own: the planner runs it off its input handler and flush (services/planner/app.py), and the run waits
for it at most ``planner.synthesis_timeout_s`` (services/planner/core/run.py, AnswerRequested). The model call is a
turn of the run (task ``answer``), and its tokens count in the run's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from schemas import TurnRecorded
from services.llm.chat import ChatClient, ChatError
from services.llm.planning import chat_turn

log = logging.getLogger(__name__)
ANSWER_TASK = "answer"  # the task id of the answer's model call in its turn


@dataclass(frozen=True)
class Answer:
    """What the model wrote (None: it failed, and the results are the answer) and the model call, as a turn."""

    text: str | None
    turn: TurnRecorded | None = None

    @property
    def tokens(self) -> int:
        return self.turn.input_tokens + self.turn.output_tokens if self.turn is not None else 0


class AnswerSynthesis:
    def __init__(self, chat: ChatClient | None, *, enabled: bool) -> None:
        if enabled and chat is None:
            raise ValueError("planner.synthesize_answer needs the llm section (base_url and model)")
        self._chat = chat if enabled else None

    @property
    def enabled(self) -> bool:
        return self._chat is not None

    async def write(self, run_id: str, results: dict[str, Any]) -> Answer:
        """The model's answer from the task results; its text is None when the model failed (the results then are
        the answer)."""
        if self._chat is None:
            return Answer(None)
        prompt = (
            "Answer the request from these task results. Reply with the answer only.\n"
            f"Results: {msgspec.json.encode(results).decode()}"
        )
        started, began = datetime.now(UTC), time.perf_counter()
        try:
            completion = await self._chat.complete(prompt)
        except ChatError as error:
            log.warning("keeping the final tasks' results as the answer of run %s: %s", run_id, error)
            return Answer(None)
        turn = chat_turn(run_id, ANSWER_TASK, completion, started=started, latency_s=time.perf_counter() - began)
        return Answer(completion.text, turn)
