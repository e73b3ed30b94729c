from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from services.executor.tools import ToolArgumentsError, ToolError, ToolRegistry, ToolTimeoutError, run_tool
from services.executor.tools.knowledge_base import KnowledgeBase
from services.executor.tools.sql import make_sql, open_database


async def sql(registry: ToolRegistry, query: str, timeout_s: float | None = None) -> object:
    return (await run_tool(registry, "sql", {"query": query}, timeout_s)).value


async def test_returns_a_bare_value_when_query_selects_one_cell(registry: ToolRegistry) -> None:
    assert await sql(registry, "SELECT population FROM countries WHERE name = 'France'") == 68_170_000


async def test_returns_rows_as_dicts_when_query_selects_several(registry: ToolRegistry) -> None:
    rows = await sql(registry, "SELECT title, year FROM films WHERE director = 'James Cameron' ORDER BY year")
    assert rows == [
        {"title": "Titanic", "year": 1997},
        {"title": "Avatar", "year": 2009},
        {"title": "Avatar: The Way of Water", "year": 2022},
    ]


async def test_accepts_query_when_it_starts_with_with(registry: ToolRegistry) -> None:
    query = "WITH big AS (SELECT * FROM countries WHERE population > 1e9) SELECT count(*) FROM big"
    assert await sql(registry, query) == 2


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM countries",
        "DROP TABLE films",
        "INSERT INTO films (title) VALUES ('x')",
        "WITH x AS (SELECT 1) DELETE FROM countries",
        "SELECT 1; DROP TABLE films",
        "ATTACH 'other.db'",
        "COPY countries TO 'out.csv'",
        "SET enable_external_access = true",
    ],
)
async def test_refuses_query_when_it_is_not_a_single_select(registry: ToolRegistry, query: str) -> None:
    with pytest.raises(ToolArgumentsError, match="'query'"):
        await sql(registry, query)
    assert await sql(registry, "SELECT count(*) FROM films") >= 40


async def test_refuses_file_access_when_select_reads_a_file(registry: ToolRegistry) -> None:
    with pytest.raises(ToolError, match="file system operations are disabled"):
        await sql(registry, "SELECT * FROM read_text('/etc/hostname')")


async def test_stops_query_when_it_runs_past_its_timeout(registry: ToolRegistry) -> None:
    with pytest.raises(ToolTimeoutError):
        await sql(registry, "SELECT count(*) FROM range(100000000000) a", timeout_s=0.05)
    assert await sql(registry, "SELECT 1") == 1


async def test_opens_database_read_only_when_a_file_is_configured(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "sales.duckdb"
    with duckdb.connect(str(path)) as writer:
        writer.execute("CREATE TABLE sales AS SELECT 42 AS amount")
    registry = ToolRegistry()
    registry.register(make_sql(open_database(path, kb)))
    assert await sql(registry, "SELECT amount FROM sales") == 42
    with pytest.raises(ToolArgumentsError):
        await sql(registry, "UPDATE sales SET amount = 0")
