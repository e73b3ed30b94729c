from __future__ import annotations

import pytest

from services.executor.tools import ToolArgumentsError, ToolError, ToolRegistry, run_tool
from services.executor.tools.http_get import make_http_get
from tests.support.openai_server import LocalServer


def http_registry(max_chars: int = 20_000) -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(make_http_get(["127.0.0.1"], timeout_s=5, max_chars=max_chars))
    return registry


async def test_returns_truncated_text_when_host_is_allowed(local_server: LocalServer) -> None:
    result = await run_tool(http_registry(max_chars=10), "http_get", {"url": f"{local_server.base_url}/page"})
    assert result.value == "x" * 10


async def test_follows_redirect_when_it_stays_on_allowed_hosts(local_server: LocalServer) -> None:
    result = await run_tool(http_registry(), "http_get", {"url": f"{local_server.base_url}/hop"})
    assert result.value == "x" * 100


async def test_refuses_redirect_when_it_leads_to_a_host_not_allowed(local_server: LocalServer) -> None:
    with pytest.raises(ToolArgumentsError, match="'localhost' is not on the allowlist"):
        await run_tool(http_registry(), "http_get", {"url": f"{local_server.base_url}/escape"})


@pytest.mark.parametrize("url", ["http://example.org/", "file:///etc/passwd", "ftp://127.0.0.1/x"])
async def test_refuses_url_when_host_or_scheme_is_not_allowed(url: str) -> None:
    with pytest.raises(ToolArgumentsError, match="'url'|allowlist"):
        await run_tool(http_registry(), "http_get", {"url": url})


async def test_raises_non_retryable_error_when_page_is_missing(local_server: LocalServer) -> None:
    with pytest.raises(ToolError, match="HTTP 404") as caught:
        await run_tool(http_registry(), "http_get", {"url": f"{local_server.base_url}/missing"})
    assert caught.value.retryable is False
