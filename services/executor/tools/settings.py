"""Everything the built-in tools need to know, given once when the registry is built (tools read no environment),
and the function that builds the registry from it."""

from __future__ import annotations

from pathlib import Path

import msgspec

from configs.settings import load_section
from services.executor.tools.calculator import make_calculator
from services.executor.tools.http_get import make_http_get
from services.executor.tools.kb_search import make_kb_search
from services.executor.tools.knowledge_base import SHIPPED_KB_DIR, KnowledgeBase
from services.executor.tools.llm import make_llm
from services.executor.tools.registry import ENTRY_POINT_GROUP, ToolRegistry
from services.executor.tools.sleep import make_sleep
from services.executor.tools.sql import make_sql, open_database
from services.llm.chat import ChatClient
from services.llm.settings import LlmSettings


class ToolSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # Directory of knowledge-base JSON files; None: the one shipped in services/executor/kb.
    kb_path: str | None = None
    # Simulated latency of a kb_search call, as a real search API would have; 0 turns it off.
    kb_latency_s: float = 0.25
    # DuckDB file opened read-only by the sql tool; None: an in-memory database holding the knowledge base.
    sql_database: str | None = None
    # Hosts http_get may fetch from; empty: the http_get tool is not registered at all.
    http_allowlist: tuple[str, ...] = ()
    http_timeout_s: float = 10.0
    http_max_chars: int = 20_000


def load_tool_settings() -> ToolSettings:
    """The ``tools`` section of the config file, with GENESIS_TOOLS_<KEY> environment overrides."""
    return load_section("tools", ToolSettings)


def build_registry(
    settings: ToolSettings,
    *,
    llm: LlmSettings | None = None,
    entry_point_group: str | None = ENTRY_POINT_GROUP,
) -> ToolRegistry:
    """The built-in tools (``llm`` only when an endpoint is configured), then the user tools of
    ``entry_point_group`` (None leaves them out, for tests)."""
    kb = KnowledgeBase.load(Path(settings.kb_path) if settings.kb_path else SHIPPED_KB_DIR)
    registry = ToolRegistry()
    registry.register(make_calculator())
    registry.register(make_sleep())
    registry.register(make_kb_search(kb, settings.kb_latency_s))
    database = Path(settings.sql_database) if settings.sql_database else None
    registry.register(make_sql(open_database(database, kb)))
    if llm is not None and llm.enabled:
        registry.register(make_llm(ChatClient(llm), llm.timeout_s))
    if settings.http_allowlist:
        registry.register(
            make_http_get(settings.http_allowlist, timeout_s=settings.http_timeout_s, max_chars=settings.http_max_chars)
        )
    if entry_point_group is not None:
        registry.load_entry_points(entry_point_group)
    return registry
