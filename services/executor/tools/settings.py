"""Everything the built-in tools need to know, given once when the registry is built (tools read no environment),
and the function that builds the registry from it."""

from __future__ import annotations

from pathlib import Path

import msgspec

from configs.settings import load_section
from services.executor.core.limits import TaskLimits
from services.executor.tools.agent import AGENT_TOOL_TIMEOUT_S, Agent
from services.executor.tools.calculator import make_calculator
from services.executor.tools.http_get import make_http_get
from services.executor.tools.kb_search import make_kb_search
from services.executor.tools.knowledge_base import SHIPPED_KB_DIR, KnowledgeBase
from services.executor.tools.llm import make_llm
from services.executor.tools.registry import ENTRY_POINT_GROUP, ToolRegistry
from services.executor.tools.sleep import make_sleep
from services.executor.tools.sql import SqlLimits, make_sql, open_database
from services.llm.chat import ChatClient
from services.llm.settings import LlmSettings
from streams.blobs import BlobStore, open_blob_store


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
    # A task's arguments and its result, as JSON, at most this many bytes; a larger result fails its task with
    # the reason, or with claim_check on is stored in blob_store and travels by reference.
    max_argument_bytes: int = 524_288
    max_result_bytes: int = 524_288
    claim_check: bool = False
    # A folder every executor can reach, or s3://bucket/prefix of an S3-compatible store (content-addressed).
    blob_store: str = ".genesis/blobs"
    # An S3-compatible endpoint (MinIO, Ceph) for an s3:// blob_store; None: AWS, or boto3's own configuration.
    blob_store_endpoint: str | None = None
    # Per sql call: DuckDB's memory and thread limits, and a time limit that interrupts the query.
    sql_memory_limit: str = "256MB"
    sql_threads: int = 2
    sql_timeout_s: float = 10.0

    def limits(self) -> TaskLimits:
        return TaskLimits(
            max_argument_bytes=self.max_argument_bytes,
            max_result_bytes=self.max_result_bytes,
            claim_check=self.claim_check,
        )

    def open_blobs(self) -> BlobStore | None:
        """The blob store when the claim check is on; None otherwise."""
        return open_blob_store(self.blob_store, endpoint_url=self.blob_store_endpoint) if self.claim_check else None


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
    sql_limits = SqlLimits(
        memory_limit=settings.sql_memory_limit, threads=settings.sql_threads, timeout_s=settings.sql_timeout_s
    )
    registry.register(make_sql(open_database(database, kb, sql_limits), sql_limits))
    if llm is not None and llm.enabled:
        client = ChatClient(llm)
        agent = Agent(client, registry, llm.agent_max_tool_calls, AGENT_TOOL_TIMEOUT_S)
        registry.register(make_llm(client, llm.timeout_s, agent))
    if settings.http_allowlist:
        registry.register(
            make_http_get(settings.http_allowlist, timeout_s=settings.http_timeout_s, max_chars=settings.http_max_chars)
        )
    if entry_point_group is not None:
        registry.load_entry_points(entry_point_group)
    return registry
