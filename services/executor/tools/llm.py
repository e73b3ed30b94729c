"""``llm(prompt, system=None)``: one chat completion from the configured OpenAI-compatible endpoint.

The HTTP client is shared with the planner (services/llm/chat.py); here its failures become tool errors that
keep its verdict on whether another attempt can help, and its token counts go into the turn.
"""

from __future__ import annotations

from typing import Any

import msgspec

from services.executor.tools.agent import Agent
from services.executor.tools.registry import ToolArgumentsError, ToolError, ToolResult, ToolSpec
from services.llm.chat import ChatClient, ChatError


def make_llm(client: ChatClient, timeout_s: float, agent: Agent | None = None) -> ToolSpec:
    """``agent``: free-text plan tasks (the planner sends them with ``context``) run as agent steps with tools."""

    async def llm(prompt: str, system: str | None = None, context: dict[str, Any] | None = None) -> ToolResult:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ToolArgumentsError("llm: argument 'prompt' must be a non-empty string")
        if system is not None and not isinstance(system, str):
            raise ToolArgumentsError("llm: argument 'system' must be a string")
        if context is not None and agent is not None and system is None:
            return await agent.run(prompt, context)
        if context:
            # A description-only plan task: the planner passes the results of its dependencies along.
            prompt = (
                f"{prompt}\n\nResults of the tasks this one depends on (JSON): {msgspec.json.encode(context).decode()}"
            )
        try:
            completion = await client.complete(prompt, system)
        except ChatError as error:
            raise ToolError(f"llm: {error}", retryable=error.retryable) from None
        return ToolResult(
            value=completion.text,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            model=completion.model,
        )

    # The tool's own timeout leaves room for the HTTP timeout to fire first, with the clearer message.
    return ToolSpec(
        name="llm",
        fn=llm,
        description="Ask the configured language model; optional system prompt and results of earlier tasks.",
        timeout_s=timeout_s + 5 if agent is None else agent.budget_s(timeout_s),
    )
