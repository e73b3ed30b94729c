"""Precision and recall per PII type of any detector against the labelled spans of generated records.

Scoring is on characters that carry information (letters and digits): a labelled value counts as found
when all of its letters and digits are inside detections of the right type, so leaving "(" outside a
redacted "(201) 555-0123" is no miss while redacting only the middle of an IBAN is. A detection counts as
correct when all of its letters and digits are inside labelled values of the same type, so a detection
that joins a date to the card after it is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.curator.core.spans import CORE_TYPES, PiiType, Span

Detector = Callable[[str], list[Span]]


@dataclass
class TypeScore:
    labelled: int = 0
    found: int = 0
    detected: int = 0
    correct: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.detected if self.detected else 1.0


Scores = dict[PiiType, TypeScore]


def evaluate(records: Iterable[dict[str, Any]], detectors: Mapping[str, Detector]) -> dict[str, Scores]:
    """Score every detector on every message of every record; records need `messages` and `pii_spans`."""
    results = {name: {kind: TypeScore() for kind in CORE_TYPES} for name in detectors}
    for record in records:
        by_message: dict[int, list[Span]] = {}
        for label in record.get("pii_spans", []):
            by_message.setdefault(label["message"], []).append(
                Span(label["start"], label["end"], PiiType(label["type"]))
            )
        for index, message in enumerate(record["messages"]):
            text = message["content"]
            labelled = by_message.get(index, [])
            for name, detect in detectors.items():
                score_text(text, labelled, detect(text), results[name])
    return results


def score_text(text: str, labelled: list[Span], detected: list[Span], scores: Scores) -> None:
    truth = _char_types(len(text), labelled)
    claimed = _char_types(len(text), detected)
    for span in labelled:
        scores[span.kind].labelled += 1
        scores[span.kind].found += _all_informative_chars(text, span, claimed)
    for span in detected:
        if span.kind in scores:  # a name or address from an optional detector is outside the table
            scores[span.kind].detected += 1
            scores[span.kind].correct += _all_informative_chars(text, span, truth)


def _char_types(length: int, spans: list[Span]) -> list[PiiType | None]:
    types: list[PiiType | None] = [None] * length
    for span in spans:
        types[span.start : span.end] = [span.kind] * (span.end - span.start)
    return types


def _all_informative_chars(text: str, span: Span, types: list[PiiType | None]) -> bool:
    return all(types[i] == span.kind for i in range(span.start, span.end) if text[i].isalnum())
