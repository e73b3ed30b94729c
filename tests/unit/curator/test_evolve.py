import random

import pytest

from services.curator.core.compose import Composer, SourcePool
from services.curator.core.evolve import elimination_reason, says_equal
from services.curator.evolve_llm import LlmHardExampleMaker
from services.llm.chat import ChatClient, ChatError
from services.llm.settings import LlmSettings
from tests.unit.curator.openai_stub import OpenAiStub

SOURCES = [
    {
        "id": f"s{i}",
        "agent": "analyst",
        "difficulty": "easy",
        "messages": [
            {"role": "system", "content": "You are the analyst agent."},
            {"role": "user", "content": f"What was revenue on day {i}?"},
            {"role": "assistant", "content": f"Revenue on day {i} was {i * 100} dollars."},
        ],
    }
    for i in range(5)
]


@pytest.fixture
def stub():
    with OpenAiStub() as server:
        yield server


def maker_for(stub: OpenAiStub) -> LlmHardExampleMaker:
    return LlmHardExampleMaker(ChatClient(LlmSettings(base_url=stub.url, model="test-model")))


def test_evolved_example_built_from_rewrites_and_answer_when_checks_pass(stub):
    maker = maker_for(stub)
    record = maker(SourcePool(SOURCES), random.Random(0))
    assert record["difficulty"] == "hard" and record["agent"] == "analyst"
    assert record["id"].startswith("evolved-") and record["evolved_from"] in {s["id"] for s in SOURCES}
    system, user, assistant = record["messages"]
    assert system == {"role": "system", "content": "You are the analyst agent."}
    assert user["content"].count("three dependent steps") == 2  # two rounds of in-depth evolving
    assert assistant["content"] == stub.answer
    # two rewrites, one answer under the source's system prompt, one equality judgement
    assert len(stub.requests) == 4
    assert stub.requests[2]["messages"][0] == {"role": "system", "content": "You are the analyst agent."}
    assert maker.evolved == 1 and maker.composed == 0


def test_composition_used_instead_when_the_judge_finds_no_gain(stub):
    stub.judgement = "Equal"
    maker = maker_for(stub)
    record = maker(SourcePool(SOURCES), random.Random(0))
    assert "composed_from" in record
    assert maker.eliminated == {"rewrite asks for nothing more than the original": 1}


def test_request_retried_when_server_is_overloaded(stub, monkeypatch):
    monkeypatch.setattr("services.curator.evolve_llm.asyncio.sleep", _no_wait)
    stub.failures_before_success = 2
    assert maker_for(stub)(SourcePool(SOURCES), random.Random(0))["id"].startswith("evolved-")


def test_error_raised_when_server_keeps_failing(stub, monkeypatch):
    monkeypatch.setattr("services.curator.evolve_llm.asyncio.sleep", _no_wait)
    stub.failures_before_success = 10
    with pytest.raises(ChatError, match="HTTP 503"):
        maker_for(stub)(SourcePool(SOURCES), random.Random(0))


async def _no_wait(seconds: float) -> None:
    return None


@pytest.mark.parametrize(
    ("evolved", "answer", "reason"),
    [
        ("What was revenue?", "It was 5.", "rewrite is empty or unchanged"),
        ("#Rewritten Request#: what was revenue by region?", "By region: ...", "rewrite copies words"),
        ("What was revenue by region and why?", "Sorry, I cannot help with that.", "short refusal"),
        ("What was revenue by region and why?", "... !!", "only punctuation"),
    ],
)
def test_pair_eliminated_with_reason_when_evol_instruct_checks_fail(evolved, answer, reason):
    assert reason in elimination_reason("What was revenue?", evolved, answer)


def test_pair_kept_when_rewrite_is_new_and_answer_substantial():
    assert elimination_reason("What was revenue?", "What was revenue by region, and why?", "North grew 5%.") is None


@pytest.mark.parametrize(("reply", "equal"), [("Not Equal", False), ("not equal.", False), ("Equal", True), ("", True)])
def test_judge_reply_read_as_equal_unless_clearly_not_equal(reply, equal):
    assert says_equal(reply) is equal


def test_composer_refuses_when_pool_is_too_small():
    with pytest.raises(ValueError, match="at least 3"):
        Composer()(SourcePool(SOURCES[:2]), random.Random(0))
