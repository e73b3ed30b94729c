"""Scrubbing whole records: every configured string value separately, never the serialised line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from services.curator.core.fields import parse_field_path, rewrite_strings
from services.curator.core.records import decode_record
from services.curator.core.spans import PiiType, Span

Scrub = Callable[[str], tuple[str, list[Span]]]
_ENCODER = msgspec.json.Encoder()


class RecordScrubber:
    def __init__(self, scrub: Scrub, fields: Sequence[str]) -> None:
        self._scrub = scrub
        self._paths = [parse_field_path(field) for field in fields]

    def scrub_record(self, record: dict[str, Any]) -> Counter[PiiType]:
        """Replace PII in place in the configured fields; returns how many values of each type were replaced."""
        replaced: Counter[PiiType] = Counter()

        def rewrite(text: str) -> str:
            clean, spans = self._scrub(text)
            replaced.update(span.kind for span in spans)
            return clean

        rewrite_strings(record, self._paths, rewrite)
        return replaced

    def scrub_line(self, raw: bytes) -> tuple[bytes, Counter[PiiType]]:
        """One JSONL line in, one scrubbed line out; raises MalformedRecord for a line that is not a record."""
        record = decode_record(raw)
        replaced = self.scrub_record(record)
        return _ENCODER.encode(record) + b"\n", replaced
