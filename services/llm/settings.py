"""The OpenAI-compatible endpoint shared by the planner (plans from queries, answer synthesis) and the llm tool."""

from __future__ import annotations

import msgspec

from configs.settings import load_section


class LlmSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # Both must be set for anything to call a model, e.g. http://127.0.0.1:8000/v1 and a model name.
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout_s: float = 60.0
    max_tokens: int | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.model)


def load_llm_settings() -> LlmSettings:
    return load_section("llm", LlmSettings)
