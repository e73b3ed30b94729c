"""From a RunRequested to a validated plan: a structured plan, plan text, or a query the LLM plans for."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from schemas import Policy, RunRequested
from services.llm.chat import ChatClient, ChatError
from services.planner.core.errors import PlanError
from services.planner.core.parse import ParsedPlan, Signatures
from services.planner.core.validate import load_plan, validate_plan


class Intake:
    def __init__(
        self,
        *,
        known_tools: Collection[str],
        signatures: Signatures | None,
        max_tasks: int,
        chat: ChatClient | None,
        prompt_template: str,
    ) -> None:
        self._known_tools = known_tools
        self._signatures = signatures
        self._max_tasks = max_tasks
        self._chat = chat
        self._default_prompt = prompt_template

    async def plan(self, request: RunRequested, policy: Policy) -> ParsedPlan:
        """The request's plan, parsed and validated; PlanError names what is wrong and where."""
        if request.plan is not None:
            validate_plan(request.plan, **self._limits())
            return ParsedPlan(plan=request.plan, lines={})
        if request.plan_text is not None:
            return load_plan(request.plan_text, signatures=self._signatures, **self._limits())
        if request.query is not None:
            return load_plan(
                await self._plan_text_for(request.query, policy), signatures=self._signatures, **self._limits()
            )
        raise PlanError("the request has no plan, plan_text or query")

    async def _plan_text_for(self, query: str, policy: Policy) -> str:
        if self._chat is None:
            raise PlanError("a query needs an LLM to plan it: set llm.base_url and llm.model, or send a plan")
        template = policy.prompt_template or self._default_prompt
        prompt = template.replace("{user_query}", query).replace("{tools}", ", ".join(sorted(self._known_tools)))
        try:
            completion = await self._chat.complete(prompt)
        except ChatError as error:
            raise PlanError(f"the LLM planner failed: {error}") from None
        return completion.text

    def _limits(self) -> dict:
        return {"known_tools": self._known_tools, "max_tasks": self._max_tasks, "llm_available": self._chat is not None}


def read_prompt_template(path: Path) -> str:
    template = path.read_text()
    if not re.search(r"\{user_query\}", template):
        raise ValueError(f"{path}: the planning prompt must contain {{user_query}}")
    return template
