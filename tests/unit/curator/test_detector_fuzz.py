"""Property tests: the detector never crashes, never overlaps spans, and scrubbing leaves nothing to find."""

import itertools

from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.curator.core.pii import PiiDetector
from services.curator.core.spans import PiiType

DETECTOR = PiiDetector()
VALUES = {
    PiiType.CARD: ["4111 1111 1111 1111", "378282246310005", "2223-0031-2200-3222", "30569309025904"],
    PiiType.IBAN: ["DE89370400440532013000", "GB82 WEST 1234 5698 7654 32", "NL91ABNA0417164300"],
    PiiType.EMAIL: ["a.b+c@example.co.uk", "X@Y.ORG"],
    PiiType.IP: ["8.8.8.8", "2001:db8::1"],
    PiiType.SSN: ["123-45-6789"],
    PiiType.PHONE: ["(201) 555-0123", "+44 20 7946 0958"],
}
NOISE = st.text(alphabet=st.sampled_from(list("abc XYZ 0123456789 .,:;-+()[]@#/\n\t'\"é€")), max_size=40)
ANY_TEXT = st.text(max_size=300)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
@example("22210000000000\u06600")  # a card-shaped run with an Arabic-Indic zero: once an IndexError in the Luhn check
def test_spans_in_bounds_sorted_and_disjoint_when_text_is_arbitrary(text):
    spans = DETECTOR.detect(text)
    assert all(0 <= s.start < s.end <= len(text) for s in spans)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(NOISE, st.sampled_from([v for vs in VALUES.values() for v in vs])), max_size=12))
def test_nothing_left_to_find_when_text_is_scrubbed_twice(pieces):
    once = DETECTOR.scrub(" ".join(pieces))[0]
    assert DETECTOR.detect(once) == []


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([(kind, v) for kind, vs in VALUES.items() for v in vs]),
    st.sampled_from(["", "Note: ", "id 42, ", "(", "«", "see\n"]),
    st.sampled_from(["", ".", " today", ")", ", thanks", "\n"]),
)
def test_value_found_with_its_type_when_surrounded_by_ordinary_text(item, before, after):
    kind, value = item
    spans = DETECTOR.detect(before + value + after)
    assert [(s.start, s.end, s.kind) for s in spans] == [(len(before), len(before) + len(value), kind)]
