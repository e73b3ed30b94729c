"""Typed PII spans and their replacement by placeholders."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class PiiType(StrEnum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    SSN = "SSN"
    CARD = "CARD"
    IBAN = "IBAN"
    IP = "IP"
    # Only with the optional Presidio extra (a spaCy model finds them); the regex detector never emits these.
    NAME = "NAME"
    ADDRESS = "ADDRESS"

    @property
    def placeholder(self) -> str:
        return f"[{self.value}]"


# The types the regex and checksum detector covers, and the rows of every evaluation table.
CORE_TYPES = (PiiType.EMAIL, PiiType.PHONE, PiiType.SSN, PiiType.CARD, PiiType.IBAN, PiiType.IP)


class Span(NamedTuple):
    """Half-open character range `[start, end)` of one PII value in a string."""

    start: int
    end: int
    kind: PiiType


# Looked up once: an enum property costs more than the rest of a replacement.
_PLACEHOLDERS = {kind: kind.placeholder for kind in PiiType}


def replace_spans(text: str, spans: list[Span]) -> str:
    """The text with each span (sorted, non-overlapping) replaced by its type's placeholder."""
    pieces: list[str] = []
    cursor = 0
    for start, end, kind in spans:
        pieces.append(text[cursor:start])
        pieces.append(_PLACEHOLDERS[kind])
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)
