"""Wires one console process from its configuration (read once, here): `genesis serve console` and `genesis console`."""

from __future__ import annotations

from deploy.local_kafka import load_local_kafka_settings
from services.console.core.plans import PlanRules
from services.console.service import ConsoleService
from services.console.settings import ConsoleSettings, load_console_settings
from services.executor.tools import build_registry, load_tool_settings
from services.llm.settings import load_llm_settings
from services.planner.settings import load_planner_settings
from services.runtime.health import Heartbeat
from services.runtime.settings import load_runtime_settings
from services.warehouse.settings import load_warehouse_settings
from streams.catalogue import Catalogue
from streams.connection import bootstrap_servers
from streams.settings import load_kafka_settings


def planner_rules() -> PlanRules:
    """The rules the planner checks plans with, from the same settings it reads."""
    llm = load_llm_settings()
    registry = build_registry(load_tool_settings(), llm=llm)
    return PlanRules(
        known_tools=registry.names(),
        signatures=registry.signatures(),
        max_tasks=load_planner_settings().max_tasks,
        llm_available=llm.enabled,
    )


def build_console(settings: ConsoleSettings | None = None, *, name: str | None = None) -> ConsoleService:
    kafka = load_kafka_settings()
    heartbeat = None
    if name is not None:  # started by `genesis up`: `genesis status` reads its health file
        runtime = load_runtime_settings()
        heartbeat = Heartbeat(runtime.run_dir, name, runtime.heartbeat_interval_s)
    return ConsoleService(
        settings or load_console_settings(),
        bootstrap=bootstrap_servers(kafka, load_local_kafka_settings()),
        catalogue=Catalogue(kafka.topic_prefix),
        kafka=kafka,
        warehouse=load_warehouse_settings(),
        rules=planner_rules(),
        heartbeat=heartbeat,
    )


def build(name: str) -> ConsoleService:
    """For `genesis serve console --name NAME` (services/cli/stack_cli.py runs ``build(name).run()``)."""
    return build_console(name=name)
