from services.curator.core.seed_baseline import PII_PATTERNS, seed_detect, seed_scrub_text
from services.curator.core.spans import PiiType, Span


def test_seed_patterns_kept_verbatim_when_used_as_baseline():
    # Copied from CODEX_WEEK3_TASKS.md task 3, including the "|" inside [A-Z|a-z].
    assert PII_PATTERNS == {
        "email": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,}\b",
        "phone": r"\b(?:\+?1[-.]?)?\(?\d{3}\)?[-.]?\d{3}[-.]?\d{4}\b",
        "ssn": r"\b\d{3}-\d{2}-\d{4}\b",
        "card": r"\b\d{4}[-\s]?\d{4}[-\s]?\d{4}[-\s]?\d{4}\b",
    }


def test_seed_scrub_applies_patterns_in_order_when_they_overlap():
    # The phone pattern runs before the SSN and card patterns and eats ten-digit runs first.
    assert seed_scrub_text("a@b.co 201-555-0123 123-45-6789 4111 1111 1111 1111") == "[EMAIL] [PHONE] [SSN] [CARD]"


def test_seed_detect_maps_replacements_to_original_offsets_when_earlier_ones_shift_text():
    text = "x longname@example.com then 123-45-6789"
    assert seed_detect(text) == [Span(2, 22, PiiType.EMAIL), Span(28, 39, PiiType.SSN)]


def test_seed_detect_agrees_with_seed_scrub_when_spans_are_replaced():
    text = "Call 201.555.0123 or mail me@x.org; card 5555-5555-5555-4444; DE89 3704 0044 0532 0130 00"
    spans = seed_detect(text)
    rebuilt, cursor = [], 0
    for span in spans:
        rebuilt += [text[cursor : span.start], span.kind.placeholder]
        cursor = span.end
    assert "".join(rebuilt) + text[cursor:] == seed_scrub_text(text)
