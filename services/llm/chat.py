"""One chat completion from an OpenAI-compatible endpoint (``POST {base_url}/chat/completions``).

Works with OpenAI, vLLM, llama.cpp's server, Ollama's /v1 and the like. Token counts come from ``usage``.
Failures say whether another attempt can help: rate limits, server and network errors can; a bad key or an
unknown model cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from services.llm.settings import LlmSettings
from services.llm.tracing import traced_chat

RETRYABLE_STATUS = {408, 409, 425, 429}


class ChatError(Exception):
    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    model: str


class ChatClient:
    def __init__(self, settings: LlmSettings, *, temperature: float | None = None) -> None:
        """``temperature``: sent with every call (0: greedy, repeatable replies, as an evaluation wants); None: the
        endpoint's default."""
        if not settings.enabled:
            raise ValueError("llm.base_url and llm.model must both be set to call a model")
        self.url = str(settings.base_url).rstrip("/") + "/chat/completions"
        self.model = str(settings.model)
        self._headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._timeout_s = settings.timeout_s
        self._max_tokens = settings.max_tokens
        self.temperature = temperature
        self.settings = settings

    @classmethod
    def maybe(cls, settings: LlmSettings) -> ChatClient | None:
        """A client when an endpoint is configured, else None (everything that needs one says so)."""
        return cls(settings) if settings.enabled else None

    async def complete(
        self, prompt: str, system: str | None = None, *, response_format: dict[str, Any] | None = None
    ) -> Completion:
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        return await self.chat(messages, response_format=response_format)

    @traced_chat  # a `chat {model}` span with the token usage
    async def chat(
        self, messages: list[dict[str, str]], *, response_format: dict[str, Any] | None = None
    ) -> Completion:
        """One completion of a conversation; ``response_format`` asks the endpoint to enforce a JSON shape."""
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if self._max_tokens is not None:
            body["max_tokens"] = self._max_tokens
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if response_format is not None:
            body["response_format"] = response_format
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                response = await client.post(self.url, json=body, headers=self._headers)
        except httpx.HTTPError as error:
            raise ChatError(f"{self.url} unreachable: {type(error).__name__}: {error}") from None
        if response.status_code >= 400:
            retryable = response.status_code >= 500 or response.status_code in RETRYABLE_STATUS
            raise ChatError(f"HTTP {response.status_code}: {response.text[:300]}", retryable=retryable)
        try:
            data = response.json()
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ChatError(f"not a chat-completions response: {response.text[:300]}") from None
        usage = data.get("usage") or {}
        return Completion(
            text=text,
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            model=data.get("model") or self.model,
        )
