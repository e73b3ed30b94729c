"""Answer synthesis, the stage: the answer the model writes from the task results, and its model call as a turn of
the run with its tokens (which the run counts). Against a real HTTP server on loopback that speaks the
chat-completions API (tests/support/openai_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.llm.chat import ChatClient
from services.llm.settings import LlmSettings
from services.planner.synthesis import ANSWER_TASK, AnswerSynthesis
from tests.support.openai_server import API_KEY, LocalServer


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def synthesis(server: LocalServer) -> AnswerSynthesis:
    chat = ChatClient(LlmSettings(base_url=f"{server.base_url}/v1", model="writer", api_key=API_KEY))
    return AnswerSynthesis(chat, enabled=True)


async def test_answer_comes_back_with_its_model_call_as_a_turn_of_the_run_when_the_model_writes_it(server) -> None:
    server.state.chat_reply = "Lima"
    answer = await synthesis(server).write("run-1", {"1": "the capital of Peru is Lima"})
    assert answer.text == "Lima" and answer.turn is not None
    prompt = server.state.chat_requests[0]["messages"][-1]["content"]
    turn = answer.turn
    assert (turn.run_id, turn.task_id, turn.operation, turn.tool_name, turn.model, turn.status) == (
        "run-1", ANSWER_TASK, "chat", "llm", "writer", "ok")  # fmt: skip
    assert (turn.input_tokens, turn.output_tokens) == (len(prompt.split()), 7)  # the server's usage
    assert answer.tokens == len(prompt.split()) + 7 and turn.output == "Lima" and turn.started_at is not None


async def test_no_answer_and_no_tokens_come_back_when_the_model_fails(server) -> None:
    server.state.chat_status = 500
    answer = await synthesis(server).write("run-1", {"1": 42})
    assert (answer.text, answer.turn, answer.tokens) == (None, None, 0)


async def test_no_model_is_called_when_synthesis_is_off(server) -> None:
    answer = await AnswerSynthesis(None, enabled=False).write("run-1", {"1": 42})
    assert (answer.text, answer.tokens) == (None, 0) and server.state.chat_requests == []
