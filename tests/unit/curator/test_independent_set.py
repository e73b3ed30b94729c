"""Quality gate on data the detector did not grow up with: libphonenumber's example numbers, Faker's providers
in 24 locales, real-world layouts and look-alikes (services/curator/core/independent.py)."""

import phonenumbers
import pytest

from services.curator.core.evaluate import evaluate_detailed
from services.curator.core.independent import LOCALES, LOOKALIKE_KINDS, IndependentSet, libphonenumber_examples
from services.curator.core.spans import CORE_TYPES, PiiType


@pytest.fixture(scope="module")
def records():
    # A seed other than the one the documented table uses.
    return list(IndependentSet(seed=77).records(1500))


@pytest.fixture(scope="module")
def ours(records, detector):
    return evaluate_detailed(records, {"ours": detector.detect})["ours"]


@pytest.mark.parametrize("kind", CORE_TYPES)
def test_precision_and_recall_at_least_097_when_scored_on_the_independent_set(ours, kind):
    score = ours.types[kind]
    assert score.labelled >= 100
    assert score.precision >= 0.97, score
    assert score.recall >= 0.97, score


def test_phones_of_every_locale_found_when_scored_on_the_independent_set(ours):
    """Per locale the set holds only 30-45 phones (one miss costs 0.03), so the gate is looser than the pooled
    0.97; it catches a locale whose national layout stops being recognised (Brazil's "41 7763-8107" and
    Norway's "917 00 439" were at 0.87 and 0.92 on seed 1 before the detector learnt them)."""
    low = {
        locale: (round(scores[PiiType.PHONE].precision, 3), round(scores[PiiType.PHONE].recall, 3))
        for locale, scores in ours.locales.items()
        if min(scores[PiiType.PHONE].precision, scores[PiiType.PHONE].recall) < 0.93
    }
    assert low == {}


def test_lookalikes_kept_at_least_097_overall_and_per_kind_when_scored_on_the_independent_set(ours):
    assert set(ours.lookalikes) == set(LOOKALIKE_KINDS)
    assert ours.lookalikes_kept.rate >= 0.97
    assert {kind: kept.rate for kind, kept in ours.lookalikes.items() if kept.rate < 0.97} == {}


def test_set_covers_every_locale_and_every_region_when_built():
    regions = {region for region, _ in libphonenumber_examples()}
    assert len(LOCALES) >= 20
    assert len(regions) >= 0.95 * len(phonenumbers.SUPPORTED_REGIONS)
    locales = {record["locale"] for record in IndependentSet(seed=1).records(200)}
    assert locales == {*LOCALES, "libphonenumber"}


def test_labels_point_at_the_values_when_records_are_built(records):
    for record in records[:300]:
        text = record["messages"][0]["content"]
        for label in record["pii_spans"]:
            value = text[label["start"] : label["end"]]
            assert value == value.strip() and value, record
            if label["type"] == PiiType.EMAIL:
                assert "@" in value
        for lookalike in record["lookalikes"]:
            assert any(c.isdigit() for c in text[lookalike["start"] : lookalike["end"]]), record


def test_same_records_when_seed_is_repeated():
    assert list(IndependentSet(5).records(50)) == list(IndependentSet(5).records(50))
