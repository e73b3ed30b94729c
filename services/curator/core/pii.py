"""PII detection and scrubbing for one string: regex candidates, then checksum and structure validators."""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.curator.core import patterns as rx
from services.curator.core.claims import Claims
from services.curator.core.emails import find_emails
from services.curator.core.phones import PhoneValidator
from services.curator.core.spans import PiiType, Span, replace_spans
from services.curator.core.validators import IBAN_LENGTHS, card_ok, iban_ok, ipv4_ok, ipv6_ok, isbn_ok, ssn_ok

DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "NL", "IE", "CH", "AT", "AU", "IN")
_CONTEXT_WINDOW = 40
_MIN_PHONE_DIGITS = 7
_MAX_PHONE_DIGITS = 15  # E.164's limit, without the extension
_MAX_PHONE_TRIES = 4
_DIGITS = "0123456789"


class PiiDetector:
    """Finds e-mail addresses, IBANs, payment cards, SSNs, IP addresses and phone numbers in text.

    Overlaps are resolved by claiming in that order: each finder only takes characters that no earlier,
    more specific finder took. An IBAN's digits are never a card, a card's digits never a phone, and a
    phone number directly before a card stops where the card starts.
    """

    def __init__(self, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> None:
        self._phones = PhoneValidator(phone_regions)

    def detect(self, text: str) -> list[Span]:
        claims = Claims()
        if "@" in text:
            for span in find_emails(text):
                claims.add(span)
        starts: list[int] = []
        if rx.ANY_DIGIT.search(text):
            _claim_ibans(text, claims)
            starts = [m.start() for m in rx.NUMBER_START.finditer(text)]
            _claim_cards_ssns_ipv4s(text, starts, claims)
        if text.count(":") >= 2:
            _claim_ipv6s(text, claims)
        self._claim_phones(text, starts, claims)
        return claims.spans

    def scrub(self, text: str) -> tuple[str, list[Span]]:
        """The text with every detected span replaced by its type's placeholder, and the spans replaced."""
        spans = self.detect(text)
        return (replace_spans(text, spans) if spans else text), spans

    def _claim_phones(self, text: str, starts: list[int], claims: Claims) -> None:
        resume = 0
        for position in starts:
            if position < resume or (match := rx.PHONE.match(text, position)) is None:
                continue
            room = claims.room_at(position)
            end = None if room is None else self._phone_end(text, match, room)
            if end is not None:
                claims.add(Span(position, end, PiiType.PHONE))
                resume = end

    def _phone_end(self, text: str, match: re.Match[str], room: int) -> int | None:
        """End of the longest phone number starting at the candidate, or None.

        Shorter prefixes are tried only where a space separates groups: a dash or dot inside one token
        ("520-5191537-7003690") joins parts of one identifier, while a space may end a number.
        """
        start = match.start()
        number_end = match.start("ext") if match["ext"] else match.end()
        candidate = text[start:number_end]
        ends = [match.end(), number_end] if match["ext"] else [match.end()]
        ends += [start + i for i in range(len(candidate) - 1, 0, -1) if candidate[i] == " "]
        budget = _MAX_PHONE_TRIES
        for end in ends:
            raw = text[start:end]
            digit_count = sum(map(text[start : min(end, number_end)].count, _DIGITS))
            if end > room or digit_count > _MAX_PHONE_DIGITS:
                continue
            if digit_count < _MIN_PHONE_DIGITS or budget == 0:
                return None
            if rx.DATE_SHAPE.fullmatch(raw) or _is_isbn(raw):
                continue
            if raw.isdigit() and not rx.PHONE_CONTEXT.search(text, max(0, start - _CONTEXT_WINDOW), start):
                continue
            if "." in raw and rx.VERSION_CONTEXT.search(text, max(0, start - 12), start):
                return None
            budget -= 1
            if self._phones.is_phone(raw):
                return end
        return None


def _claim_ibans(text: str, claims: Claims) -> None:
    for hint in rx.IBAN_START.finditer(text):
        if (match := rx.IBAN.match(text, hint.start())) is None or not claims.is_free(*match.span()):
            continue
        if (end := _iban_end(match)) is not None:
            claims.add(Span(match.start(), end, PiiType.IBAN))
        elif (end := _iban_shape_end(match)) is not None:
            claims.reserve(match.start(), end)


# A candidate that fails validation may hide a real value starting one group later ("2024 4111 1111 ..."),
# so every number start is tried, not only those after the previous candidate.
def _claim_cards_ssns_ipv4s(text: str, starts: list[int], claims: Claims) -> None:
    resume = 0
    for position in starts:
        if position < resume or (match := rx.CARD_SSN_IPV4.match(text, position)) is None:
            continue
        kind = match.lastgroup
        if kind == "card":
            if _continues_uniform_run(text, match, claims) or (end := _longest_valid_card(match)) is None:
                continue
            span = Span(position, end, PiiType.CARD)
        elif kind == "ssn":
            if not ssn_ok(match["area"], match["group"], match["serial"]):
                if match["sep"] == "-" and claims.is_free(*match.span()):
                    claims.reserve(*match.span())  # "000-12-3456" is a test fixture or a typo, not a phone
                continue
            if not match["sep"] and not rx.SSN_CONTEXT.search(text, max(0, position - _CONTEXT_WINDOW), position):
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
    parts = raw.split("-")
    if len(parts) not in (4, 5) or len(parts[-1]) != 1:
        return False
    if len(parts) == 5 and parts[0] not in ("978", "979"):
        return False
    return isbn_ok("".join(parts))


def _iban_end(match: re.Match[str]) -> int | None:
    """End of the IBAN inside the candidate: exactly the country's length, so a following group is left out."""
    compact = match.group().replace(" ", "")
    for length in range(len(compact), 14, -1):
        if iban_ok(compact[:length]):
            return _end_after_chars(match, length)
    return None


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
