"""A plan from a model whose shape is enforced, not hoped for.

The endpoint is asked for JSON that matches a schema derived from the tool catalogue: tool names as constants, each
tool's arguments, and dependency ids from a fixed set. OpenAI and vLLM take it as ``response_format`` of type
``json_schema``; llama.cpp's server takes ``{"type": "json_object", "schema": ...}`` and turns it into a grammar,
so even a 135M model writes JSON of exactly this shape. The reply is converted into the JSON plan format the parser
accepts (``{"tasks": [{"id", "tool", "args", "deps"}]}``); a reply of any other shape (an endpoint that ignored the
schema) goes to the parser as written. When the plan does not validate (a cycle, a dependency on a task that does not
exist), the parser's one-line error is fed back and the model tries again, at most ``llm.plan_retries`` more times;
then the last error stands and the run is rejected with it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas import TurnRecorded
from services.llm.chat import ChatClient, ChatError, Completion
from services.llm.structured import NOT_OFFERED, TEXT, TOOL_HINTS, arguments_schema, offered, response_format
from services.planner.core.errors import PlanError

PLANNING_TASK = "plan"  # the task id of the planning model calls' turns
TURN_TEXT_CHARS = 4000  # of a plan kept in its turn
AGENT = "agent"  # the tool name a constrained plan uses for a free-text (agent) step
MAX_SCHEMA_TASKS = 6  # a longer plan is rarely right, and every task widens the grammar
# With a schema the reply is JSON whatever the planning prompt (the operator's or the trainer's) asks for; this
# system message says what the JSON means.
STRUCTURED_SYSTEM = """Write the plan as JSON: {"tasks": [...]}. Each task is a tool call
{"tool": NAME, "args": {...}, "deps": [...]} or an "agent" step {"tool": "agent", "description": "what to work out",
"deps": [...]}. Tasks are numbered from 1 in the order written; "deps" lists the numbers (as text) of earlier tasks
whose results a task needs. Independent lookups have no deps, so they run in parallel. End with an agent step that
answers the request from the results it depends on. For example, for "Which country has more people, Uruguay or
Paraguay?": {"tasks": [{"tool": "kb_search", "args": {"query": "population of Uruguay"}, "deps": []}, {"tool":
"kb_search", "args": {"query": "population of Paraguay"}, "deps": []}, {"tool": "agent", "description": "Which has
more people, Uruguay or Paraguay?", "deps": ["1", "2"]}]}. Tools: """
# The example's entities are not in the shipped knowledge base: an evaluated answer cannot be copied from the prompt.


def plan_schema(tools: Mapping[str, Sequence[str]], max_tasks: int, *, answer_step: bool = False) -> dict[str, Any]:
    """The JSON schema of a plan over ``tools`` (parameter names by tool name), at most ``max_tasks`` tasks.

    The task at position n may depend only on tasks 1..n-1, so every plan of this shape is a DAG with known ids:
    one fixed-length tuple per plan length (``prefixItems``), as llama.cpp's grammar, vLLM and jsonschema read it.
    With ``answer_step`` the plan is tool calls followed by one agent step that answers (the GAP paper's shape,
    which `genesis eval qa` asks for so that every style ends with an answer the model wrote).
    """
    limit = max(1, min(max_tasks, MAX_SCHEMA_TASKS))
    positions = [_position_variants(tools, number) for number in range(1, limit + 1)]
    plans = [
        {"type": "array", "prefixItems": [{"anyOf": variants} for variants in positions[:length]], "items": False}
        for length in range(1, limit + 1)
    ]
    if answer_step:
        plans = [
            {
                "type": "array",
                "prefixItems": [
                    *({"anyOf": variants[:-1]} for variants in positions[: length - 1]),
                    _answer_variant(length),
                ],
                "items": False,
                "minItems": length,  # prefixItems alone would let the answer step be left out
            }
            for length in range(2, limit + 1)
        ]
    return {
        "type": "object",
        "properties": {"tasks": {"anyOf": plans}},
        "required": ["tasks"],
        "additionalProperties": False,
    }


def _position_variants(tools: Mapping[str, Sequence[str]], number: int) -> list[dict[str, Any]]:
    """What task ``number`` may be: a call of any tool but llm, or an agent step; its deps are earlier tasks."""
    earlier = [str(n) for n in range(1, number)]
    # "items" even where none may be: llama.cpp's grammar reads an array without "items" as any array.
    deps: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "maxItems": 0}
    if earlier:
        deps = {"type": "array", "items": {"enum": earlier}, "maxItems": len(earlier)}
    variants = [
        _task({"tool": {"const": name}, "args": arguments_schema(name, parameters), "deps": deps})
        for name, parameters in offered(tools).items()
    ]
    variants.append(_task({"tool": {"const": AGENT}, "description": TEXT, "deps": deps}))
    return variants


def _answer_variant(number: int) -> dict[str, Any]:
    """The last task of an ``answer_step`` plan: an agent step that depends on at least one earlier task."""
    earlier = [str(n) for n in range(1, number)]
    deps = {"type": "array", "items": {"enum": earlier}, "minItems": 1, "maxItems": len(earlier)}
    return _task({"tool": {"const": AGENT}, "description": TEXT, "deps": deps})


def _task(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def to_plan_text(reply: str) -> str:
    """A constrained reply as the parser's JSON plan (ids by position, agent steps as description-only tasks); any
    other reply unchanged, for the parser to read or reject."""
    try:
        document = json.loads(reply, strict=False)  # a small model may put raw newlines inside a string
    except (ValueError, RecursionError):
        return reply
    tasks = document.get("tasks") if isinstance(document, dict) else None
    constrained = all(isinstance(task, dict) and "tool" in task and "id" not in task for task in tasks or ())
    if not isinstance(tasks, list) or not constrained:
        return reply
    converted = []
    for number, task in enumerate(tasks, 1):
        entry: dict[str, Any] = {"id": str(number), "deps": task.get("deps", [])}
        if task["tool"] == AGENT:
            entry["description"] = str(task.get("description") or "").strip() or "answer from the results so far"
        else:
            entry["tool"], entry["args"] = task["tool"], task.get("args", {})
        converted.append(entry)
    return json.dumps({"tasks": converted})


def tool_list(tools: Sequence[str]) -> str:
    return "; ".join(TOOL_HINTS.get(name, name) for name in sorted(tools) if name not in NOT_OFFERED)


@dataclass
class Drafted:
    """The plan text the model settled on, and what it cost."""

    text: str
    attempts: int = 0
    completions: list[Completion] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # When each model call started (UTC) and how long it took, aligned with ``completions``.
    timings: list[tuple[datetime, float]] = field(default_factory=list)

    @property
    def first_try(self) -> bool:
        """The first plan written was runnable (each failed try leaves its reason in ``errors``)."""
        return self.attempts > 0 and not self.errors


async def draft_plan(
    chat: ChatClient,
    prompt: str,
    *,
    tools: Sequence[str],
    schema: dict[str, Any],
    style: str,
    retries: int,
    check: Callable[[str], object],
) -> Drafted:
    """Ask, convert and ``check`` (parse and validate: raises PlanError); on a PlanError feed the one-line reason
    back and ask again, at most ``retries`` more times. The returned text is the last one written: it passes
    ``check`` unless every try failed (``errors`` then holds each reason, the last one for the rejection)."""
    system = [] if style == "none" else [{"role": "system", "content": STRUCTURED_SYSTEM + tool_list(tools)}]
    messages = [*system, {"role": "user", "content": prompt}]
    drafted = Drafted(text="")
    for _ in range(retries + 1):
        started, clock = datetime.now(UTC), time.perf_counter()
        try:
            completion = await chat.chat(messages, response_format=response_format(style, schema))
        except ChatError as error:
            raise PlanError(f"the LLM planner failed: {error}") from None
        drafted.attempts += 1
        drafted.completions.append(completion)
        drafted.timings.append((started, time.perf_counter() - clock))
        drafted.text = to_plan_text(completion.text)
        try:
            check(drafted.text)
        except PlanError as error:
            drafted.errors.append(str(error))
            messages += [
                {"role": "assistant", "content": completion.text},
                {"role": "user", "content": f"That plan cannot run: {error}. Write the whole plan again, fixed."},
            ]
            continue
        return drafted
    return drafted


def chat_turn(
    run_id: str,
    task_id: str,
    completion: Completion,
    *,
    started: datetime,
    latency_s: float,
    attempt: int = 1,
    error: str | None = None,
) -> TurnRecorded:
    """One model call of a run as a TurnRecorded, with its reply (clipped) and its tokens."""
    return TurnRecorded(
        run_id=run_id,
        task_id=task_id,
        attempt=attempt,
        operation="chat",
        tool_name="llm",
        model=completion.model,
        output=completion.text[:TURN_TEXT_CHARS],
        output_bytes=len(completion.text.encode()),
        started_at=started,
        latency_s=latency_s,
        status="error" if error else "ok",
        error=error,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
    )


def planning_turns(run_id: str, drafted: Drafted) -> list[TurnRecorded]:
    """Each model call of a plan as a TurnRecorded of the run (task ``plan``, attempt = the try), with its tokens."""
    return [
        chat_turn(
            run_id,
            PLANNING_TASK,
            completion,
            started=started,
            latency_s=latency_s,
            attempt=attempt,
            error=drafted.errors[attempt - 1] if attempt <= len(drafted.errors) else None,
        )
        for attempt, (completion, (started, latency_s)) in enumerate(
            zip(drafted.completions, drafted.timings, strict=True), 1
        )
    ]
