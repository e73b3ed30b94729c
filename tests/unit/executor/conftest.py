from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.executor.tools import ToolRegistry, ToolSettings, build_registry
from services.executor.tools.knowledge_base import KnowledgeBase
from tests.support.openai_server import LocalServer


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


@pytest.fixture(scope="session")
def registry() -> ToolRegistry:
    # No simulated search latency and no installed user tools: fast and hermetic.
    return build_registry(ToolSettings(kb_latency_s=0.0), entry_point_group=None)


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server
