"""Phone-number validation through Google's libphonenumber port, behind cheap structural checks.

`phonenumbers.parse` costs tens of microseconds, so national numbers skip it: the trunk prefix is
stripped here and the library only checks the national number against each region's numbering plan,
after a one-regex pre-check of that plan's overall pattern. Answers are cached because chat data repeats
numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType

# North American Numbering Plan regions share country code 1 and the same national shape.
_NANP_REGIONS = frozenset({"US", "CA", "PR", "GU", "VI", "AS", "MP", "BS", "BB", "JM", "TT", "DO"})
# 555 area codes and 555 exchanges are the fiction convention; chat data is full of them and they are
# redacted like real numbers so a model never learns to emit phone-shaped strings.
_FICTIONAL = "555"
_EXTENSION = re.compile(r"(?i)\s*(?:ext\.?|x|#)\s*\d+$")


# Regions where mobile numbers are customarily written without the trunk prefix ("98765 43210" in India).
_MOBILES_WITHOUT_TRUNK = frozenset({"IN"})


class PhoneValidator:
    """Decides whether a candidate string is a phone number written for one of `regions`.

    International numbers (`+CC` or `00CC`) are accepted from any country. National numbers are accepted
    only for the configured regions, and only with the trunk prefix ("0") where the region has one, because
    without it almost any 8-11 digit run (a date, an order number) is a valid number somewhere. Regions
    without a trunk prefix (North America, Italy, Spain, Poland ...) are checked as written.
    """

    def __init__(self, regions: Sequence[str]) -> None:
        trunk_zero, no_trunk, mobiles = [], [], []
        for region in regions:
            metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
            if metadata is None:
                raise ValueError(f"unknown phone region {region!r}")
            plan = (region, metadata.country_code, re.compile(metadata.general_desc.national_number_pattern))
            if region in _NANP_REGIONS:
                continue
            if metadata.national_prefix == "0":
                trunk_zero.append(plan)
                if region in _MOBILES_WITHOUT_TRUNK:
                    mobiles.append(plan)
            elif metadata.national_prefix is None:
                no_trunk.append(plan)
        self._trunk_zero_plans = tuple(trunk_zero)
        self._no_trunk_plans = tuple(no_trunk)
        self._mobile_plans = tuple(mobiles)
        self._nanp = any(r in _NANP_REGIONS for r in regions)
        self.is_phone = lru_cache(maxsize=65536)(self._is_phone)

    def _is_phone(self, candidate: str) -> bool:
        if candidate.lstrip("(").startswith("+"):
            return _parses_valid(candidate, None)
        digits = "".join(c for c in _EXTENSION.sub("", candidate) if c.isdigit())
        if digits.startswith("00"):
            # "00" is the international call prefix everywhere outside NANP; GB stands for all of them.
            return _parses_valid(candidate, "GB")
        if digits.startswith("0"):
            # Italian numbers keep their leading zero: it is part of the number, not a trunk prefix.
            return _valid_in_any(digits[1:], self._trunk_zero_plans) or _valid_in_any(digits, self._no_trunk_plans)
        return (
            (self._nanp and _valid_nanp(digits))
            or _valid_in_any(digits, self._no_trunk_plans)
            or _valid_in_any(digits, self._mobile_plans, PhoneNumberType.MOBILE)
        )


def _valid_in_any(national: str, plans: tuple, only: int | None = None) -> bool:
    """Valid in one of the regions' numbering plans (and of type `only`, when given)."""
    for region, country_code, general_pattern in plans:
        if general_pattern.fullmatch(national):
            number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
            if national.startswith("0"):
                number.italian_leading_zero = True
            if phonenumbers.is_valid_number_for_region(number, region) and (
                only is None or phonenumbers.number_type(number) == only
            ):
                return True
    return False


def _valid_nanp(digits: str) -> bool:
    national = digits[1:] if len(digits) == 11 and digits[0] == "1" else digits
    if len(national) != 10:
        return False
    if _FICTIONAL in (national[:3], national[3:6]):
        return True
    # Area code and exchange both start with 2-9; checking that first spares most library calls.
    if national[0] < "2" or national[3] < "2":
        return False
    return phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=1, national_number=int(national)))


def _parses_valid(candidate: str, region: str | None) -> bool:
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)
