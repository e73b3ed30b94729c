"""From a RunRequested to a validated plan: a structured plan, plan text, or a query the LLM plans for.

Two stages, so the planner's input handler never waits on a model: ``accept`` checks the request's bounds and
parses a plan it brings (no I/O); a query instead needs ``draft`` (the LLM call, run off the handler) and then
``accept_draft`` on the text the model wrote.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path

from schemas import Plan, Policy, RunRequested, TurnRecorded
from services.llm.chat import ChatClient
from services.llm.planning import Drafted, draft_plan, plan_schema, planning_turns
from services.planner.core.errors import PlanError
from services.planner.core.limits import IntakeLimits, check_request
from services.planner.core.parse import ParsedPlan, Signatures
from services.planner.core.validate import load_plan, validate_plan


class Intake:
    def __init__(
        self,
        *,
        known_tools: Collection[str],
        signatures: Signatures | None,
        limits: IntakeLimits,
        chat: ChatClient | None,
        prompt_template: str,
    ) -> None:
        self._known_tools = known_tools
        self._signatures = signatures
        self._limits = limits
        self._chat = chat
        self._default_prompt = prompt_template
        self._planning_turns: dict[str, list[TurnRecorded]] = {}

    def accept(self, request: RunRequested) -> ParsedPlan | None:
        """The request's plan, bounded, parsed and validated; None when it is a query the LLM must plan first.
        PlanError names what is wrong and where."""
        check_request(request, self._limits)
        if request.plan is not None:
            validate_plan(request.plan, **self._checks(request))
            return ParsedPlan(plan=request.plan, lines={})
        if request.plan_text is not None:
            return load_plan(request.plan_text, signatures=self._signatures, **self._checks(request))
        if request.query is not None:
            if self._chat is None:
                raise PlanError("a query needs an LLM to plan it: set llm.base_url and llm.model, or send a plan")
            return None
        raise PlanError("the request has no plan, plan_text or query")

    async def draft(self, request: RunRequested, policy: Policy) -> str:
        """The plan text the LLM writes for the request's query (the slow stage: one model call)."""
        if self._chat is None or request.query is None:
            raise PlanError("a query needs an LLM to plan it: set llm.base_url and llm.model, or send a plan")
        tools = self._known_tools if request.allowed_tools is None else request.allowed_tools
        template = policy.prompt_template or self._default_prompt
        prompt = template.replace("{user_query}", request.query).replace("{tools}", ", ".join(sorted(tools)))
        # The plan's shape is enforced by a schema (services/llm/planning.py); an invalid plan is retried with
        # the parser's error, and the last text is returned for accept_draft to accept or reject with the reason.
        signatures = {name: tuple((self._signatures or {}).get(name, ())) for name in tools}
        drafted = await draft_plan(
            self._chat,
            prompt,
            tools=tuple(tools),
            schema=plan_schema(signatures, self._limits.max_tasks),
            style=self._chat.settings.structured_output,
            retries=self._chat.settings.plan_retries,
            check=lambda text: self.accept_draft(request, text),
        )
        self._planning_turns[request.run_id] = planning_turns(request.run_id, drafted)
        return drafted.text

    @property
    def has_model(self) -> bool:
        return self._chat is not None

    async def draft_subplan(
        self, prompt: str, allowed_tools: Collection[str] | None, *, check: Callable[[Plan], object] | None = None
    ) -> Drafted:
        """The sub-plan the LLM writes in place of a task that failed for good (re-planning, see
        services/planner/replanning.py): drafted like a query's plan, with the same schema, retries and checks,
        and ``check`` (raises PlanError) on top. PlanError when the model cannot be reached; the text may still
        fail ``accept_subplan``."""
        if self._chat is None:
            raise PlanError("re-planning needs an LLM: set llm.base_url and llm.model")
        tools = self._known_tools if allowed_tools is None else allowed_tools
        signatures = {name: tuple((self._signatures or {}).get(name, ())) for name in tools}
        extra = check or (lambda plan: None)
        return await draft_plan(
            self._chat,
            prompt,
            tools=tuple(tools),
            schema=plan_schema(signatures, self._limits.max_tasks),
            style=self._chat.settings.structured_output,
            retries=self._chat.settings.plan_retries,
            check=lambda text: extra(self.accept_subplan(text, allowed_tools)),
        )

    def accept_subplan(self, text: str, allowed_tools: Collection[str] | None) -> Plan:
        """A sub-plan's text parsed and validated against the limits and tools of a request; PlanError if not."""
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self._limits.max_plan_bytes:
            limit = self._limits.max_plan_bytes
            raise PlanError(f"the sub-plan is {size} bytes, over planner.max_plan_bytes ({limit})")
        checks = {
            "known_tools": self._known_tools,
            "max_tasks": self._limits.max_tasks,
            "max_arg_bytes": self._limits.max_arg_bytes,
            "llm_available": self._chat is not None,
            "allowed_tools": allowed_tools,
        }
        return load_plan(text, signatures=self._signatures, **checks).plan

    def take_planning_turns(self, run_id: str) -> list[TurnRecorded]:
        """The model calls that planned ``run_id``, as turns (task id ``plan``), once."""
        return self._planning_turns.pop(run_id, [])

    def accept_draft(self, request: RunRequested, text: str) -> ParsedPlan:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self._limits.max_plan_bytes:
            raise PlanError(
                f"the LLM's plan is {size} bytes, over planner.max_plan_bytes ({self._limits.max_plan_bytes})"
            )
        return load_plan(text, signatures=self._signatures, **self._checks(request))

    async def plan(self, request: RunRequested, policy: Policy) -> ParsedPlan:
        """Both stages in one call, for callers that may wait (``genesis plan show``, tests)."""
        parsed = self.accept(request)
        if parsed is not None:
            return parsed
        return self.accept_draft(request, await self.draft(request, policy))

    def _checks(self, request: RunRequested) -> dict:
        return {
            "known_tools": self._known_tools,
            "max_tasks": self._limits.max_tasks,
            "max_arg_bytes": self._limits.max_arg_bytes,
            "llm_available": self._chat is not None,
            "allowed_tools": request.allowed_tools,
        }


def read_prompt_template(path: Path) -> str:
    template = path.read_text()
    if not re.search(r"\{user_query\}", template):
        raise ValueError(f"{path}: the planning prompt must contain {{user_query}}")
    return template
