"""The optional DataFog peer behind our detector interface (runs only where the `bench` extra is installed)."""

import pytest

from services.curator import datafog_peer
from services.curator.core.spans import PiiType


def test_datafog_findings_mapped_to_our_types_when_installed():
    pytest.importorskip("datafog")
    text = "Mail ada@example.com or call 212-555-0199 from 10.1.2.3"
    spans = datafog_peer.DataFogDetector().detect(text)
    assert {(text[s.start : s.end], s.kind) for s in spans} >= {
        ("ada@example.com", PiiType.EMAIL),
        ("10.1.2.3", PiiType.IP),
    }
    assert spans == sorted(spans)
