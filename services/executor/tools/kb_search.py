"""``kb_search``: answers a question about one country or film from the shipped knowledge base.

A query that names an entity and an attribute ("population of France", "France population", "director of
Inception") gets the value itself: a number for numeric attributes, so a calculator can use it. A query naming
only an entity gets the sentence of all its facts. An entity can also be named by an identifying value
("the country whose capital is Nairobi" -> "Kenya"), which lets plans chain one lookup into the next.

Real search APIs take a while to answer; ``latency_s`` simulates that (it is a simulation, nothing is fetched),
so that plans of several lookups show what running them in parallel saves.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from services.executor.tools.knowledge_base import Entity, KnowledgeBase
from services.executor.tools.registry import ToolArgumentsError, ToolError, ToolSpec

DEFAULT_LATENCY_S = 0.25


def normalize(text: str) -> str:
    """Lower case, accents and punctuation dropped, single spaces: "Bogotá's" -> "bogotas"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = plain.lower().replace("'", "").replace("\u2019", "")
    return " ".join(re.findall(r"[^\W_]+", plain))


@dataclass(frozen=True)
class Phrase:
    """Words that name an entity: its name, an alias, or a value of an identifying attribute (``via``)."""

    words: str
    entity: Entity
    via: str | None = None


@dataclass(frozen=True)
class Answer:
    entity: Entity
    field: str | None

    @property
    def value(self) -> Any:
        if self.field is None:
            return self.entity.sentence()
        if self.field == self.entity.collection.name_field:
            return self.entity.name
        return self.entity.facts[self.field]


class KnowledgeBaseIndex:
    """Finds the entity and the attribute a query is about; built once per knowledge base."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._phrases = _phrases(kb)

    def answer(self, query: str) -> Answer:
        text = normalize(query)
        found = self._find_entity(text)
        if found is None:
            raise ToolError(
                f"kb_search: no country or film in the knowledge base matches {query!r} "
                f"(it holds {self.kb.describe()})",
                retryable=False,
            )
        phrase, start = found
        # The entity's own words must not count as an attribute ("capital" in "whose capital is Nairobi").
        rest = f"{text[:start]} {text[start + len(phrase.words) :]}"
        return Answer(entity=phrase.entity, field=_requested_field(rest, phrase))

    def _find_entity(self, text: str) -> tuple[Phrase, int] | None:
        padded = f" {text} "
        matches = []
        for phrase in self._phrases:
            position = padded.find(f" {phrase.words} ")
            if position >= 0:
                # The first mention wins; at one position the longest phrase ("Avatar: The Way of Water", not
                # "Avatar"), and a name before an identifying value ("Singapore" the country, not the capital).
                matches.append(((position, -len(phrase.words), phrase.via is not None), phrase, position))
        if not matches:
            return None
        _, phrase, position = min(matches, key=lambda match: match[0])
        return phrase, position


def _phrases(kb: KnowledgeBase) -> list[Phrase]:
    phrases: list[Phrase] = []
    for entity in kb.entities:
        names = {normalize(name) for name in (entity.name, *entity.aliases)}
        # "Dark Knight" names "The Dark Knight" as well.
        names |= {name.removeprefix("the ") for name in names}
        phrases += [Phrase(words=name, entity=entity) for name in names if name]
    value_owners: dict[tuple[str, str], list[Entity]] = {}
    for entity in kb.entities:
        for field, attribute in entity.collection.attributes.items():
            if attribute.identifies:
                value_owners.setdefault((field, normalize(str(entity.facts[field]))), []).append(entity)
    phrases += [
        Phrase(words=words, entity=owners[0], via=field)
        for (field, words), owners in value_owners.items()
        if len(owners) == 1 and words
    ]
    return phrases


def _requested_field(text: str, phrase: Phrase) -> str | None:
    """The attribute the query asks for: the first one mentioned; the name only when nothing else is asked."""
    collection = phrase.entity.collection
    padded = f" {text} "
    mentioned = []
    for field, attribute in collection.attributes.items():
        if field == phrase.via:
            continue
        positions = [padded.find(f" {normalize(word)} ") for word in attribute.words]
        positions = [position for position in positions if position >= 0]
        if positions:
            mentioned.append((min(positions), field))
    if mentioned:
        return min(mentioned)[1]
    if phrase.via is not None and any(f" {normalize(word)} " in padded for word in collection.name_words):
        return collection.name_field
    return None


def make_kb_search(kb: KnowledgeBase, latency_s: float = DEFAULT_LATENCY_S) -> ToolSpec:
    index = KnowledgeBaseIndex(kb)

    async def kb_search(query: str) -> Any:
        if not isinstance(query, str) or not query.strip():
            raise ToolArgumentsError("kb_search: argument 'query' must be a non-empty string")
        await asyncio.sleep(latency_s)
        return index.answer(query).value

    return ToolSpec(
        name="kb_search",
        fn=kb_search,
        description=(
            "Look up a fact about a country (capital, population, area, continent, currency, official language) "
            "or a film (year, director, runtime, box office), e.g. 'population of France'."
        ),
        timeout_s=10.0,
    )
