"""Quality gate of the issue: precision and recall of at least 0.97 per type on thousands of labelled records."""

import pytest

from services.curator.core.evaluate import TypeScore, evaluate, score_text
from services.curator.core.generator import generate_records
from services.curator.core.seed_baseline import seed_detect
from services.curator.core.spans import CORE_TYPES, PiiType, Span


@pytest.fixture(scope="module")
def results(detector):
    records = list(generate_records(3000, seed=2024))
    return evaluate(records, {"ours": detector.detect, "seed": seed_detect})


@pytest.mark.parametrize("kind", CORE_TYPES)
def test_precision_and_recall_at_least_097_when_scored_on_generated_labelled_set(results, kind):
    score = results["ours"][kind]
    assert score.labelled >= 300
    assert score.precision >= 0.97, score
    assert score.recall >= 0.97, score


@pytest.mark.parametrize("kind", [PiiType.PHONE, PiiType.SSN, PiiType.CARD, PiiType.IBAN, PiiType.IP])
def test_seed_regexes_score_lower_when_compared_on_the_same_set(results, kind):
    ours, seed = results["ours"][kind], results["seed"][kind]
    assert min(seed.precision, seed.recall) < min(ours.precision, ours.recall)


def scores() -> dict[PiiType, TypeScore]:
    return {kind: TypeScore() for kind in CORE_TYPES}


def test_partial_redaction_counts_as_miss_and_wrong_type_as_false_positive_when_scoring():
    text = "IBAN DE89 3704 0044 0532 0130 00"
    result = scores()
    score_text(text, [Span(5, 32, PiiType.IBAN)], [Span(10, 29, PiiType.CARD)], result)
    assert (result[PiiType.IBAN].found, result[PiiType.IBAN].labelled) == (0, 1)
    assert (result[PiiType.CARD].correct, result[PiiType.CARD].detected) == (0, 1)


def test_punctuation_outside_a_detection_is_no_miss_when_digits_are_covered():
    text = "call (201) 555-0123"
    result = scores()
    score_text(text, [Span(5, 19, PiiType.PHONE)], [Span(6, 19, PiiType.PHONE)], result)
    assert result[PiiType.PHONE].recall == 1.0 and result[PiiType.PHONE].precision == 1.0


def test_detection_joining_a_date_to_a_card_is_a_false_positive():
    text = "2024 4111 1111 1111 1111"
    result = scores()
    score_text(text, [Span(5, 24, PiiType.CARD)], [Span(0, 19, PiiType.CARD)], result)
    assert result[PiiType.CARD].precision == 0.0 and result[PiiType.CARD].recall == 0.0
