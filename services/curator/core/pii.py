"""PII detection and scrubbing for one string: regex candidates, then checksum and structure validators."""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.curator.core import patterns as rx
from services.curator.core.claims import Claims
from services.curator.core.emails import find_emails
from services.curator.core.phones import HOME_REGIONS, PhoneValidator, Verdict
from services.curator.core.placeholders import replace_spans
from services.curator.core.spans import PiiType, Span
from services.curator.core.validators import IBAN_LENGTHS, card_ok, iban_ok, ipv4_ok, ipv6_ok, isbn_ok, ssn_ok

DEFAULT_PHONE_REGIONS = HOME_REGIONS
_CONTEXT_WINDOW = 40
_MIN_PHONE_DIGITS = 7
_MAX_PHONE_DIGITS = 15  # E.164's limit, without the extension
_MAX_PHONE_TRIES = 4


class PiiDetector:
    """Finds e-mail addresses, IBANs, payment cards, SSNs, IP addresses and phone numbers in text.

    Overlaps are resolved by claiming in that order: each finder only takes characters that no earlier,
    more specific finder took. An IBAN's digits are never a card, a card's digits never a phone, and a
    phone number directly before a card stops where the card starts.
    """

    def __init__(self, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> None:
        self._phones = PhoneValidator(phone_regions)

    def detect(self, text: str) -> list[Span]:
        # Prefilter: every type needs a digit or an "@", except an IPv6 address written in letters and colons.
        is_ascii = text.isascii()
        has_digit = (rx.ASCII_DIGIT if is_ascii else rx.ANY_DIGIT).search(text) is not None
        has_at = "@" in text
        colons = text.count(":")
        if not has_digit and not has_at and colons < 2:
            return []
        claims = Claims()
        if has_at:
            for span in find_emails(text):
                claims.add(span)
        starts = []
        if has_digit:
            scanners = rx.ASCII_SCANNERS if is_ascii else rx.UNICODE_SCANNERS
            starts = [match.start() for match in scanners.starts.finditer(text)]
            # An IBAN starts with a capital letter, a number with a digit, "+" or "(" (all below "A").
            if iban_starts := [start for start in starts if text[start] >= "A"]:
                starts = [start for start in starts if text[start] < "A"]
                _claim_ibans(text, iban_starts, claims)
            _claim_cards_ssns_ipv4s(text, starts, claims, scanners.card_ssn_ipv4)
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
            if (match := phone(text, position)) is None or not_a_phone(match.group()):
                continue
            # Only a start right after "<digit> " can continue a number: the common case skips the call.
            if text[position - 1 : position] == " " and _continues_a_number(text, position, claims):
                continue
            if (end := self._phone_end(text, match, room, scanners)) is not None:
                claims.add(Span(position, end, PiiType.PHONE))
                resume = end

    def _phone_end(self, text: str, match: re.Match[str], room: int, scanners: rx.Scanners) -> int | None:
        """End of the longest phone number starting at the candidate, or None.

        Shorter prefixes are tried only where a space separates groups, and never past the space after a
        dashed or dotted token: "520-5191537-7003690" is one identifier, "404-712-9999 745" two numbers.
        """
        start = match.start()
        number_end = match.start("ext") if match["ext"] else match.end()
        candidate = text[start:number_end]
        # NOT_A_PHONE already refused the whole match (four-digit groups, dates, decimals, ZIP+4): only what
        # differs from it is checked again.
        checked = match.end()
        if number_end != checked and rx.FOUR_DIGIT_GROUPS.fullmatch(candidate):
            return None
        whole = scanners.whole_token.match(candidate)
        if whole is not None and whole.end() < len(candidate):
            number_end = start + whole.end()
            candidate = text[start:number_end]
            ends = [number_end]
        else:
            ends = [match.end(), number_end] if match["ext"] else [match.end()]
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
            if end != checked and rx.NOT_A_PHONE_PREFIX.fullmatch(raw):
                continue
            if "-" in raw and _is_isbn(raw):
                continue
            if "." in raw and scanners.version_context.search(text, max(0, start - 12), start):
                return None
            if before is None:
                before = text[max(0, start - _CONTEXT_WINDOW) : start]
            header = _column_header(text, start, end) if in_lines else None
            if raw.isdigit() and header is None and not _said_after(text, end):
                # The words before are the same for every prefix: searched once, and only when needed (the
                # search costs more than the rest of the candidate's checks).
                if said_before is None:
                    said_before = scanners.phone_context.search(before) is not None
                if not said_before:
                    continue  # a bare digit run needs words that say "phone": no need to ask the numbering plans
            budget -= 1
            verdict = self._phones.verdict(raw)
            if verdict is Verdict.INTERNATIONAL:
                return end
            if verdict is Verdict.INVALID and not self._phones.valid_anywhere(raw):
                continue  # no number anywhere: no word around it can make it one
            if header is not None:  # a table cell: its column's header says what it holds
                if rx.PHONE_HEADER.search(header):
                    return end
                continue
            if verdict is Verdict.GROUPED and not scanners.not_phone_context.search(before):
                return end
            if _said_after(text, end):
                return end
            if said_before is None:
                said_before = scanners.phone_context.search(before) is not None
            if said_before:
                return end
        return None


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
    return not rx.COMPLETE_NUMBER_BEFORE.search(text, max(0, position - 40), position - 1)


def _said_after(text: str, end: int) -> bool:
    """Words that say "phone" just after the number ("... (mobile)", "... is my cell")."""
    return rx.PHONE_CONTEXT_AFTER.match(text, end) is not None


def _column_header(text: str, start: int, end: int) -> str | None:
    """The header of the column when the value fills a cell of a CSV row or a markdown table, else None."""
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
    for above in reversed(text[:line_start].splitlines()):  # the table's first line is its header
        if len(above.split(delimiter)) != len(cells):
            break
        header = above
    return None if header is None else header.split(delimiter)[column]


def _claim_ibans(text: str, starts: list[int], claims: Claims) -> None:
    for start in starts:
        if (match := rx.IBAN.match(text, start)) is None or not claims.is_free(*match.span()):
            continue
        if (end := _iban_end(match)) is not None:
            claims.add(Span(match.start(), end, PiiType.IBAN))
        elif (end := _iban_shape_end(match)) is not None:
            claims.reserve(match.start(), end)


# A candidate that fails validation may hide a real value starting one group later ("2024 4111 1111 ..."),
# so every number start is tried, not only those after the previous candidate.
def _claim_cards_ssns_ipv4s(text: str, starts: list[int], claims: Claims, candidate: re.Pattern[str]) -> None:
    resume = 0
    classify = candidate.match
    for position in starts:
        # Each of the three shapes opens with a digit: a "+" or "(" start can only be a phone.
        if position < resume or text[position] in "+(" or (match := classify(text, position)) is None:
            continue
        kind = match.lastgroup
        if kind == "card":
            if (end := _longest_valid_card(match)) is None or _continues_uniform_run(text, match, claims):
                continue
            span = Span(position, end, PiiType.CARD)
        elif kind == "ssn":
            if not ssn_ok(match["area"], match["group"], match["serial"]):
                if match["sep"] == "-" and claims.is_free(*match.span()):
                    claims.reserve(*match.span())  # "000-12-3456" is a test fixture or a typo, not a phone
                continue
            if not match["sep"] and not _ssn_context(text, position, match.end()):
                continue
            span = Span(position, match.end(), PiiType.SSN)
        else:
            address = match.group().partition("/")[0]
            if not ipv4_ok(address) or rx.VERSION_CONTEXT.search(text, max(0, position - 12), position):
                continue
            span = Span(position, match.end(), PiiType.IP)
        if claims.is_free(span.start, span.end):
            claims.add(span)
            resume = span.end


def _claim_ipv6s(text: str, claims: Claims) -> None:
    for match in rx.IPV6.finditer(text):
        if ipv6_ok(match.group().partition("/")[0]) and claims.is_free(*match.span()):
            claims.add(Span(*match.span(), PiiType.IP))


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
