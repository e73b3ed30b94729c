"""An agent step: a plan task written as free text, run by the model with the tools it may call.

The model gets the task, the results of the tasks it depends on and the tools; each of its turns is JSON of a
schema-enforced shape: either one tool call (a tool name from the registry and that tool's arguments) or the
answer. It may call at most ``max_tool_calls`` tools; after that only an answer is accepted. Every model call and
every tool call is a step the executor records as its own TurnRecorded (operation ``chat`` or ``execute_tool``).
An endpoint that ignores the schema is taken at its word: a reply that is not a tool call is the answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from services.executor.tools.registry import Step, ToolError, ToolRegistry, ToolResult, run_tool
from services.llm.chat import ChatClient, ChatError
from services.llm.structured import TEXT, TOOL_HINTS, arguments_schema, offered, response_format

SYSTEM = """You work on one step of a larger plan. Reply with JSON only: either a tool call
{"action": "call", "tool": NAME, "args": {...}} or your final answer {"action": "answer", "answer": "..."}.
Keep the answer short: a name, a number or one sentence. When the results already answer the step, answer at once:
for the step "Which has more people, Uruguay or Paraguay?" with results {"1": 3420000, "2": 6860000} the reply is
{"action": "answer", "answer": "Paraguay"}. Tools: """
# The example's entities are not in the shipped knowledge base, so no evaluated answer can be copied from it.
STEP_PROMPT = "Step: {task}\nResults of the steps it depends on: {results}"
RESULT_CHARS = 2000  # of a tool's result shown to the model
AGENT_TOOL_TIMEOUT_S = 30.0  # per tool call inside an agent step (the tool's own limit when lower)


@dataclass
class Agent:
    client: ChatClient
    registry: ToolRegistry
    max_tool_calls: int
    tool_timeout_s: float
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    system: str = SYSTEM
    prompt: str = STEP_PROMPT  # {task} and {results}
    # Turns that must be tool calls before an answer is accepted (the ReAct baseline of `genesis eval qa`: 1).
    min_tool_calls: int = 0

    def budget_s(self, chat_timeout_s: float) -> float:
        """The longest a whole step may take: every model call and every tool call at its own limit."""
        return (self.max_tool_calls + 1) * chat_timeout_s + self.max_tool_calls * self.tool_timeout_s + 5

    def tools(self) -> dict[str, tuple[str, ...]]:
        return offered(self.registry.signatures())

    async def run(self, task: str, context: dict[str, Any]) -> ToolResult:
        tools = self.tools()
        hints = "; ".join(TOOL_HINTS.get(name, f"{name}({', '.join(params)})") for name, params in tools.items())
        results = json.dumps(context, default=str)[:RESULT_CHARS] if context else "none"
        messages = [
            {"role": "system", "content": self.system + hints},
            {"role": "user", "content": self.prompt.format(task=task, results=results)},
        ]
        steps: list[Step] = []
        calls = 0
        while True:
            offer = tools if calls < self.max_tool_calls else {}
            must_call = bool(offer) and calls < self.min_tool_calls
            reply, step = await self._think(messages, offer, answer=not must_call)
            steps.append(step)
            action = _action(reply, offer)
            if action is None:
                return _finish(_answer(reply), steps)
            name, args = action
            calls += 1
            observation, step = await self._call(name, args)
            steps.append(step)
            messages += [
                {"role": "assistant", "content": reply},
                {"role": "user", "content": f"Result of {name}: {observation[:RESULT_CHARS]}"},
            ]

    async def _think(
        self, messages: list[dict[str, str]], tools: dict[str, tuple[str, ...]], *, answer: bool = True
    ) -> tuple[str, Step]:
        started, clock = self.now(), time.perf_counter()
        schema = turn_schema(tools, answer=answer)
        try:
            completion = await self.client.chat(
                messages, response_format=response_format(self.client.settings.structured_output, schema)
            )
        except ChatError as error:
            raise ToolError(f"agent: {error}", retryable=error.retryable) from None
        step = Step(
            operation="chat",
            tool_name="llm",
            arguments=messages[-1]["content"],
            output=completion.text,
            started_at=started,
            latency_s=time.perf_counter() - clock,
            model=completion.model,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
        )
        return completion.text, step

    async def _call(self, name: str, args: dict[str, Any]) -> tuple[str, Step]:
        started, clock = self.now(), time.perf_counter()
        arguments = json.dumps(args, default=str)
        try:
            limit_s = min(self.tool_timeout_s, self.registry.get(name).timeout_s)
            result = await run_tool(self.registry, name, args, limit_s)
        except ToolError as error:  # the model sees the error and may try something else
            text = f"error: {error}"
            return text, Step("execute_tool", name, arguments, "", started, time.perf_counter() - clock, error=text)
        output = msgspec.json.encode(result.value).decode()
        return output, Step("execute_tool", name, arguments, output, started, time.perf_counter() - clock)


def turn_schema(tools: dict[str, tuple[str, ...]], *, answer: bool = True) -> dict[str, Any]:
    """One agent turn: a call of one of ``tools`` with its arguments, or (unless ``answer`` is false) the answer."""
    final = _object({"action": {"const": "answer"}, "answer": TEXT})
    calls = [
        _object({"action": {"const": "call"}, "tool": {"const": name}, "args": arguments_schema(name, parameters)})
        for name, parameters in sorted(tools.items())
    ]
    variants = [*calls, final] if answer or not calls else calls
    return {"anyOf": variants} if len(variants) > 1 else variants[0]


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _action(reply: str, tools: dict[str, tuple[str, ...]]) -> tuple[str, dict[str, Any]] | None:
    """The tool call a reply makes, if it is one of ``tools``; None when it answers (or is not JSON)."""
    try:
        turn = json.loads(reply, strict=False)  # a small model may put raw newlines inside a string
    except (ValueError, RecursionError):
        return None
    if not isinstance(turn, dict) or turn.get("action") != "call" or turn.get("tool") not in tools:
        return None
    args = turn.get("args")
    return turn["tool"], args if isinstance(args, dict) else {}


def _answer(reply: str) -> str:
    try:
        turn = json.loads(reply, strict=False)  # a small model may put raw newlines inside a string
    except (ValueError, RecursionError):
        return reply.strip()
    if isinstance(turn, dict) and isinstance(turn.get("answer"), str):
        return turn["answer"].strip()
    return reply.strip()


def _finish(answer: str, steps: list[Step]) -> ToolResult:
    chats = [step for step in steps if step.operation == "chat"]
    return ToolResult(
        value=answer,
        input_tokens=sum(step.input_tokens for step in chats),
        output_tokens=sum(step.output_tokens for step in chats),
        model=chats[-1].model if chats else None,
        steps=tuple(steps),
    )
