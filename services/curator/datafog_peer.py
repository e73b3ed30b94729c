"""Optional DataFog peer for the evaluation and the scrub benchmark (the `bench` extra).

DataFog's regex engine with its Rust backend (`datafog-core`) is the fastest widely used open-source PII
scanner; it is compared as shipped, with its default entity types plus the German IBAN it offers.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from services.curator.core.spans import PiiType, Span

ENTITY_TYPES: dict[str, PiiType] = {
    "EMAIL": PiiType.EMAIL,
    "PHONE": PiiType.PHONE,
    "SSN": PiiType.SSN,
    "CREDIT_CARD": PiiType.CARD,
    "DE_IBAN": PiiType.IBAN,
    "IP_ADDRESS": PiiType.IP,
}


def unavailable_reason() -> str | None:
    """Why DataFog cannot run here, or None when it can."""
    if importlib.util.find_spec("datafog") is None:
        return "datafog is not installed (uv sync --extra bench)"
    return None


def backend() -> str:
    return "rust" if importlib.util.find_spec("datafog_core") is not None else "python"


class DataFogDetector:
    """DataFog's `scan` behind the detector interface: `detect(text) -> list[Span]`."""

    def __init__(self) -> None:
        from datafog.engine import scan

        self._scan: Any = scan
        self._backend = backend()
        self._entities = list(ENTITY_TYPES)

    def detect(self, text: str) -> list[Span]:
        result = self._scan(text, engine="regex", entity_types=self._entities, backend=self._backend)
        spans = [
            Span(entity.start, entity.end, ENTITY_TYPES[entity.type])
            for entity in result.entities
            if entity.type in ENTITY_TYPES
        ]
        return sorted(spans)
