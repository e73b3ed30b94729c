from __future__ import annotations

import pytest

from services.executor.tools import ToolError, ToolRegistry, ToolResult, ToolSettings, build_registry, run_tool
from services.llm.settings import LlmSettings
from tests.support.openai_server import API_KEY, LocalServer


def llm_settings(server: LocalServer, **overrides: object) -> LlmSettings:
    values = {"base_url": f"{server.base_url}/v1", "model": "local-model", "api_key": API_KEY, "timeout_s": 5.0}
    return LlmSettings(**(values | overrides))


def registry_for(llm: LlmSettings) -> ToolRegistry:
    return build_registry(ToolSettings(kb_latency_s=0.0), llm=llm, entry_point_group=None)


async def test_returns_completion_with_tokens_when_endpoint_answers(local_server: LocalServer) -> None:
    registry = registry_for(llm_settings(local_server, max_tokens=64))
    result = await run_tool(registry, "llm", {"prompt": "what is two plus two", "system": "Be brief."})
    expected = ToolResult(value="echo: what is two plus two", input_tokens=5, output_tokens=7, model="local-model")
    assert result == expected
    (request,) = local_server.state.chat_requests
    assert request == {
        "model": "local-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "what is two plus two"},
        ],
        "max_tokens": 64,
    }


async def test_sends_only_the_user_message_when_no_system_prompt(local_server: LocalServer) -> None:
    registry = registry_for(llm_settings(local_server))
    await run_tool(registry, "llm", {"prompt": "hi"})
    assert local_server.state.chat_requests[0]["messages"] == [{"role": "user", "content": "hi"}]


async def test_raises_retryable_error_when_server_is_overloaded(local_server: LocalServer) -> None:
    local_server.state.chat_status = 503
    registry = registry_for(llm_settings(local_server))
    with pytest.raises(ToolError, match="HTTP 503") as caught:
        await run_tool(registry, "llm", {"prompt": "hi"})
    assert caught.value.retryable is True


async def test_raises_non_retryable_error_when_api_key_is_wrong(local_server: LocalServer) -> None:
    registry = registry_for(llm_settings(local_server, api_key="wrong"))
    with pytest.raises(ToolError, match="HTTP 401") as caught:
        await run_tool(registry, "llm", {"prompt": "hi"})
    assert caught.value.retryable is False


async def test_raises_retryable_error_when_endpoint_is_unreachable() -> None:
    with LocalServer() as stopped:
        settings = llm_settings(stopped)
    registry = registry_for(settings)
    with pytest.raises(ToolError, match="unreachable") as caught:
        await run_tool(registry, "llm", {"prompt": "hi"})
    assert caught.value.retryable is True


def test_leaves_llm_out_when_no_endpoint_is_configured() -> None:
    assert "llm" not in registry_for(LlmSettings(model="m")).names()
