"""The mypyc build of the detector (native/pii-compiled) finds exactly what the pure-Python source finds.

Skipped where the compiled package is not installed or was built from other sources; the staleness check
itself is tested either way.
"""

import random

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.curator import compiled
from services.curator.core.generator import generate_records
from services.curator.core.independent import IndependentSet
from services.curator.core.pii import PiiDetector

needs_compiled = pytest.mark.skipif(
    compiled.unavailable_reason() is not None, reason=str(compiled.unavailable_reason())
)


def _examples() -> list[str]:
    """libphonenumber's example numbers of every region, written nationally, internationally and bare."""
    written = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                for style in (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL):
                    written.append(phonenumbers.format_number(number, style))
                written.append(str(number.national_number))
    return written


PIECES = [
    *random.Random(5).sample(_examples(), 120),
    "4111 1111 1111 1111", "378282246310005", "2223-0031-2200-3222", "DE89370400440532013000",
    "GB82 WEST 1234 5698 7654 32", "a.b+c@example.co.uk", "8.8.8.8", "10.0.0.1/24", "2001:db8::1", "fe80::1%eth0",
    "123-45-6789", "123 45 6789", "123456789", "000-12-3456", "(201) 555-0123", "+44 (0)20 7946 0958",
    "201-555-0123 ext. 42", "51-2928-7387", "#6899-851-9315", "978-3-16-148410-0", "2024-01-15", "12.5.2024",
    "v1.2.3.4", "52.5200, 13.4050", "$1,299.99", "1Z999AA10123456784", "9400 1000 0000 0000 0000 00",
    "94105-1234", "[PHONE]", "[CARD]",
]  # fmt: skip
WORDS = [
    "Call me at", "Tel.:", "Handy:", "Llámame al", "is the best number", "(mobile)", "SSN:", "is the ID on file",
    "order", "P/N", "Bestellung", "version", "Ref", "Phone", "|", ",", ";", "\t", "\n", ":", "#", "é", "€", "٣",
    "ı", "Straße", "  ", " - ", "(", ")", "+", ".", "/",
]  # fmt: skip
TEXT = st.lists(st.sampled_from(PIECES + WORDS), max_size=14).map(" ".join)
JOINED = st.lists(st.sampled_from(PIECES + WORDS), max_size=10).map("".join)
PURE = {"home": PiiDetector(), "all": PiiDetector(["all"])}
COMPILED = {"home": compiled.detector_class()(), "all": compiled.detector_class()(["all"])}


def _spans(detector: PiiDetector, text: str) -> list[tuple[int, int, str]]:
    return [(span.start, span.end, str(span.kind)) for span in detector.detect(text)]


@needs_compiled
@settings(max_examples=400, deadline=None)
@given(st.one_of(TEXT, JOINED, st.text(max_size=120)), st.sampled_from(["home", "all"]))
@example("22210000000000\u06600", "home")  # found by CI: an Arabic-Indic digit in a card-shaped run
def test_compiled_finds_the_same_spans_when_text_mixes_values_words_and_lookalikes(text, regions):
    assert _spans(COMPILED[regions], text) == _spans(PURE[regions], text)


@needs_compiled
@pytest.mark.parametrize("regions", ["home", "all"])
def test_compiled_finds_the_same_spans_when_text_is_the_independent_and_generated_sets(regions):
    texts = [m["content"] for r in IndependentSet(11).records(600) for m in r["messages"]]
    texts += [m["content"] for r in generate_records(300, 11) for m in r["messages"]]
    pure, fast = PURE[regions], COMPILED[regions]
    differing = [text for text in texts if _spans(fast, text) != _spans(pure, text)]
    assert differing == []
    assert sum(len(_spans(pure, text)) for text in texts) > 1000  # the sets are full of values


def test_pure_detector_runs_when_compiled_build_is_from_other_sources(tmp_path, monkeypatch):
    for name in compiled.MODULES:
        (tmp_path / f"{name}.py").write_text(f"# edited after the build: {name}\n")
    monkeypatch.setattr(compiled, "_SOURCES", tmp_path)
    compiled.unavailable_reason.cache_clear()
    try:
        assert compiled.unavailable_reason() is not None
        assert compiled.detector_class() is PiiDetector
    finally:
        monkeypatch.undo()
        compiled.unavailable_reason.cache_clear()


@needs_compiled
def test_compiled_detector_is_used_when_installed_and_current():
    from services.curator.bootstrap import build_detector
    from services.curator.settings import load_curator_settings

    detector = build_detector(load_curator_settings())
    assert type(detector).__module__ == f"{compiled.PACKAGE}.pii"
