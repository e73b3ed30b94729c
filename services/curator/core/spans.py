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
