"""The knowledge base shipped with the project: one JSON file per collection (countries, films) of real facts.

Each file says what its rows are (``kind``), the words people use for each attribute, and where its figures come
from (``about``). The same rows back ``kb_search`` and the ``sql`` tool's tables, so both tools agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

SHIPPED_KB_DIR = Path(__file__).resolve().parent.parent / "kb"


class Attribute(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    label: str
    words: list[str]
    unit: str = ""
    # Values unique to one row (a country's capital) also name that row: "the country whose capital is Nairobi".
    identifies: bool = False


class Collection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: str
    table: str
    about: str
    name_field: str
    # Words that ask for the row's name itself ("which country ...").
    name_words: list[str]
    attributes: dict[str, Attribute]
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Entity:
    name: str
    aliases: tuple[str, ...]
    facts: dict[str, Any]
    collection: Collection

    def sentence(self) -> str:
        """Every fact about the entity in one sentence, for queries that name no attribute."""
        parts = [
            f"{attribute.label} {_format(self.facts[field], attribute.unit)}"
            for field, attribute in self.collection.attributes.items()
        ]
        return f"{self.name} is a {self.collection.kind}: {'; '.join(parts)}."


def _format(value: Any, unit: str) -> str:
    # Separators make big figures readable; years and runtimes stay as written.
    text = f"{value:,}" if isinstance(value, int) and value >= 10_000 else str(value)
    return f"{text} {unit}" if unit else text


class KnowledgeBaseError(ValueError):
    """A knowledge-base file is missing, malformed, or its rows lack a declared attribute."""


@dataclass(frozen=True)
class KnowledgeBase:
    collections: tuple[Collection, ...]
    entities: tuple[Entity, ...]

    @classmethod
    def load(cls, directory: Path = SHIPPED_KB_DIR) -> KnowledgeBase:
        paths = sorted(Path(directory).glob("*.json"))
        if not paths:
            raise KnowledgeBaseError(f"no knowledge-base files (*.json) in {directory}")
        collections = tuple(_read_collection(path) for path in paths)
        entities = tuple(_entity(row, collection) for collection in collections for row in collection.rows)
        return cls(collections=collections, entities=entities)

    def table_rows(self) -> dict[str, list[dict[str, Any]]]:
        """Rows per SQL table, without the search-only aliases."""
        tables: dict[str, list[dict[str, Any]]] = {}
        for collection in self.collections:
            tables[collection.table] = [
                {key: value for key, value in row.items() if key != "aliases"} for row in collection.rows
            ]
        return tables

    def describe(self) -> str:
        return ", ".join(f"{len(collection.rows)} {collection.table}" for collection in self.collections)


def _read_collection(path: Path) -> Collection:
    try:
        collection = msgspec.json.decode(path.read_bytes(), type=Collection)
    except msgspec.ValidationError as error:
        raise KnowledgeBaseError(f"{path}: {error}") from None
    required = {collection.name_field, *collection.attributes}
    for index, row in enumerate(collection.rows):
        missing = required - row.keys()
        if missing:
            raise KnowledgeBaseError(f"{path}: row {index} lacks {', '.join(sorted(missing))}")
    return collection


def _entity(row: dict[str, Any], collection: Collection) -> Entity:
    facts = {field: row[field] for field in collection.attributes}
    return Entity(
        name=row[collection.name_field],
        aliases=tuple(row.get("aliases", ())),
        facts=facts,
        collection=collection,
    )
