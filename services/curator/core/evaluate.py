"""Precision and recall per PII type of any detector against the labelled spans of generated records.

Scoring is on characters that carry information (letters and digits): a labelled value counts as found
when all of its letters and digits are inside detections of the right type, so leaving "(" outside a
redacted "(201) 555-0123" is no miss while redacting only the middle of an IBAN is. A detection counts as
correct when all of its letters and digits are inside labelled values of the same type, so a detection
that joins a date to the card after it is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
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


@dataclass
class Kept:
    """Look-alikes (spans that are not personal data) and how many of them no detection touched."""

    total: int = 0
    kept: int = 0

    @property
    def rate(self) -> float:
        return self.kept / self.total if self.total else 1.0


@dataclass
class Evaluation:
    """One detector's scores: per type, per type within each locale, and look-alikes kept per kind."""

    kinds: tuple[PiiType, ...] = CORE_TYPES
    types: Scores = field(default_factory=dict)
    locales: dict[str, Scores] = field(default_factory=dict)
    lookalikes: dict[str, Kept] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.types = self.types or {kind: TypeScore() for kind in self.kinds}

    def locale(self, name: str) -> Scores:
        return self.locales.setdefault(name, {kind: TypeScore() for kind in self.kinds})

    @property
    def lookalikes_kept(self) -> Kept:
        return Kept(sum(k.total for k in self.lookalikes.values()), sum(k.kept for k in self.lookalikes.values()))


def evaluate(records: Iterable[dict[str, Any]], detectors: Mapping[str, Detector]) -> dict[str, Scores]:
    """Score every detector on every message of every record; records need `messages` and `pii_spans`."""
    return {name: evaluation.types for name, evaluation in evaluate_detailed(records, detectors).items()}


def evaluate_detailed(
    records: Iterable[dict[str, Any]], detectors: Mapping[str, Detector], kinds: tuple[PiiType, ...] = CORE_TYPES
) -> dict[str, Evaluation]:
    """Like `evaluate`, also per `locale` of the records and for their `lookalikes` (kept when untouched).

    `kinds` are the types scored; labels and detections of other types are left out of the tables.
    """
    results = {name: Evaluation(kinds) for name in detectors}
    for record in records:
        labels = _by_message(record.get("pii_spans", []), lambda label: PiiType(label["type"]))
        lookalikes = _by_message(record.get("lookalikes", []), lambda label: label["kind"])
        locale = record.get("locale")
        for index, message in enumerate(record["messages"]):
            text = message["content"]
            labelled = labels.get(index, [])
            for name, detect in detectors.items():
                detected = detect(text)
                evaluation = results[name]
                score_text(text, labelled, detected, evaluation.types)
                if locale is not None:
                    score_text(text, labelled, detected, evaluation.locale(locale))
                if index in lookalikes:
                    _score_lookalikes(text, lookalikes[index], detected, evaluation.lookalikes)
    return results


def _by_message(labels: list[dict[str, Any]], kind_of: Callable[[dict[str, Any]], Any]) -> dict[int, list[Any]]:
    by_message: dict[int, list[Any]] = {}
    for label in labels:
        by_message.setdefault(label["message"], []).append((label["start"], label["end"], kind_of(label)))
    return {
        index: [Span(*item) if isinstance(item[2], PiiType) else item for item in items]
        for index, items in by_message.items()
    }


def _score_lookalikes(
    text: str, lookalikes: list[tuple[int, int, str]], detected: list[Span], kept: dict[str, Kept]
) -> None:
    touched = [False] * len(text)
    for span in detected:
        touched[span.start : span.end] = [True] * (span.end - span.start)
    for start, end, kind in lookalikes:
        score = kept.setdefault(kind, Kept())
        score.total += 1
        score.kept += not any(touched[i] for i in range(start, end) if text[i].isalnum())


def score_text(text: str, labelled: list[Span], detected: list[Span], scores: Scores) -> None:
    truth = _char_types(len(text), labelled)
    claimed = _char_types(len(text), detected)
    for span in labelled:
        if span.kind not in scores:
            continue
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
