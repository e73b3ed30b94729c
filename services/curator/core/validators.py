"""Checksum and structure validators that turn regex candidates into PII findings.

Each function takes the candidate already normalised (digits only, or the IBAN without spaces) so the
detector pays for normalisation once.
"""

from __future__ import annotations

import ipaddress
from typing import Final

# Lengths from the SWIFT IBAN registry; a candidate whose country is missing here is not an IBAN.
IBAN_LENGTHS: Final[dict[str, int]] = {
    "AD": 24,
    "AE": 23,
    "AL": 28,
    "AT": 20,
    "AZ": 28,
    "BA": 20,
    "BE": 16,
    "BG": 22,
    "BH": 22,
    "BI": 27,
    "BR": 29,
    "BY": 28,
    "CH": 21,
    "CR": 22,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DJ": 27,
    "DK": 18,
    "DO": 28,
    "EE": 20,
    "EG": 29,
    "ES": 24,
    "FI": 18,
    "FK": 18,
    "FO": 18,
    "FR": 27,
    "GB": 22,
    "GE": 22,
    "GI": 23,
    "GL": 18,
    "GR": 27,
    "GT": 28,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IL": 23,
    "IQ": 23,
    "IS": 26,
    "IT": 27,
    "JO": 30,
    "KW": 30,
    "KZ": 20,
    "LB": 28,
    "LC": 32,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "LY": 25,
    "MC": 27,
    "MD": 24,
    "ME": 22,
    "MK": 19,
    "MN": 20,
    "MR": 27,
    "MT": 31,
    "MU": 30,
    "NI": 28,
    "NL": 18,
    "NO": 15,
    "OM": 23,
    "PK": 24,
    "PL": 28,
    "PS": 29,
    "PT": 25,
    "QA": 29,
    "RO": 24,
    "RS": 22,
    "RU": 33,
    "SA": 24,
    "SC": 31,
    "SD": 18,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "SO": 23,
    "ST": 25,
    "SV": 28,
    "TL": 23,
    "TN": 24,
    "TR": 26,
    "UA": 29,
    "VA": 22,
    "VG": 24,
    "XK": 20,
    "YE": 30,
}

# (first digits range, allowed lengths) per network. Ranges are inclusive and compared on a prefix of the
# same width, so "2221".."2720" covers the Mastercard 2-series without listing 500 prefixes.
_CARD_RANGES: Final[tuple[tuple[str, str, frozenset[int]], ...]] = (
    ("4", "4", frozenset({13, 16, 19})),  # Visa
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard 2-series
    ("34", "34", frozenset({15})),  # American Express
    ("37", "37", frozenset({15})),
    ("6011", "6011", frozenset(range(16, 20))),  # Discover
    ("644", "649", frozenset(range(16, 20))),
    ("65", "65", frozenset(range(16, 20))),
    ("300", "305", frozenset(range(14, 20))),  # Diners Club
    ("36", "36", frozenset(range(14, 20))),
    ("38", "39", frozenset(range(14, 20))),
    ("3528", "3589", frozenset(range(16, 20))),  # JCB
    ("1800", "1800", frozenset({15})),  # JCB, older 15-digit numbers
    ("2131", "2131", frozenset({15})),
    ("62", "62", frozenset(range(16, 20))),  # UnionPay
    ("5018", "5018", frozenset(range(13, 20))),  # Maestro
    ("5020", "5020", frozenset(range(13, 20))),
    ("5038", "5038", frozenset(range(13, 20))),
    ("6304", "6304", frozenset(range(13, 20))),
    ("6759", "6759", frozenset(range(13, 20))),
    ("6761", "6763", frozenset(range(13, 20))),
)

_LUHN_DOUBLED: Final = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_ok(digits: str) -> bool:
    """True when the string of ASCII digits passes the Luhn (mod 10) check. Anything else fails it: the
    detector's ``\\d`` also matches other scripts' digits (e.g. Arabic-Indic), which no card number mixes in."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        total += _LUHN_DOUBLED[value] if position % 2 else value
    return total % 10 == 0


def _card_prefixes() -> dict[int, frozenset[str]]:
    """Per card length, every issuing prefix the ranges cover, written out (a few thousand strings), so a
    candidate's network is found with four set look-ups instead of a walk over the ranges."""
    prefixes: dict[int, set[str]] = {}
    for low, high, lengths in _CARD_RANGES:
        width = len(low)
        for value in range(int(low), int(high) + 1):
            for length in lengths:
                prefixes.setdefault(length, set()).add(str(value).zfill(width))
    return {length: frozenset(values) for length, values in prefixes.items()}


_CARD_PREFIXES: Final = _card_prefixes()


def card_network_accepts(digits: str) -> bool:
    """True when a known card network issues numbers with this prefix and length."""
    prefixes = _CARD_PREFIXES.get(len(digits))
    return prefixes is not None and (
        digits[:1] in prefixes or digits[:2] in prefixes or digits[:3] in prefixes or digits[:4] in prefixes
    )


def card_ok(digits: str) -> bool:
    """A payment card number: 13-19 digits, an issuing network's prefix and length, and a Luhn check digit."""
    return 13 <= len(digits) <= 19 and card_network_accepts(digits) and luhn_ok(digits)


def isbn_ok(digits: str) -> bool:
    """ISBN-10 (weights 10..1, mod 11, final X allowed) or ISBN-13 (weights 1,3, mod 10)."""
    if len(digits) == 10 and digits[:9].isdigit() and (digits[9].isdigit() or digits[9] in "Xx"):
        check = 10 if digits[9] in "Xx" else int(digits[9])
        return (sum((10 - i) * int(c) for i, c in enumerate(digits[:9])) + check) % 11 == 0
    if len(digits) == 13 and digits.isdigit():
        return sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(digits)) % 10 == 0
    return False


def iban_ok(compact: str) -> bool:
    """An IBAN without spaces: known country, that country's length, and ISO 7064 mod-97 remainder 1."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    if not (rearranged.isascii() and rearranged.isalnum()):
        return False
    # ISO 13616 reads each letter (either case) as two digits, 10-35. The remainder of that number is taken one
    # character at a time: cheaper than building the digit string and its integer.
    remainder = 0
    for char in rearranged.upper():
        code = ord(char)
        if code <= 57:  # "0".."9"
            remainder = (remainder * 10 + code - 48) % 97
        else:  # "A".."Z": 10..35
            remainder = (remainder * 100 + code - 55) % 97
    return remainder == 1


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """US Social Security Number rules: area not 000, 666 or 900-999; group not 00; serial not 0000."""
    return area != "000" and area != "666" and area[0] != "9" and group != "00" and serial != "0000"


def ipv4_ok(text: str) -> bool:
    """A dotted-quad IPv4 address exactly as `ipaddress.IPv4Address` accepts one: four octets of one to three
    ASCII digits, none above 255, no leading zero (tests/unit/curator/test_validators.py compares the two).
    Written out because the library's constructor is interpreted Python and costs more than everything else
    the detector does with an address."""
    octets = text.split(".")
    if len(octets) != 4 or not text.isascii():
        return False
    for octet in octets:
        if not octet.isdigit() or len(octet) > 3 or (len(octet) > 1 and octet[0] == "0") or int(octet) > 255:
            return False
    return True


_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


def ipv6_ok(text: str) -> bool:
    # "%zone" suffixes are accepted by ipaddress; a bare "::" (unspecified) is too short to identify anyone.
    if text == "::":
        return False
    # Eight groups of one to four hex digits (how most addresses are written) are valid as they stand: decided
    # without the library's constructor, which is interpreted Python (a unit test compares the two).
    groups = text.split(":")
    if len(groups) == 8 and all(0 < len(group) <= 4 and _HEX_DIGITS.issuperset(group) for group in groups):
        return True
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True
