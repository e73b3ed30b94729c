"""The evaluation's questions: enough of each kind, answers taken from the knowledge base, strict answer checks."""

from __future__ import annotations

from collections import Counter

import pytest

from services.eval.questions import Question, build_questions
from services.executor.tools.knowledge_base import KnowledgeBase


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    return build_questions(KnowledgeBase.load())


def test_at_least_a_hundred_distinct_questions_of_four_kinds_when_built(questions: list[Question]) -> None:
    assert len(questions) >= 100 and len({question.text for question in questions}) == len(questions)
    kinds = Counter(question.kind for question in questions)
    assert set(kinds) == {"comparison", "bridge", "aggregation", "parallel"} and min(kinds.values()) >= 25
    parallel = [question.lookups for question in questions if question.kind == "parallel"]
    assert min(parallel) >= 3 and max(parallel) <= 5
    assert build_questions(KnowledgeBase.load()) == questions  # the same seed, the same questions


def test_answers_agree_with_the_knowledge_base_when_checked_by_hand() -> None:
    kb = KnowledgeBase.load()
    facts = {entity.name: entity.facts for entity in kb.entities}
    for question in build_questions(kb):
        if question.kind == "comparison":
            (other,) = question.others
            field = "population" if "population" in question.text else "area_km2" if "area" in question.text else None
            field = field or ("box_office_usd" if "grossed" in question.text else "runtime_min")
            assert facts[question.answer][field] > facts[other][field], question


def test_a_reply_naming_every_candidate_is_wrong_when_the_question_compares_them() -> None:
    question = Question("q1", "comparison", "Which is larger, A or B?", "Germany", 2, ("France",))
    assert question.is_correct("Germany has more people.")
    assert not question.is_correct("France or Germany")
    assert not question.is_correct("France")


def test_numbers_match_within_one_percent_whatever_their_format_when_the_answer_is_numeric() -> None:
    question = Question("q2", "aggregation", "Total?", 152_652_000, 2)
    assert question.is_correct("about 152,652,000 people")
    assert question.is_correct("152000000")
    assert not question.is_correct("140,000,000") and not question.is_correct("no idea")


def test_a_title_inside_a_longer_title_does_not_count_as_naming_it_when_checked() -> None:
    question = Question("q3", "comparison", "?", "Avatar: The Way of Water", 2, ("Avatar",))
    assert question.is_correct("Avatar: The Way of Water")
