"""PII detection and scrubbing for one string: regex candidates, then checksum and structure validators."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from services.curator.core import patterns as rx
from services.curator.core.claims import Claims, new_span
from services.curator.core.emails import find_emails
from services.curator.core.phones import HOME_REGIONS, PhoneValidator, Verdict
from services.curator.core.placeholders import replace_spans
from services.curator.core.spans import PiiType, Span
from services.curator.core.validators import IBAN_LENGTHS, card_ok, iban_ok, ipv4_ok, ipv6_ok, isbn_ok, ssn_ok

DEFAULT_PHONE_REGIONS = HOME_REGIONS
_CONTEXT_WINDOW: Final = 40
_MIN_PHONE_DIGITS: Final = 7
_MAX_PHONE_DIGITS: Final = 15  # E.164's limit, without the extension
_MAX_PHONE_TRIES: Final = 4
_CELL_DELIMITERS: Final = ("|", "\t", ";", ",")  # tried in this order: a markdown table's cells may hold commas


class PiiDetector:
    """Finds e-mail addresses, IBANs, payment cards, SSNs, IP addresses and phone numbers in text.

    Overlaps are resolved by claiming in that order: each finder only takes characters that no earlier,
    more specific finder took. An IBAN's digits are never a card, a card's digits never a phone, and a
    phone number directly before a card stops where the card starts.
    """

    def __init__(self, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> None:
        self._phones = PhoneValidator(phone_regions)

    def detect(self, text: str) -> list[Span]:
        scanners = rx.ASCII_SCANNERS if text.isascii() else rx.UNICODE_SCANNERS
        # One scan finds where each number and IBAN may start. It also serves as the prefilter: with no start
        # (no digit, or only short numbers), only an e-mail address or an IPv6 address written in letters and
        # colons can be found. Most texts with a digit have a start, so a separate test for digits costs more
        # on chat data than it saves.
        starts, run_ends, iban_starts = find_starts(text, scanners.starts)
        has_at = "@" in text
        colons = text.count(":")
        if not starts and not iban_starts and not has_at and colons < 2:
            return []
        claims = Claims()
        if has_at:
            for span in find_emails(text):
                claims.add(span)
        if iban_starts:
            _claim_ibans(text, iban_starts, claims)
        if starts:
            _claim_cards_ssns_ipv4s(text, starts, run_ends, claims, scanners.card_ssn_ipv4)
        if colons >= 2 and ("::" in text or rx.IPV6_FULL_HINT.search(text)):
            _claim_ipv6s(text, claims)
        if starts:
            self._claim_phones(text, starts, claims, scanners)
        return claims.spans

    def scrub(self, text: str) -> tuple[str, list[Span]]:
        """The text with every detected span replaced by its type's placeholder, and the spans replaced."""
        spans = self.detect(text)
        return (replace_spans(text, spans) if spans else text), spans

    def _claim_phones(self, text: str, starts: list[int], claims: Claims, scanners: rx.Scanners) -> None:
        resume = 0
        phone, not_a_phone = scanners.phone.match, scanners.not_a_phone.fullmatch
        for position in starts:
            if position < resume or (room := claims.room_at(position)) is None:
                continue
            # The tests that turn a start down are independent; the cheapest come first. A start right after
            # "+", "-" or "/" fails PHONE's look-behind (STARTS already refuses one after a word or a ".").
            previous = text[position - 1 : position]
            if previous == "-" or previous == "/" or previous == "+":
                continue
            # Only a start right after "<digit> " can continue a number: the common case skips the call.
            if previous == " " and _continues_a_number(text, position, claims):
                continue
            if (match := phone(text, position)) is None:
                continue
            if rx.may_be_not_a_phone(raw := match.group()) and not_a_phone(raw):
                continue
            if (end := self._phone_end(text, position, match, room, scanners)) is not None:
                claims.add(new_span(position, end, PiiType.PHONE))
                resume = end

    def _phone_end(self, text: str, start: int, match: re.Match[str], room: int, scanners: rx.Scanners) -> int | None:
        """End of the longest phone number starting at the candidate, or None.

        Shorter prefixes are tried only where a space separates groups, and never past the space after a
        dashed or dotted token: "520-5191537-7003690" is one identifier, "404-712-9999 745" two numbers.
        """
        ext_start = match.start("ext")  # -1 without an extension
        number_end = ext_start if ext_start != -1 else match.end()
        candidate = text[start:number_end]
        # NOT_A_PHONE already refused the whole match (four-digit groups, dates, decimals, ZIP+4): only what
        # differs from it is checked again.
        checked = match.end()
        if number_end != checked and rx.FOUR_DIGIT_GROUPS.fullmatch(candidate):
            return None
        # WHOLE_TOKEN can only stop short of a candidate with a space and a "-" or "." in it.
        whole = None
        if " " in candidate and ("-" in candidate or "." in candidate):
            whole = scanners.whole_token.match(candidate)
        if whole is not None and whole.end() < len(candidate):
            number_end = start + whole.end()
            candidate = text[start:number_end]
            ends = [number_end]
        else:
            ends = [match.end(), number_end] if ext_start != -1 else [match.end()]
        space = candidate.rfind(" ", 1)
        while space > 0:
            ends.append(start + space)
            space = candidate.rfind(" ", 1, space)
        before: str | None = None
        said_before: bool | None = None
        budget = _MAX_PHONE_TRIES
        in_lines = "\n" in text
        for end in ends:
            raw = text[start:end]
            digit_count = _count_digits(text, start, min(end, number_end))
            if end > room or digit_count > _MAX_PHONE_DIGITS:
                continue
            if digit_count < _MIN_PHONE_DIGITS or budget == 0:
                return None
            if end != checked and rx.may_be_not_a_phone(raw) and rx.NOT_A_PHONE_PREFIX.fullmatch(raw):
                continue
            if "-" in raw and _is_isbn(raw):
                continue
            if "." in raw and scanners.version_context.search(text, max(0, start - 12), start):
                return None
            if before is None:
                before = text[max(0, start - _CONTEXT_WINDOW) : start]
            header = _column_header(text, start, end) if in_lines else None
            said_after: bool | None = None  # asked at most once per prefix, and only when needed
            if raw.isdigit() and header is None and not (said_after := _said_after(text, end)):
                # The words before are the same for every prefix: searched once, and only when needed (the
                # search costs more than the rest of the candidate's checks).
                if said_before is None:
                    said_before = scanners.phone_context.search(before) is not None
                if not said_before:
                    continue  # a bare digit run needs words that say "phone": no need to ask the numbering plans
            budget -= 1
            # A table cell: its column's header says what it holds. In a column that is not for phones only an
            # international number counts, which is decided without the national tests.
            phone_column = header is not None and rx.PHONE_HEADER.search(header) is not None
            if header is not None and not phone_column:
                if self._phones.is_international(raw):
                    return end
                continue
            verdict = self._phones.verdict(raw)
            if verdict is Verdict.INTERNATIONAL:
                return end
            if verdict is Verdict.INVALID and not self._phones.valid_anywhere(raw):
                continue  # no number anywhere: no word around it can make it one
            if phone_column:
                return end
            if verdict is Verdict.GROUPED and not scanners.not_phone_context.search(before):
                return end
            if said_after if said_after is not None else _said_after(text, end):
                return end
            if said_before is None:
                said_before = scanners.phone_context.search(before) is not None
            if said_before:
                return end
        return None


def find_starts(text: str, pattern: re.Pattern[str]) -> tuple[list[int], list[int], list[int]]:
    """Where numbers may start, where the first run of digits of each ends, and where IBANs may start (STARTS)."""
    starts: list[int] = []
    run_ends: list[int] = []
    iban_starts: list[int] = []
    for match in pattern.finditer(text):
        start, run_end = match.span()
        if start >= 2 and "A" <= text[start - 1] <= "Z":  # an IBAN's check digits, after its country code
            iban_starts.append(start - 2)
        elif text[start] < "A":  # a digit, "+" or "("
            starts.append(start)
            run_ends.append(run_end)
        # A number that opens with a digit outside ASCII ("٣") has never been looked for: it stays that way here,
        # where a speed change must not change a finding.
    return starts, run_ends, iban_starts


def _count_digits(text: str, start: int, end: int) -> int:
    """The digits in `text[start:end]`, a stretch of a phone candidate before its extension.

    PHONE matches only digits and the separators " ()./+-" there, so the digits are what the separators leave:
    seven counts of one character cost less than a regex call that lists every digit.
    """
    return (
        end
        - start
        - text.count(" ", start, end)
        - text.count("-", start, end)
        - text.count(".", start, end)
        - text.count("(", start, end)
        - text.count(")", start, end)
        - text.count("/", start, end)
        - text.count("+", start, end)
    )


def _ssn_context(text: str, start: int, end: int) -> bool:
    return bool(
        rx.SSN_CONTEXT.search(text, max(0, start - _CONTEXT_WINDOW), start) or rx.SSN_CONTEXT_AFTER.match(text, end)
    )


def _continues_a_number(text: str, position: int, claims: Claims) -> bool:
    """True when the candidate is the next group of a number written with spaces just before it."""
    if position < 2 or text[position - 1] != " " or not text[position - 2].isdigit():
        return False
    if text[position] in "(+" or not claims.is_free(position - 2, position - 1):
        return False
    # No match crosses a space: only the token before the candidate's space is searched.
    window_start = max(0, position - 40)
    window_start = max(window_start, text.rfind(" ", window_start, position - 1) + 1)
    return not rx.COMPLETE_NUMBER_BEFORE.search(text, window_start, position - 1)


def _said_after(text: str, end: int) -> bool:
    """Words that say "phone" just after the number ("... (mobile)", "... is my cell")."""
    return rx.PHONE_CONTEXT_AFTER.match(text, end) is not None


def _column_header(text: str, start: int, end: int) -> str | None:
    """The header of the column when the value fills a cell of a CSV row or a markdown table, else None."""
    line_start = text.rfind("\n", 0, start) + 1
    if line_start == 0:
        return None
    line_end = text.find("\n", end)
    if line_end == -1:
        line_end = len(text)
    for delimiter in _CELL_DELIMITERS:
        if text.find(delimiter, line_start, line_end) != -1:
            break
    else:
        return None
    # Most values do not fill a cell: that is checked on the cell alone, before any line is split.
    cell_start = max(line_start, text.rfind(delimiter, line_start, start) + 1)
    cell_end = text.find(delimiter, start, line_end)
    if text[cell_start : line_end if cell_end == -1 else cell_end].strip() != text[start:end]:
        return None
    cells = text.count(delimiter, line_start, line_end) + 1
    header = None
    for above in reversed(text[:line_start].splitlines()):  # the table's first line is its header
        if above.count(delimiter) + 1 != cells:
            break
        header = above
    return None if header is None else header.split(delimiter)[text.count(delimiter, line_start, start)]


def _claim_ibans(text: str, starts: list[int], claims: Claims) -> None:
    for start in starts:
        if (match := rx.IBAN.match(text, start)) is None or not claims.is_free(*match.span()):
            continue
        if (end := _iban_end(match)) is not None:
            claims.add(new_span(match.start(), end, PiiType.IBAN))
        elif (end := _iban_shape_end(match)) is not None:
            claims.reserve(match.start(), end)


# A candidate that fails validation may hide a real value starting one group later ("2024 4111 1111 ..."),
# so every number start is tried, not only those after the previous candidate.
def _claim_cards_ssns_ipv4s(
    text: str, starts: list[int], run_ends: list[int], claims: Claims, candidate: re.Pattern[str]
) -> None:
    resume = 0
    classify = candidate.match
    for index, position in enumerate(starts):
        # Each of the three shapes opens with a digit: a "+" or "(" start can only be a phone. A start inside a
        # claimed range (the digit groups of an IBAN) can open nothing that would be claimed.
        if position < resume or text[position] in "+(" or not _may_open_card_ssn_ipv4(text, position, run_ends[index]):
            continue
        if claims.room_at(position) is None:
            continue
        if (match := classify(text, position)) is None:
            continue
        kind = match.lastgroup
        if kind == "card":
            if (card_end := _longest_valid_card(match)) is None or _continues_uniform_run(text, match, claims):
                continue
            end, pii_type = card_end, PiiType.CARD
        elif kind == "ssn":
            if not ssn_ok(match["area"], match["group"], match["serial"]):
                if match["sep"] == "-" and claims.is_free(*match.span()):
                    claims.reserve(*match.span())  # "000-12-3456" is a test fixture or a typo, not a phone
                continue
            if not match["sep"] and not _ssn_context(text, position, match.end()):
                continue
            end, pii_type = match.end(), PiiType.SSN
        else:
            address = match.group().partition("/")[0]
            if not ipv4_ok(address) or rx.VERSION_CONTEXT.search(text, max(0, position - 12), position):
                continue
            end, pii_type = match.end(), PiiType.IP
        if claims.is_free(position, end):
            claims.add(new_span(position, end, pii_type))
            resume = end


def _may_open_card_ssn_ipv4(text: str, start: int, run_end: int) -> bool:
    """False when CARD_SSN_IPV4 cannot match at a number start whose first run of digits ends at `run_end`.

    Read from the run's length and the characters at fixed places after it, which rules out most starts (phone
    numbers) for less than the regex call costs. Only what each shape needs is tested, so every start the
    pattern matches passes (tests/unit/curator/test_fast_paths.py checks it).
    """
    length = run_end - start
    if 13 <= length <= 19 or length == 9:  # a card's digits written together, or a bare SSN
        return True
    after = text[run_end : run_end + 1]
    if after == ".":  # an IPv4 address: one to three digits, a dot, one to three digits, a dot
        return length <= 3 and "." in text[run_end + 2 : run_end + 5]
    if after != " " and after != "-":
        return False
    if length == 3:  # SSN 3-2-4: the same separator again after two digits
        return text[run_end + 3 : run_end + 4] == after
    # Card 4-4-4-4 or 4-6-5: the same separator again after four or six digits.
    return length == 4 and (text[run_end + 5 : run_end + 6] == after or text[run_end + 7 : run_end + 8] == after)


def _claim_ipv6s(text: str, claims: Claims) -> None:
    # An address has a colon within its first five characters: the pattern, which cannot skip ahead to a likely
    # start, is not tried at every position before that.
    for match in rx.IPV6.finditer(text, max(0, text.find(":") - 4)):
        if ipv6_ok(match.group().partition("/")[0]) and claims.is_free(*match.span()):
            claims.add(new_span(match.start(), match.end(), PiiType.IP))


def _longest_valid_card(match: re.Match[str]) -> int | None:
    """End of the longest prefix of the candidate, cut at a separator, that is a valid card number."""
    raw = match.group()
    cuts = [len(raw)] + [i for i in range(len(raw) - 1, 0, -1) if raw[i] in " -"]
    for cut in cuts:
        if card_ok(raw[:cut].replace(" ", "").replace("-", "")):
            return match.start() + cut
    return None


def _continues_uniform_run(text: str, match: re.Match[str], claims: Claims) -> bool:
    """True when the candidate is the tail of a longer number grouped the same way (a 22-digit tracking id).

    A preceding group of four with the same separator belongs to the same number unless it is a year, an
    already claimed value (two cards in a row), or something number-like sits before that group too, which
    marks two numbers written back to back.
    """
    separator = match.group("s1") or match.group("s2")
    if separator is None:
        return False
    start = match.start()
    run = rx.UNIFORM_RUN[separator].search(text, max(claims.free_since(start), start - 64), start)
    if run is None or rx.YEAR.fullmatch(run.group()[:-1]):  # "20 May 2022 4111 1111 ...": a date, then a card
        return False
    return not rx.NUMBER_TAIL.search(text, max(0, run.start() - 2), run.start())


def _is_isbn(raw: str) -> bool:
    """A hyphenated ISBN with a valid check digit is a book, not a phone.

    ISBN-10 has four parts and ISBN-13 five starting 978 or 979, each ending in a one-character check.
    """
    if raw.count("-") < 3:
        return False
    parts = raw.split("-")
    if len(parts) not in (4, 5) or len(parts[-1]) != 1:
        return False
    if len(parts) == 5 and parts[0] not in ("978", "979"):
        return False
    return isbn_ok("".join(parts))


def _iban_end(match: re.Match[str]) -> int | None:
    """End of the IBAN inside the candidate: exactly the country's length, so a following group is left out."""
    compact = match.group().replace(" ", "")
    length = IBAN_LENGTHS.get(compact[:2])  # only the country's own length can pass the check
    if length is None or len(compact) < length or not iban_ok(compact[:length]):
        return None
    return _end_after_chars(match, length)


def _iban_shape_end(match: re.Match[str]) -> int | None:
    """End of an IBAN-shaped identifier with wrong check digits: known country, full length."""
    compact = match.group().replace(" ", "")
    length = IBAN_LENGTHS.get(compact[:2])
    return None if length is None or len(compact) < length else _end_after_chars(match, length)


def _end_after_chars(match: re.Match[str], count: int) -> int:
    """Position just after the `count`-th non-space character of the match."""
    raw = match.group()
    consumed = index = 0
    while consumed < count:
        consumed += raw[index] != " "
        index += 1
    return match.start() + index
