"""Wires one planner process from its configuration (read once, here)."""

from __future__ import annotations

from faststream import FastStream

from configs.settings import project_path
from schemas import new_event_id, utc_now
from services.executor.tools import build_registry, load_tool_settings
from services.llm.chat import ChatClient
from services.llm.settings import load_llm_settings
from services.planner.app import Planner
from services.planner.intake import Intake, read_prompt_template
from services.planner.settings import load_planner_settings
from services.planner.synthesis import AnswerSynthesis
from services.runtime.service import ServiceContext


def build(name: str) -> FastStream:
    context = ServiceContext.create(name)
    settings = load_planner_settings()
    llm = load_llm_settings()
    chat = ChatClient.maybe(llm)
    # The planner validates tool names and positional arguments against what the executors will run.
    registry = build_registry(load_tool_settings(), llm=llm)
    intake = Intake(
        known_tools=registry.names(),
        signatures=registry.signatures(),
        max_tasks=settings.max_tasks,
        chat=chat,
        prompt_template=read_prompt_template(project_path(settings.prompt_file)),
    )
    planner = Planner(
        context.broker,
        context.catalogue,
        bootstrap=context.bootstrap,
        settings=settings,
        intake=intake,
        synthesis=AnswerSynthesis(chat, enabled=settings.synthesize_answer),
        name=context.instance,
        now=utc_now,
        new_id=new_event_id,
        on_ready=context.heartbeat.start,
    )
    context.heartbeat.report(lambda: {"runs": len(planner.runs), "policy_version": planner.policy.version})
    app = FastStream(context.broker)
    app.on_startup(context.ensure_topics)
    app.after_startup(planner.start)
    app.on_shutdown(planner.stop)
    app.on_shutdown(context.heartbeat.stop)
    return app
