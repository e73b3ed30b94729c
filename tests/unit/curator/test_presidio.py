"""The optional Presidio adapter, driven by a hand-written stand-in for its AnalyzerEngine."""

from dataclasses import dataclass

from services.curator import presidio
from services.curator.core.spans import PiiType, Span


@dataclass
class Result:
    entity_type: str
    start: int
    end: int
    score: float


class FakeAnalyzer:
    def __init__(self, results: list[Result]) -> None:
        self.results = results
        self.calls: list[dict] = []

    def analyze(self, **kwargs):
        self.calls.append(kwargs)
        return self.results


def test_entity_types_mapped_and_overlaps_resolved_by_score_when_presidio_answers():
    analyzer = FakeAnalyzer(
        [Result("PHONE_NUMBER", 5, 17, 0.4), Result("CREDIT_CARD", 5, 24, 0.9), Result("PERSON", 30, 38, 0.85)]
    )
    detector = presidio.PresidioDetector(["CREDIT_CARD", "PHONE_NUMBER", "PERSON"], analyzer=analyzer)
    assert detector.detect("x" * 40) == [Span(5, 24, PiiType.CARD), Span(30, 38, PiiType.NAME)]
    assert analyzer.calls[0]["language"] == "en" and analyzer.calls[0]["entities"] == [
        "CREDIT_CARD",
        "PHONE_NUMBER",
        "PERSON",
    ]


def test_names_added_only_where_our_detector_found_nothing(detector):
    text = "Jane Roe, call 201-555-0123"
    analyzer = FakeAnalyzer([Result("PERSON", 0, 8, 0.9), Result("LOCATION", 15, 27, 0.6)])
    combined = presidio.WithNamesAndAddresses(detector, presidio.PresidioDetector(["PERSON", "LOCATION"], analyzer))
    assert combined.scrub(text)[0] == "[NAME], call [PHONE]"


def test_reason_given_when_presidio_is_not_installed():
    # The project does not depend on Presidio; where it is installed this test only checks the message type.
    reason = presidio.unavailable_reason()
    assert reason is None or "presidio" in reason or "spaCy" in reason
