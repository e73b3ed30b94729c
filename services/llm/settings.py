"""The OpenAI-compatible endpoint shared by the planner (plans from queries, answer synthesis) and the llm tool."""

from __future__ import annotations

from typing import Literal

import msgspec

from configs.settings import load_section


class LlmSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # Both must be set for anything to call a model, e.g. http://127.0.0.1:8000/v1 and a model name.
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout_s: float = 60.0
    # The most tokens one model call may write (a per-call budget); null: the endpoint's own limit.
    max_tokens: int | None = None
    # How a plan's shape is enforced: json_schema (OpenAI, vLLM), json_object (llama.cpp's server: a schema inside
    # response_format), or none (plain text, the parser's error fed back for up to plan_retries more tries).
    structured_output: Literal["json_schema", "json_object", "none"] = "json_schema"
    plan_retries: int = 2
    # An agent step (a free-text plan task) may call at most this many tools before it answers.
    agent_max_tool_calls: int = 3
    # The model shipped in the local-llm extra, served by `genesis llm serve` (and by `genesis up` when base_url
    # is null): its name, loopback port, context size, CPU threads and chat template (null: the GGUF's own).
    local_model: str = "smollm2"
    local_port: int = 8088  # 0: any free port (`genesis up` tells the services which)
    local_ctx: int = 4096
    local_threads: int = 1
    local_chat_format: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.model)


def load_llm_settings() -> LlmSettings:
    return load_section("llm", LlmSettings)
