from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from streams.admin import ensure_topics
from streams.catalogue import Catalogue
from tests.support.kafka import real_kafka


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Fast unit tests first, then wiring, then the tests that need a real broker.
    order = {"unit": 0, "wiring": 1, "integration": 2, "e2e": 3}
    items.sort(key=lambda item: next((rank for name, rank in order.items() if f"/{name}/" in str(item.path)), 1))


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with real_kafka(tmp_path_factory.mktemp("kafka")) as bootstrap_servers:
        yield bootstrap_servers


@pytest.fixture
def catalogue(kafka_bootstrap: str) -> Catalogue:
    """A catalogue of fresh topics for one test, created on the real broker."""
    isolated = Catalogue(prefix=f"t{uuid.uuid4().hex[:10]}")
    asyncio.run(ensure_topics(kafka_bootstrap, isolated))
    return isolated
