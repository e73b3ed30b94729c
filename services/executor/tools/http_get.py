"""``http_get(url)``: fetch a page's text, only from hosts on the allowlist (the tool is off when the list is empty).

Redirects are followed by hand so that every hop is checked against the allowlist: a listed host must not be
able to bounce the executor to one that is not. The text is cut at ``max_chars``.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from services.executor.tools.registry import ToolArgumentsError, ToolError, ToolSpec

MAX_REDIRECTS = 5


class HostGuard:
    def __init__(self, allowlist: Iterable[str]) -> None:
        self.hosts = frozenset(host.lower().strip() for host in allowlist if host.strip())

    def check(self, url: httpx.URL) -> None:
        if url.scheme not in {"http", "https"}:
            raise ToolArgumentsError(f"http_get: argument 'url' must be http or https, got {url.scheme or 'none'}")
        if url.host.lower() not in self.hosts:
            raise ToolArgumentsError(
                f"http_get: host {url.host!r} is not on the allowlist ({', '.join(sorted(self.hosts))})"
            )


def make_http_get(allowlist: Iterable[str], *, timeout_s: float = 10.0, max_chars: int = 20_000) -> ToolSpec:
    guard = HostGuard(allowlist)

    async def http_get(url: str) -> str:
        if not isinstance(url, str):
            raise ToolArgumentsError("http_get: argument 'url' must be a string")
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as error:
            raise ToolArgumentsError(f"http_get: argument 'url' is not a URL: {error}") from None
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                guard.check(target)
                try:
                    response = await client.get(target)
                except httpx.HTTPError as error:
                    raise ToolError(f"http_get: {target} failed: {type(error).__name__}: {error}") from None
                if not response.is_redirect:
                    break
                target = target.join(response.headers["location"])
            else:
                raise ToolError(f"http_get: more than {MAX_REDIRECTS} redirects from {url}", retryable=False)
        if response.status_code >= 400:
            retryable = response.status_code >= 500 or response.status_code == 429
            raise ToolError(f"http_get: HTTP {response.status_code} from {target}", retryable=retryable)
        return response.text[:max_chars]

    return ToolSpec(
        name="http_get",
        fn=http_get,
        description=f"Fetch the text of a web page from an allowed host: {', '.join(sorted(guard.hosts))}.",
        timeout_s=timeout_s + 5,
    )
