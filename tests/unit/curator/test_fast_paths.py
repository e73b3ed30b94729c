"""The detector's fast paths find exactly what the plain formulation finds.

The ASCII copies of the patterns (used on ASCII-only text), the digit count of a phone candidate, and the
rewritten starts and number-before patterns are each compared with the form they replace, on text built from
the characters and words where the two could differ.
"""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.curator.core import patterns as rx
from services.curator.core.pii import _count_digits

# Pieces where ASCII and Unicode mode could part: digits and phone punctuation, "\x1c" (a space only to
# Unicode's `\s`), "I" and "i" (Unicode case folding equates them with the "ı" of "arayın"), context words.
ASCII_PIECES = [
    *"0123456789",
    *" ()./+-#:,;[]\n\t\x1c\x1f_",
    "phone ",
    "Tel: ",
    "arayIn ",
    "ARAYIN ",
    "T\x1c:",
    "ext. ",
    "x",
    "order #",
    "version ",
    "v",
    "SSN ",
    "id on file ",
    "DE",
    "GB",
    "is my cell",
    "(mobile)",
    "a",
    "Z",
]
ASCII_TEXT = st.lists(st.sampled_from(ASCII_PIECES), max_size=40).map("".join)
# Unicode text adds non-ASCII digits and letters.
UNICODE_TEXT = st.lists(st.sampled_from([*ASCII_PIECES, "٣", "٤٥", "é", "ı", "☎ "]), max_size=40).map("".join)


def _matches(pattern: re.Pattern[str], text: str) -> list[tuple[int, int] | None]:
    """The match at every position and the first search hit from every position: all a finder can ask."""
    at = [(m.span() if (m := pattern.match(text, i)) else None) for i in range(len(text) + 1)]
    found = [(m.span() if (m := pattern.search(text, i)) else None) for i in range(len(text) + 1)]
    return at + found


@settings(max_examples=300, deadline=None)
@given(ASCII_TEXT)
def test_ascii_copies_match_like_their_patterns_when_text_is_ascii(text):
    for unicode, ascii in zip(rx.UNICODE_SCANNERS, rx.ASCII_SCANNERS, strict=True):
        assert _matches(ascii, text) == _matches(unicode, text), unicode.pattern
    assert (rx.ASCII_DIGIT.search(text) is None) == (rx.ANY_DIGIT.search(text) is None)


@pytest.mark.parametrize(
    ("source", "copy"),
    [
        (r"\d[\d+]", "[0-9][0-9+]"),
        (r"[^\d\n[\]]\D", r"[^0-9\n[\]][^0-9]"),
        (r"\s[\s=]", "[\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f ][\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f =]"),
        (r"[]\d]", "[]0-9]"),
        ("(?i)arayın", "(?i)aray[ıiI]n"),
    ],
)
def test_ascii_copy_rewrites_what_ascii_mode_reads_otherwise_when_compiled(source, copy):
    assert rx.ascii_copy(re.compile(source)).pattern == copy


def test_ascii_copy_refuses_when_a_class_holds_what_it_cannot_rewrite():
    with pytest.raises(ValueError, match="no ASCII copy"):
        rx.ascii_copy(re.compile(r"[\S]"))
    with pytest.raises(ValueError, match="no ASCII copy"):
        rx.ascii_copy(re.compile("(?i)[ı]"))


@settings(max_examples=300, deadline=None)
@given(UNICODE_TEXT)
def test_phone_digits_counted_like_the_digit_regex_when_text_has_any_digits(text):
    scanners = rx.ASCII_SCANNERS if text.isascii() else rx.UNICODE_SCANNERS
    for start in range(len(text)):
        if (match := scanners.phone.match(text, start)) is None:
            continue
        number_end = match.start("ext") if match["ext"] else match.end()
        for end in range(start, number_end + 1):
            assert _count_digits(text, start, end) == len(re.findall(r"\d", text[start:end]))


# The forms these patterns had before they were rewritten for speed.
STARTS_BEFORE = re.compile(
    r"(?s)[\d+(A-Z](?:(?<=[A-Z])[A-Z]\d\d"
    r"|(?<=[\d+(])(?<![\w.].)(?=[\d+(]?(?:[ ()./+-]{0,3}\d){6}|\d{0,2}\.\d{1,3}\.\d))"
)
COMPLETE_NUMBER_BEFORE_BEFORE = re.compile(r"(?=\d)(?:\d[-./]\d|(?:\d[-./()]?){7})\S*$")
# PHONE as it was, with the separators before each digit of its look-ahead not yet possessive.
PHONE_BEFORE = re.compile(rx.PHONE.pattern.replace("{0,3}+", "{0,3}"), rx.PHONE.flags)


@settings(max_examples=300, deadline=None)
@given(UNICODE_TEXT)
def test_starts_found_where_they_were_when_digit_runs_are_skipped(text):
    expected = [m.start() for m in STARTS_BEFORE.finditer(text)]
    assert [m.start() for m in rx.STARTS.finditer(text)] == expected
    if text.isascii():
        assert [m.start() for m in rx.ASCII_SCANNERS.starts.finditer(text)] == expected


@settings(max_examples=300, deadline=None)
@given(UNICODE_TEXT)
def test_complete_number_found_where_it_was_when_pattern_opens_with_its_digit(text):
    for end in range(len(text) + 1):
        for start in range(0, end + 1, 3):
            found = rx.COMPLETE_NUMBER_BEFORE.search(text, start, end) is not None
            assert found == (COMPLETE_NUMBER_BEFORE_BEFORE.search(text, start, end) is not None)


@settings(max_examples=300, deadline=None)
@given(UNICODE_TEXT)
def test_phone_candidates_found_where_they_were_when_separators_are_possessive(text):
    assert PHONE_BEFORE.pattern != rx.PHONE.pattern
    assert _matches(rx.PHONE, text) == _matches(PHONE_BEFORE, text)
