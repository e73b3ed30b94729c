"""The detector's fast paths find exactly what the plain formulation finds.

The ASCII copies of the patterns (used on ASCII-only text), the digit count of a phone candidate, and the
rewritten starts and number-before patterns are each compared with the form they replace, on text built from
the characters and words where the two could differ.
"""

import bisect
import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.curator.core import patterns as rx
from services.curator.core.claims import UNBOUNDED, Claims, new_span
from services.curator.core.phones import PhoneValidator, Verdict, _fictional_nanp, _plan
from services.curator.core.pii import _column_header, _count_digits, _may_open_card_ssn_ipv4, find_starts
from services.curator.core.spans import PiiType, Span
from services.curator.core.validators import iban_ok

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


def _starts_before(text: str) -> tuple[list[int], list[int], list[int]]:
    """Number starts, the ends of their first digit runs and IBAN starts, as STARTS_BEFORE and the detector found
    them: a start at a capital letter was an IBAN's, and one at a digit outside ASCII went to the IBAN finder too,
    which refused it."""
    found = [m.start() for m in STARTS_BEFORE.finditer(text)]
    numbers = [start for start in found if text[start] < "A"]
    run_ends = [
        re.compile(r"\d*").match(text, start + 1).end() if text[start].isdecimal() else start + 1 for start in numbers
    ]
    return numbers, run_ends, [start for start in found if "A" <= text[start] <= "Z"]


@settings(max_examples=500, deadline=None)
@given(UNICODE_TEXT)
def test_starts_found_where_they_were_when_digit_runs_are_skipped_and_ibans_found_from_digits(text):
    expected = _starts_before(text)
    assert find_starts(text, rx.STARTS) == expected
    if text.isascii():
        assert find_starts(text, rx.ASCII_SCANNERS.starts) == expected


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


# Number-shaped text: digits (also non-ASCII ones) between the separators the candidates are made of.
NUMBER_TEXT = st.lists(st.sampled_from([*"0123456789", "٣", *" ()./+-", "ext", "x"]), max_size=24).map("".join)


def _starts(scanners: rx.Scanners, text: str) -> list[re.Match[str]]:
    return list(scanners.starts.finditer(text))


@settings(max_examples=500, deadline=None)
@given(UNICODE_TEXT)
def test_card_ssn_ipv4_tried_when_pattern_could_match_at_a_start(text):
    scanners = rx.ASCII_SCANNERS if text.isascii() else rx.UNICODE_SCANNERS
    for start in _starts(scanners, text):
        if scanners.card_ssn_ipv4.match(text, start.start()) is not None:
            assert _may_open_card_ssn_ipv4(text, start.start(), start.end()), text


@settings(max_examples=500, deadline=None)
@given(NUMBER_TEXT)
def test_not_a_phone_checked_when_either_pattern_could_match(candidate):
    if rx.NOT_A_PHONE.fullmatch(candidate) or rx.NOT_A_PHONE_PREFIX.fullmatch(candidate):
        assert rx.may_be_not_a_phone(candidate)


@settings(max_examples=300, deadline=None)
@given(UNICODE_TEXT)
def test_phone_refused_when_start_follows_plus_dash_or_slash(text):
    for position in range(1, len(text)):
        if text[position - 1] in "+-/":
            assert rx.PHONE.match(text, position) is None


@settings(max_examples=300, deadline=None)
@given(NUMBER_TEXT)
def test_whole_token_stops_short_only_when_candidate_has_space_and_dash_or_dot(candidate):
    whole = rx.WHOLE_TOKEN.match(candidate)
    if whole is not None and whole.end() < len(candidate):
        assert " " in candidate and ("-" in candidate or "." in candidate)


@settings(max_examples=300, deadline=None)
@given(UNICODE_TEXT)
def test_complete_number_found_alike_when_search_begins_after_last_space(text):
    for end in range(len(text) + 1):
        window_start = max(0, end - 39)
        after_space = max(window_start, text.rfind(" ", window_start, end) + 1)
        found = rx.COMPLETE_NUMBER_BEFORE.search(text, window_start, end) is not None
        assert found == (rx.COMPLETE_NUMBER_BEFORE.search(text, after_space, end) is not None)


GROUPED_NUMBER = st.lists(st.text("0123456789", min_size=1, max_size=5), min_size=1, max_size=5).flatmap(
    lambda groups: st.sampled_from([" ", "-", "."]).map(lambda separator: separator.join(groups))
)


@settings(max_examples=500, deadline=None)
@given(GROUPED_NUMBER)
def test_national_number_valid_when_some_home_plan_holds_it(candidate):
    validator = PhoneValidator()
    digits = re.sub(r"\D", "", candidate)
    verdict = validator.verdict(candidate)
    if verdict is Verdict.INTERNATIONAL or _fictional_nanp(
        digits[1:] if len(digits) == 11 and digits[0] == "1" else digits
    ):
        return
    assert (verdict is not Verdict.INVALID) == validator._home.any_fits(digits)


def _column_header_before(text: str, start: int, end: int) -> str | None:
    """`_column_header` as it was before it checked the value's cell first."""
    line_start = text.rfind("\n", 0, start) + 1
    if line_start == 0:
        return None
    line_end = text.find("\n", end)
    line = text[line_start : len(text) if line_end == -1 else line_end]
    delimiter = next((d for d in ("|", "\t", ";", ",") if d in line), None)
    if delimiter is None:
        return None
    cells = line.split(delimiter)
    column = text.count(delimiter, line_start, start)
    if column >= len(cells) or cells[column].strip() != text[start:end]:
        return None
    header = None
    for above in reversed(text[:line_start].splitlines()):
        if len(above.split(delimiter)) != len(cells):
            break
        header = above
    return None if header is None else header.split(delimiter)[column]


TABLE_TEXT = st.lists(
    st.sampled_from(["|", "\t", ";", ",", "\n", " ", "phone", "tel", "12", "555 1234", "x"]), max_size=16
)


@settings(max_examples=300, deadline=None)
@given(TABLE_TEXT.map("".join))
def test_column_header_found_alike_when_cell_is_checked_first(text):
    for start in range(len(text)):
        for end in range(start + 1, len(text) + 1):
            assert _column_header(text, start, end) == _column_header_before(text, start, end)


EVERY_PLAN = [_plan(region) for region in sorted(phonenumbers.SUPPORTED_REGIONS) if _plan(region).valid is not None]


def test_example_numbers_open_with_a_first_digit_of_their_plan_when_read_from_its_pattern():
    for plan in EVERY_PLAN:
        for number_type in range(11):  # every PhoneNumberType that has examples
            example = phonenumbers.example_number_for_type(plan.region, number_type)
            if example is not None:
                national = phonenumbers.national_significant_number(example)
                assert national[0] in plan.first_digits and plan.holds(national), (plan.region, national)


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(EVERY_PLAN), st.text("0123456789٣", min_size=1, max_size=13))
def test_plan_holds_a_number_when_its_valid_pattern_matches_it(plan, national):
    assert plan.holds(national) == (plan.valid.fullmatch(national) is not None)


def _iban_remainder(compact: str) -> int:
    """The ISO 7064 remainder as the standard states it: letters as two digits, one big integer, mod 97."""
    letters = {letter: str(value) for value, letter in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10)}
    rearranged = compact[4:] + compact[:4]
    return int("".join(letters.get(char.upper(), char) for char in rearranged)) % 97


@settings(max_examples=300, deadline=None)
@given(st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabz", min_size=18, max_size=18), st.integers(0, 99))
def test_iban_checked_like_the_whole_number_when_remainder_is_taken_per_character(bban, check):
    compact = f"DE{check:02d}{bban}"
    assert iban_ok(compact) == (_iban_remainder(compact) == 1)
    valid = f"DE{98 - _iban_remainder(f'DE00{bban}'):02d}{bban}"
    assert iban_ok(valid)


def test_span_built_in_c_equals_the_named_tuple_when_fields_are_the_same():
    built = new_span(3, 9, PiiType.PHONE)
    assert type(built) is Span and built == Span(3, 9, PiiType.PHONE) and built.kind is PiiType.PHONE


IPV6_TEXT = st.lists(st.sampled_from([*"0123456789abcdefABF:./ ", "::", "fe80", "ip ", "v6 ", "é"]), max_size=30).map(
    "".join
)


@settings(max_examples=500, deadline=None)
@given(IPV6_TEXT)
def test_ipv6_candidates_found_alike_when_scan_begins_near_first_colon(text):
    expected = [match.span() for match in rx.IPV6.finditer(text)]
    assert [match.span() for match in rx.IPV6.finditer(text, max(0, text.find(":") - 4))] == expected


PHONE_CANDIDATE = st.lists(
    st.sampled_from([*"0123456789", " ", "-", "+", "00", "(0)", "(", ")", " ext 12", "٣"]), max_size=16
)


@settings(max_examples=1000, deadline=None)
@given(PHONE_CANDIDATE.map("".join))
def test_international_told_alike_when_national_tests_are_skipped(candidate):
    assert PhoneValidator().is_international(candidate) == (
        PhoneValidator().verdict(candidate) is Verdict.INTERNATIONAL
    )


class _PairClaims:
    """`Claims` as it was: the taken ranges as sorted (start, end) pairs."""

    def __init__(self) -> None:
        self.taken: list[tuple[int, int]] = []

    def take(self, start: int, end: int) -> None:
        bisect.insort(self.taken, (start, end))

    def room_at(self, start: int) -> int | None:
        if not self.taken:
            return UNBOUNDED
        index = bisect.bisect_right(self.taken, (start, UNBOUNDED))
        if index and self.taken[index - 1][1] > start:
            return None
        return self.taken[index][0] if index < len(self.taken) else UNBOUNDED

    def free_since(self, position: int) -> int:
        index = bisect.bisect_right(self.taken, (position, UNBOUNDED))
        return self.taken[index - 1][1] if index else 0


RANGES = st.lists(st.tuples(st.integers(0, 30), st.integers(1, 6)), max_size=8)


@settings(max_examples=500, deadline=None)
@given(RANGES)
def test_claims_answer_like_sorted_pairs_when_kept_as_two_lists(ranges):
    claims, pairs = Claims(), _PairClaims()
    for start, length in ranges:  # overlapping ranges too: a reservation is not checked against the others
        claims.reserve(start, start + length)
        pairs.take(start, start + length)
        for position in range(40):
            assert claims.room_at(position) == pairs.room_at(position)
            assert claims.free_since(position) == pairs.free_since(position)
