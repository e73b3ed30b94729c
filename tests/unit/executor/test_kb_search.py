from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services.executor.tools import ToolArgumentsError, ToolError, ToolRegistry, run_tool
from services.executor.tools.kb_search import make_kb_search
from services.executor.tools.knowledge_base import KnowledgeBase, KnowledgeBaseError


async def search(registry: ToolRegistry, query: str) -> object:
    return (await run_tool(registry, "kb_search", {"query": query})).value


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("population of France", 68_170_000),
        ("France population", 68_170_000),
        ("How many people live in Japan?", 124_517_000),
        ("area of the United States", 9_833_520),
        ("capital of Australia", "Canberra"),
        ("What currency does Poland use?", "Polish złoty"),
        ("official language of Canada", "English and French"),
        ("director of Inception", "Christopher Nolan"),
        ("Who directed The Matrix?", "Lana Wachowski and Lilly Wachowski"),
        ("runtime of Dark Knight", 152),
        ("when was Jaws released", 1975),
        ("Schindler's List box office", 322_000_000),
    ],
)
async def test_returns_the_value_when_query_names_entity_and_attribute(
    registry: ToolRegistry, query: str, expected: object
) -> None:
    assert await search(registry, query) == expected


async def test_returns_a_number_when_attribute_is_numeric(registry: ToolRegistry) -> None:
    assert isinstance(await search(registry, "box office of Titanic"), int)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("box office of Avatar: The Way of Water", 2_320_000_000),
        ("box office of Avatar", 2_924_000_000),
        ("year of Star Wars: The Force Awakens", 2015),
        ("year of Star Wars", 1977),
    ],
)
async def test_picks_the_longest_title_when_titles_share_words(
    registry: ToolRegistry, query: str, expected: int
) -> None:
    assert await search(registry, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [("capital of Colombia", "Bogotá"), ("area of Turkiye", 783_562), ("population of the UK", 68_350_000)],
)
async def test_matches_entity_when_query_uses_alias_or_drops_accents(
    registry: ToolRegistry, query: str, expected: object
) -> None:
    assert await search(registry, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("country whose capital is Nairobi", "Kenya"),
        ("Which country has the capital Hanoi?", "Vietnam"),
        ("population of the country whose capital is Nairobi", 55_101_000),
        ("capital of Singapore", "Singapore"),
    ],
)
async def test_identifies_country_when_query_names_its_capital(
    registry: ToolRegistry, query: str, expected: object
) -> None:
    assert await search(registry, query) == expected


async def test_returns_fact_sentence_when_query_names_no_attribute(registry: ToolRegistry) -> None:
    sentence = await search(registry, "Tell me about Inception")
    assert sentence.startswith("Inception is a film:")
    assert "director Christopher Nolan" in sentence and "runtime 148 minutes" in sentence


async def test_raises_non_retryable_error_when_entity_is_unknown(registry: ToolRegistry) -> None:
    with pytest.raises(ToolError, match="no country or film .* 'population of Atlantis'") as caught:
        await search(registry, "population of Atlantis")
    assert caught.value.retryable is False


async def test_names_the_argument_when_query_is_empty(registry: ToolRegistry) -> None:
    with pytest.raises(ToolArgumentsError, match="'query'"):
        await search(registry, "  ")


async def test_waits_the_simulated_latency_when_configured(kb: KnowledgeBase) -> None:
    spec = make_kb_search(kb, latency_s=0.05)
    started = time.perf_counter()
    assert await spec.fn(query="capital of Peru") == "Lima"
    assert time.perf_counter() - started >= 0.05


def test_ships_enough_real_facts_when_loaded(kb: KnowledgeBase) -> None:
    tables = kb.table_rows()
    assert len(tables["countries"]) >= 60 and len(tables["films"]) >= 40
    for table, rows in tables.items():
        names = [row.get("name", row.get("title")) for row in rows]
        assert len(names) == len(set(names)), f"duplicate rows in {table}"
    assert all(row["population"] > 0 and row["area_km2"] > 0 for row in tables["countries"])
    assert all(1900 < row["year"] <= 2025 and row["runtime_min"] > 0 for row in tables["films"])


def test_names_file_and_row_when_a_row_lacks_an_attribute(tmp_path: Path) -> None:
    broken = {
        "kind": "city",
        "table": "cities",
        "about": "test",
        "name_field": "name",
        "name_words": ["city"],
        "attributes": {"population": {"label": "population", "words": ["population"]}},
        "rows": [{"name": "Lyon"}],
    }
    (tmp_path / "cities.json").write_text(json.dumps(broken))
    with pytest.raises(KnowledgeBaseError, match="cities.json: row 0 lacks population"):
        KnowledgeBase.load(tmp_path)
