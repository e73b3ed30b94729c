"""Multi-hop questions with known answers, built from the shipped knowledge base (countries and films).

Like HotpotQA (bridge and comparison), Movie recommendation and ParallelQA (2-5 independent lookups, then one
step that combines them): every question needs several kb_search calls, most of them independent. The answers are
computed from the same rows kb_search reads, so a question is right or wrong by the data, not by opinion.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Literal

from services.executor.tools.knowledge_base import KnowledgeBase

Kind = Literal["comparison", "bridge", "aggregation", "parallel"]


@dataclass(frozen=True)
class Question:
    id: str
    kind: Kind
    text: str
    answer: Any  # a name (text) or a number
    lookups: int  # kb_search calls a good plan makes
    # The other candidates of a comparison: a reply naming them too (echoing the question) is not an answer.
    others: tuple[str, ...] = ()

    def is_correct(self, reply: Any) -> bool:
        """Text answers: the name appears in the reply. Numbers: a number in the reply within 1% of it."""
        text = str(reply)
        if isinstance(self.answer, int | float) and not isinstance(self.answer, bool):
            return any(abs(number - self.answer) <= 0.01 * abs(self.answer) for number in _numbers(text))
        lowered, answer = text.lower(), str(self.answer).lower()
        rest = lowered.replace(answer, " ")  # "Avatar" must not count inside "Avatar: The Way of Water"
        return answer in lowered and not any(other.lower() in rest for other in self.others)


def _numbers(text: str) -> list[float]:
    found = []
    for token in re.findall(r"-?\d[\d,]*(?:\.\d+)?", text):
        try:
            found.append(float(token.replace(",", "")))
        except ValueError:
            continue
    return found


COUNTRY_FIELDS = {"population": "population", "area_km2": "area"}
FILM_FIELDS = {"box_office_usd": "worldwide box office", "runtime_min": "runtime"}


def build_questions(kb: KnowledgeBase, *, count: int = 120, seed: int = 7) -> list[Question]:
    """``count`` questions, a quarter of each kind, the same for the same seed."""
    rng = random.Random(seed)
    countries = [entity for entity in kb.entities if entity.collection.kind == "country"]
    films = [entity for entity in kb.entities if entity.collection.kind == "film"]
    makers = [_comparison, _bridge, _aggregation, _parallel]
    questions: list[Question] = []
    while len(questions) < count:
        maker = makers[len(questions) % len(makers)]
        question = maker(rng, countries, films, len(questions) + 1)
        if question is not None and all(question.text != other.text for other in questions):
            questions.append(question)
    return questions


def _comparison(rng: random.Random, countries: list, films: list, number: int) -> Question | None:
    if rng.random() < 0.5:
        first, second = rng.sample(countries, 2)
        field = rng.choice(list(COUNTRY_FIELDS))
        word = "larger population" if field == "population" else "larger area"
        text = f"Which country has the {word}, {first.name} or {second.name}?"
    else:
        first, second = rng.sample(films, 2)
        field = rng.choice(list(FILM_FIELDS))
        word = "grossed more worldwide" if field == "box_office_usd" else "is longer"
        text = f"Which film {word}, {first.name} or {second.name}?"
    if first.facts[field] == second.facts[field]:
        return None
    winner = max((first, second), key=lambda entity: entity.facts[field])
    loser = second if winner is first else first
    return Question(f"q{number:03d}", "comparison", text, winner.name, 2, (loser.name,))


def _bridge(rng: random.Random, countries: list, films: list, number: int) -> Question | None:
    country = rng.choice(countries)
    field = rng.choice(["population", "area_km2", "currency", "continent"])
    label = {"population": "population", "area_km2": "area in km2", "currency": "currency", "continent": "continent"}
    text = f"What is the {label[field]} of the country whose capital is {country.facts['capital']}?"
    # One kb_search can resolve the bridge itself ("... whose capital is X"); a plan may also take two hops.
    return Question(f"q{number:03d}", "bridge", text, country.facts[field], 1)


def _aggregation(rng: random.Random, countries: list, films: list, number: int) -> Question | None:
    size = rng.randint(2, 4)
    if rng.random() < 0.5:
        picked = rng.sample(countries, size)
        field, what = "population", "combined population"
    else:
        picked = rng.sample(films, size)
        field, what = "runtime_min", "total runtime in minutes"
    names = ", ".join(entity.name for entity in picked[:-1]) + f" and {picked[-1].name}"
    total = sum(entity.facts[field] for entity in picked)
    return Question(f"q{number:03d}", "aggregation", f"What is the {what} of {names}?", total, size)


def _parallel(rng: random.Random, countries: list, films: list, number: int) -> Question | None:
    size = rng.randint(3, 5)
    if rng.random() < 0.5:
        picked = rng.sample(countries, size)
        field, text = "population", "Which of these countries has the most people: {names}?"
    else:
        picked = rng.sample(films, size)
        field, text = "year", "Which of these films came out first: {names}?"
    values = [entity.facts[field] for entity in picked]
    if len(set(values)) < len(values):
        return None
    pick = max if field == "population" else min
    best = pick(picked, key=lambda entity: entity.facts[field])
    names = ", ".join(entity.name for entity in picked)
    others = tuple(entity.name for entity in picked if entity is not best)
    return Question(f"q{number:03d}", "parallel", text.format(names=names), best.name, size, others)
