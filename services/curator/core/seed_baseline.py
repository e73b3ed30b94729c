"""The seed's naive scrubber (CODEX_WEEK3_TASKS.md, task 3), kept verbatim as the baseline to beat.

`seed_scrub_text` is the seed's function unchanged. `seed_detect` replays it pattern by pattern and maps
every replacement back to the original string, so its findings can be scored span by span.
"""

from __future__ import annotations

import re

from services.curator.core.spans import PiiType, Span

PII_PATTERNS = {
    "email": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,}\b",
    "phone": r"\b(?:\+?1[-.]?)?\(?\d{3}\)?[-.]?\d{3}[-.]?\d{4}\b",
    "ssn": r"\b\d{3}-\d{2}-\d{4}\b",
    "card": r"\b\d{4}[-\s]?\d{4}[-\s]?\d{4}[-\s]?\d{4}\b",
}


def seed_scrub_text(text: str) -> str:
    """Replace PII patterns with placeholders"""
    for pii_type, pattern in PII_PATTERNS.items():
        text = re.sub(pattern, f"[{pii_type.upper()}]", text)
    return text


_COMPILED = tuple((PiiType(name.upper()), re.compile(pattern)) for name, pattern in PII_PATTERNS.items())


def seed_detect(text: str) -> list[Span]:
    """Spans, in original coordinates, that `seed_scrub_text` replaces, applying the patterns in its order."""
    current = text
    # origin[i] is the index in `text` of current[i], or -1 for a character of an inserted placeholder.
    origin = list(range(len(text)))
    spans: list[Span] = []
    for kind, pattern in _COMPILED:
        pieces: list[str] = []
        new_origin: list[int] = []
        cursor = 0
        for match in pattern.finditer(current):
            pieces.append(current[cursor : match.start()])
            new_origin.extend(origin[cursor : match.start()])
            covered = [i for i in origin[match.start() : match.end()] if i >= 0]
            if covered:
                spans.append(Span(covered[0], covered[-1] + 1, kind))
            pieces.append(kind.placeholder)
            new_origin.extend([-1] * len(kind.placeholder))
            cursor = match.end()
        pieces.append(current[cursor:])
        new_origin.extend(origin[cursor:])
        current, origin = "".join(pieces), new_origin
    spans.sort()
    return spans
