"""Wires one planner process from its configuration (read once, here)."""

from __future__ import annotations

from faststream import FastStream

from configs.settings import project_path
from schemas import new_event_id, utc_now
from services.llm.chat import ChatClient
from services.llm.settings import load_llm_settings
from services.planner.app import Planner
from services.planner.intake import Intake, read_prompt_template
from services.planner.settings import intake_limits, load_planner_settings
from services.planner.synthesis import AnswerSynthesis
from services.planner.tools import planner_tools
from services.runtime.collector import tune_for_dispatch
from services.runtime.observe import observe
from services.runtime.service import ServiceContext, StartRefused
from streams.admin import TopologyError, check_copartitioned


def build(name: str) -> FastStream:
    context = ServiceContext.create(name)
    settings = load_planner_settings()
    llm = load_llm_settings()
    chat = ChatClient.maybe(llm)
    # The planner validates tool names and positional arguments against what the executors will run.
    tools = planner_tools(llm_enabled=llm.enabled)
    intake = Intake(
        known_tools=tuple(tools),
        signatures=tools,
        limits=intake_limits(settings),
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
        on_fatal=lambda error: stop_failed(error),
        kafka=context.kafka,
    )
    context.heartbeat.report(lambda: {"runs": len(planner.runs), "policy_version": planner.policy.version})
    app = FastStream(context.broker)
    observe(app, context, service="planner", metrics_port=settings.metrics_port)
    for loop in ("consume", "flush", "tick"):
        context.heartbeat.watch(f"planner {loop} loop", lambda loop=loop: planner.loops.healthy(loop))
    context.heartbeat.report(planner.loops.report)
    fatal: list[BaseException] = []

    def stop_failed(error: BaseException) -> None:
        fatal.append(error)
        app.exit()

    async def exit_non_zero() -> None:
        if fatal:  # a loop kept failing: exit 1, so that the supervisor restarts the planner
            raise SystemExit(f"planner stopped: a background loop kept failing: {fatal[0]}")

    async def check_topology() -> None:
        # Before the consumer joins: with unequal counts a run's inputs and journal would live on different planners.
        try:
            await check_copartitioned(context.bootstrap, context.catalogue)
        except TopologyError as error:
            raise StartRefused(f"planner refuses to start: {error}") from None

    app.on_startup(context.ensure_topics)
    app.on_startup(check_topology)
    app.after_startup(planner.start)
    app.after_startup(tune_for_dispatch)
    app.on_shutdown(planner.stop)
    app.on_shutdown(context.heartbeat.stop)
    app.after_shutdown(exit_non_zero)
    return app
