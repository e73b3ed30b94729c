"""Phone-number validation from libphonenumber's metadata, for every region it knows.

A candidate gets one of four verdicts, and the detector adds what the words around it say:

- `INTERNATIONAL`: `+CC` or `00CC` and valid for that country. Accepted as is.
- `GROUPED`: a national number of one of the home regions, valid there, written with the trunk prefix
  where the region has one, and grouped as libphonenumber (or one of its alternate formats) groups that
  number there: "020 7946 0958", "91 234 56 78", "(212) 332-4068". Also without the trunk prefix exactly
  as a format prints it where the library's own rule leaves the prefix out (Brazil's "41 7763-8107"), and a
  number that can only be a mobile exactly in another layout its region prints for that length (Norway's
  "917 00 439"). Accepted unless the text says it is an order, part or tracking number.
- `VALID`: valid somewhere, but written without separators, without the trunk prefix, or grouped in a
  way that region never groups it ("51-2928-7387" is a valid Brazilian number grouped as part numbers
  are). Accepted only next to words that say "phone" (`valid_anywhere` then covers every region).
- `INVALID`.

libphonenumber's own parser costs a millisecond per candidate once numbers of many regions are in play,
so the metadata is compiled here once: per region one regex for "any valid number type" and the
grouping of each national format, whose group ends follow from the number's length alone. The verdict is
then a few set comparisons and regex matches. Answers are cached because
chat data repeats numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import IntEnum
from functools import cache
from typing import Final, NamedTuple

import phonenumbers
from phonenumbers import phonenumbermatcher

from services.curator.core.plan_patterns import ASCII_DIGITS, LONG_GROUP, first_digits, fixed_ends, width

ALL_REGIONS = "all"
# Regions whose national numbers count without a word that says "phone": the countries of the major chat
# languages. Numbers of any other region count when written with "+CC"/"00CC" or next to a phone word; a
# longer list catches more unannounced numbers and mistakes more identifiers for them.
HOME_REGIONS = (
    "US", "CA", "MX", "BR", "AR", "CO", "CL", "GB", "IE", "FR", "BE", "NL", "DE", "AT", "CH", "ES", "PT", "IT",
    "PL", "CZ", "SE", "NO", "DK", "FI", "RO", "HU", "GR", "TR", "RU", "UA", "IN", "PK", "ID", "PH", "SG", "MY",
    "JP", "KR", "CN", "AU", "NZ", "ZA", "NG", "EG", "IL", "AE", "SA",
)  # fmt: skip
# 555 area codes and 555 exchanges are the fiction convention; chat data is full of them and they are
# redacted like real numbers so a model never learns to emit phone-shaped strings.
_FICTIONAL: Final = "555"
_EXTENSION: Final = re.compile(r"(?i)\s*(?:ext\.?|x|#)\s*\d+$")
_GROUPS: Final = re.compile(r"\d+")
_NON_DIGITS: Final = re.compile(r"\D+")
# The same on ASCII-only candidates (most), where `\d` is 0-9: a bitmap test instead of a Unicode look-up.
_ASCII_GROUPS: Final = re.compile("[0-9]+")
_ASCII_NON_DIGITS: Final = re.compile("[^0-9]+")
_MAX_LAYOUTS: Final = 1 << 14  # written layouts indexed per plan list; chat data has a few hundred
_MAX_CACHED: Final = 1 << 16  # verdicts kept per validator; the cache starts over when full
_TRUNK_PREFIXES: Final = ("0", "1", "8")  # every national prefix in libphonenumber's metadata starts with one of these
# Regions that write mobile numbers without the trunk prefix, exactly in the national grouping ("98765 43210").
_MOBILES_WITHOUT_TRUNK: Final = frozenset({"IN"})
_VALID_TYPES = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)


class Verdict(IntEnum):
    INVALID = 0
    VALID = 1
    GROUPED = 2
    INTERNATIONAL = 3


class _Plan:
    """One region's numbering plan, compiled: what is valid, what is a mobile, how numbers are grouped."""

    __slots__ = (
        "country_code",
        "first_digits",
        "fixed_line",
        "formats",
        "lengths",
        "mobile",
        "prefix",
        "region",
        "unprefixed",
        "valid",
    )

    def __init__(self, region: str) -> None:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            raise ValueError(f"unknown phone region {region!r}")
        self.region = region
        if metadata.country_code is None or metadata.general_desc is None:  # pragma: no cover - never in its data
            raise ValueError(f"phone region {region!r} has no country code or number lengths")
        self.country_code: int = metadata.country_code
        self.prefix = metadata.national_prefix or ""
        self.lengths = tuple(metadata.general_desc.possible_length)
        patterns = [
            desc.national_number_pattern
            for desc in (getattr(metadata, name) for name in _VALID_TYPES)
            if desc is not None and desc.national_number_pattern
        ]
        self.valid = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
        self.first_digits = first_digits(self.valid.pattern) if self.valid is not None else frozenset()
        self.mobile = _compiled(metadata.mobile)
        self.fixed_line = _compiled(metadata.fixed_line)
        alternates = phonenumbermatcher._ALT_NUMBER_FORMATS.get(  # type: ignore[attr-defined]
            self.country_code, ()
        )
        formats = [
            (
                width(f.pattern),
                re.compile(f.leading_digits_pattern[-1]) if f.leading_digits_pattern else None,
                re.compile(f.pattern),
                f.pattern,
                _separators(f.format),
                _written_without(self.prefix, f.national_prefix_formatting_rule),
            )
            for f in (*metadata.number_format, *alternates)
        ]
        # Per possible length of the national number, only the formats whose pattern can match that many digits.
        self.formats = {
            length: tuple(
                _Format(leading, pattern, fixed_ends(source, length), separators, unprefixed)
                for (low, high), leading, pattern, source, separators, unprefixed in formats
                if low <= length <= high
            )
            for length in self.lengths
        }
        # Lengths with a format that writes the national number without the region's trunk prefix: Brazil's
        # "(41) 7763-8107" (or "41 7763-8107"), where the library's rule is "($1)", not "0$1".
        self.unprefixed = frozenset(
            length for length, known in self.formats.items() if any(f.unprefixed for f in known)
        )

    def holds(self, national: str) -> bool:
        """The number is valid in this region. A number whose first digit opens no valid number is refused
        without the regex call (a third of those asked in chat data)."""
        first = national[:1]
        if first in ASCII_DIGITS and first not in self.first_digits:
            return False
        return self.valid is not None and self.valid.fullmatch(national) is not None

    def groups_as(self, national: str, ends: set[int], exact: bool) -> bool:
        """True when one of the region's formats (or alternate formats) of this length ends its groups where
        the written number does: at least there (a subset of the format's ends), or exactly there.

        A format's ends are its group ends plus any position inside a group of six digits or more: people split
        long subscriber numbers ("030 1234 5678" for the library's "030 12345678"). Only formats whose leading
        digits fit count (any 2-4-4 grouping is a Mexican format, so "51-2928-7387" would pass). Most formats
        have fixed group widths, so their ends are known without matching: the regexes run only for formats
        whose ends fit.
        """
        length = len(national)
        for form in self.formats.get(length, ()):  # by field: compiled, unpacking goes through an iterator
            fixed = form.fixed_ends
            if fixed is not None and not (ends == fixed if exact else ends <= fixed):
                continue
            if form.leading is not None and not form.leading.match(national):
                continue
            if (match := form.pattern.fullmatch(national)) is None:
                continue
            expected = fixed if fixed is not None else _format_ends(match, length)
            if ends == expected if exact else ends <= expected:
                return True
        return False

    def laid_out_as(self, national: str, ends: set[int], separators: list[str], any_leading: bool) -> bool:
        """True when the number is written exactly in one of the region's layouts for its length: the same
        groups and the same separators as the format prints ("41 7763-8107" is Brazil's "$1 $2-$3").

        `any_leading` also allows the layouts of other leading digits, else only formats that write the
        number without the trunk prefix count (see `unprefixed`).
        """
        for form in self.formats.get(len(national), ()):
            if form.fixed_ends is None or ends != form.fixed_ends or form.separators != separators:
                continue
            if not (any_leading or form.unprefixed):
                continue
            leading = form.leading
            if (any_leading or leading is None or leading.match(national)) and form.pattern.fullmatch(national):
                return True
        return False

    def may_group(self, length: int, ends: set[int]) -> bool:
        """False when no format of this length can end its groups at `ends` (see `groups_as`)."""
        return any(f.fixed_ends is None or ends <= f.fixed_ends for f in self.formats.get(length, ()))

    def only_mobile(self, national: str) -> bool:
        """Valid as a mobile number and not as a fixed line (Norway's 9xx, Spain's 6xx)."""
        mobile, fixed_line = self.mobile, self.fixed_line
        return (
            mobile is not None
            and mobile.fullmatch(national) is not None
            and not (fixed_line is not None and fixed_line.fullmatch(national))
        )


class _Format(NamedTuple):
    leading: re.Pattern[str] | None
    pattern: re.Pattern[str]
    fixed_ends: frozenset[int] | None
    separators: list[str] | None
    unprefixed: bool


def _compiled(desc: phonenumbers.PhoneNumberDesc | None) -> re.Pattern[str] | None:
    return re.compile(desc.national_number_pattern) if desc is not None and desc.national_number_pattern else None


def _separators(layout: str) -> list[str] | None:
    """What a format prints between its groups ("\\1 \\2-\\3": [" ", "-"]), or None when it prints more."""
    parts = re.split(r"\\\d", layout)
    if parts[0] or parts[-1] or any(not part or part.strip(" -./") for part in parts[1:-1]):
        return None
    return parts[1:-1]


def _written_without(prefix: str, rule: str | None) -> bool:
    """True when the format's national rule writes the number without the region's trunk prefix."""
    return bool(prefix and rule and prefix not in re.sub(r"\\\d", "", rule))


def _format_ends(match: re.Match[str], length: int) -> set[int]:
    """The group ends of a matched format (see `_Plan.groups_as`)."""
    ends: set[int] = set()
    for start, end in match.regs[1 : (match.lastindex or 0) + 1]:
        if end - start >= LONG_GROUP:
            ends.update(range(start + 2, end - 1))
        if end < length:
            ends.add(end)
    return ends


class _PlanList:
    """Plans tried together: one combined regex answers "valid in any of them?" in a single match, so a
    candidate that is no number anywhere (most look-alikes) costs one regex call, not one per region."""

    __slots__ = ("_by_layout", "_combined", "plans")

    def __init__(self) -> None:
        self.plans: list[_Plan] = []
        self._combined: re.Pattern[str] | None = None
        self._by_layout: dict[tuple[int, frozenset[int]], tuple[_Plan, ...]] = {}

    def groupable(self, length: int, ends: set[int]) -> tuple[_Plan, ...]:
        """The plans with a format of this length that can end its groups at `ends`: the only ones where a
        number written that way can pass the grouping test. Indexed by the layout, which chat data repeats
        (a few hundred layouts against every number written in them), so most numbers skip every plan
        whose formats cannot fit before any regex runs."""
        key = (length, frozenset(ends))
        plans = self._by_layout.get(key)
        if plans is None:
            plans = tuple(plan for plan in self.plans if plan.may_group(length, ends))
            if len(self._by_layout) < _MAX_LAYOUTS:
                self._by_layout[key] = plans
        return plans

    def any_valid(self, national: str) -> bool:
        """True when `national` is valid in one of the plans."""
        if not self.plans:
            return False
        if (combined := self._combined) is None:  # compiled on first use: up to a second for a long list
            combined = re.compile("|".join(f"(?:{plan.valid.pattern})" for plan in self.plans if plan.valid))
            self._combined = combined
        return combined.fullmatch(national) is not None


_NO_PLANS: Final = _PlanList()


class _Plans:
    """Numbering plans indexed by the length of their national numbers, by trunk prefix and by country code.

    Besides all plans of a length, two narrower lists serve the grouping test, which rejects most plans
    before any regex runs: plans whose numbers are national without a written trunk prefix (no prefix,
    North America, mobiles in `_MOBILES_WITHOUT_TRUNK`), and per trunk prefix the plans that use it. Each
    list answers "valid in any of these?" with one combined match (see `_PlanList`).
    """

    def __init__(self, regions: Sequence[str]) -> None:
        self._by_length: dict[int, _PlanList] = {}
        self._without_trunk: dict[int, _PlanList] = {}
        self._with_trunk: dict[tuple[int, str], _PlanList] = {}
        self._by_country: dict[int, _PlanList] = {}
        self._by_country_trunk: dict[tuple[int, str], _PlanList] = {}
        for region in regions:
            plan = _plan(region)
            if plan.valid is None:
                continue
            for length in plan.lengths:
                self._by_length.setdefault(length, _PlanList()).plans.append(plan)
                if (
                    not plan.prefix
                    or plan.country_code == 1
                    or plan.region in _MOBILES_WITHOUT_TRUNK
                    or length in plan.unprefixed
                ):
                    self._without_trunk.setdefault(length, _PlanList()).plans.append(plan)
                if plan.prefix:
                    self._with_trunk.setdefault((length, plan.prefix), _PlanList()).plans.append(plan)
            self._by_country.setdefault(plan.country_code, _PlanList()).plans.append(plan)
            if plan.prefix:
                self._by_country_trunk.setdefault((plan.country_code, plan.prefix), _PlanList()).plans.append(plan)

    def of_length(self, length: int) -> _PlanList:
        return self._by_length.get(length, _NO_PLANS)

    def national_without_trunk(self, length: int) -> _PlanList:
        return self._without_trunk.get(length, _NO_PLANS)

    def with_trunk(self, digits: str) -> _PlanList:
        """Plans whose trunk prefix is the number's first digit, for the number after that digit."""
        if digits[:1] not in _TRUNK_PREFIXES:
            return _NO_PLANS
        return self._with_trunk.get((len(digits) - 1, digits[0]), _NO_PLANS)

    def valid_after_country_code(self, country_code: int, national: str) -> bool:
        """Valid in a region of that country code, as written or after a trunk prefix that region uses."""
        if country_code not in self._by_country:
            return False
        trunk = self._by_country_trunk.get((country_code, national[:1]), _NO_PLANS)
        return self._by_country[country_code].any_valid(national) or trunk.any_valid(national[1:])

    def any_fits(self, digits: str) -> bool:
        """Valid in some plan, as written or after a trunk prefix that plan uses."""
        return self.of_length(len(digits)).any_valid(digits) or self.with_trunk(digits).any_valid(digits[1:])


@cache
def _plan(region: str) -> _Plan:
    return _Plan(region)


@cache
def _plans(regions: tuple[str, ...]) -> _Plans:
    """Compiled once per process: the metadata is constant, only the verdict caches belong to a validator."""
    return _Plans(regions)


class PhoneValidator:
    """Judges whether a candidate string is a phone number; `regions` are the home regions (or "all")."""

    def __init__(self, regions: Sequence[str] | str = HOME_REGIONS) -> None:
        home = sorted(phonenumbers.SUPPORTED_REGIONS) if _means_all(regions) else list(regions)
        self._home = _plans(tuple(home))
        self._everywhere = _plans(tuple(sorted(phonenumbers.SUPPORTED_REGIONS)))
        self._verdicts: dict[str, Verdict] = {}
        self._anywhere: dict[str, bool] = {}

    def verdict(self, candidate: str) -> Verdict:
        """The verdict for the home regions (cached: chat data repeats numbers)."""
        verdict = self._verdicts.get(candidate)
        if verdict is None:
            if len(self._verdicts) >= _MAX_CACHED:
                self._verdicts.clear()
            verdict = self._verdicts[candidate] = self._verdict(candidate)
        return verdict

    def valid_anywhere(self, candidate: str) -> bool:
        """Valid in some region of the world, as written or after that region's trunk prefix (cached)."""
        valid = self._anywhere.get(candidate)
        if valid is None:
            if len(self._anywhere) >= _MAX_CACHED:
                self._anywhere.clear()
            valid = self._anywhere[candidate] = self._valid_anywhere(candidate)
        return valid

    def is_phone(self, candidate: str) -> bool:
        """International, or a home region's number grouped as that region groups it (no context needed)."""
        return self.verdict(candidate) >= Verdict.GROUPED

    def _verdict(self, candidate: str) -> Verdict:
        """The verdict for the home regions; `valid_anywhere` covers the rest when a phone word is near."""
        number, groups = _as_written(candidate)
        digits = "".join(groups)
        if (international := self._international_verdict(number, digits)) is not None:
            return international
        if _fictional_nanp(digits[1:] if len(digits) == 11 and digits[0] == "1" else digits):
            return Verdict.GROUPED if len(groups) > 1 else Verdict.VALID
        if len(groups) > 1:
            # Only plans that can pass the grouping test are tried; the rest could make the number VALID at
            # best, which `any_fits` answers in one combined match.
            home = self._home
            in_parentheses = number.startswith("(")
            plain = home.of_length(len(digits)) if in_parentheses else home.national_without_trunk(len(digits))
            ends = _group_ends(groups)
            # Each plan tried here is one of those `any_fits` asks: when one holds the number, it is VALID.
            valid_in_a_plan = False
            for plan in plain.groupable(len(digits), ends):
                if plan.holds(digits):
                    if _written_as_national(plan, digits, ends, number, False, in_parentheses):
                        return Verdict.GROUPED
                    valid_in_a_plan = True
            national = digits[1:]
            ends = {end - 1 for end in ends}
            ends.discard(0)
            for plan in home.with_trunk(digits).groupable(len(national), ends):
                if plan.holds(national):
                    if _written_as_national(plan, national, ends, number, True, in_parentheses):
                        return Verdict.GROUPED
                    valid_in_a_plan = True
            if valid_in_a_plan:
                return Verdict.VALID
        return Verdict.VALID if self._home.any_fits(digits) else Verdict.INVALID

    def is_international(self, candidate: str) -> bool:
        """`verdict(candidate)` is INTERNATIONAL, decided without the national tests that tell the other
        verdicts apart (where only this verdict counts, they are most of the cost)."""
        if (verdict := self._verdicts.get(candidate)) is not None:
            return verdict is Verdict.INTERNATIONAL
        number, groups = _as_written(candidate)
        return self._international_verdict(number, "".join(groups)) is Verdict.INTERNATIONAL

    def _international_verdict(self, number: str, digits: str) -> Verdict | None:
        """INTERNATIONAL or INVALID for a number written with "+", INTERNATIONAL for a valid one after "00",
        else None: the national tests decide."""
        if number.lstrip("(").startswith("+"):
            return Verdict.INTERNATIONAL if self._international(digits) else Verdict.INVALID
        if digits.startswith("00") and self._international(digits[2:]):
            # "00" is the international call prefix everywhere outside North America.
            return Verdict.INTERNATIONAL
        return None

    def _international(self, digits: str) -> bool:
        """Digits after "+": a country code, then a valid national number of one of its regions."""
        everywhere = self._everywhere
        for size in (1, 2, 3):
            if everywhere.valid_after_country_code(int(digits[:size] or 0), digits[size:]):
                return True
        return False

    def _valid_anywhere(self, candidate: str) -> bool:
        number = _without_extension(candidate)
        digits = (_ASCII_NON_DIGITS if number.isascii() else _NON_DIGITS).sub("", number)
        return self._everywhere.any_fits(digits)


def _as_written(candidate: str) -> tuple[str, list[str]]:
    """The candidate without its extension and a "(0)", and its groups of digits: what the verdicts read."""
    number = _without_extension(candidate).replace("(0)", "")
    return number, (_ASCII_GROUPS if number.isascii() else _GROUPS).findall(number)


def _without_extension(candidate: str) -> str:
    # An extension is written with "x", "ext" or "#": without one of those characters the regex cannot match.
    if "x" in candidate or "X" in candidate or "#" in candidate:
        return _EXTENSION.sub("", candidate)
    return candidate


def _group_ends(groups: list[str]) -> set[int]:
    """Where the written groups end, as positions in the digits ("020 7946 0958": {3, 7})."""
    ends, position = set(), 0
    for group in groups[:-1]:
        position += len(group)
        ends.add(position)
    return ends


def _separators_of(number: str) -> list[str]:
    """What is written between the digit groups of a number (and before and after them)."""
    return (_ASCII_NON_DIGITS if number.isascii() else _NON_DIGITS).findall(number)


def _written_as_national(
    plan: _Plan, national: str, ends: set[int], number: str, with_prefix: bool, in_parentheses: bool
) -> bool:
    """Written as the region writes its numbers; `ends` are the written group ends in `national`, `number` the
    number as written (what separates its groups is read from it only for the few layouts that need it).

    The trunk prefix is written where the region has one ("020 7946 0958", not "20 7946 0958"), unless the
    area code is in parentheses, the region is North American (the "1" is left out by custom) or the format
    itself leaves it out (Brazil); without this, nearly every grouped 10-digit part number is a valid landline
    somewhere ("51-2928-7387" in Brazil). And no group of one of the region's formats is split,
    libphonenumber's STRICT_GROUPING test ("51-2928-7387" splits the US groups 512-928-7387).
    """
    if with_prefix or in_parentheses or plan.country_code == 1:
        return plan.groups_as(national, ends, exact=False)
    if not plan.prefix:
        if plan.groups_as(national, ends, exact=False):
            return True
        # A number that can only be a mobile is written in the region's other layouts of its length too
        # ("917 00 439": Norway prints 9xx numbers 2-2-2-2 and 8xx numbers 3-2-3), exactly as printed there.
        return plan.only_mobile(national) and plan.laid_out_as(national, ends, _separators_of(number), True)
    if len(national) in plan.unprefixed and plan.laid_out_as(national, ends, _separators_of(number), False):
        return True
    if plan.region not in _MOBILES_WITHOUT_TRUNK or plan.mobile is None or not plan.mobile.fullmatch(national):
        return False
    return plan.groups_as(national, ends, exact=True)


def _fictional_nanp(national: str) -> bool:
    return len(national) == 10 and _FICTIONAL in (national[:3], national[3:6]) and national[0] >= "2"


def _means_all(regions: Sequence[str] | str) -> bool:
    return regions == ALL_REGIONS or (not isinstance(regions, str) and list(regions) in ([ALL_REGIONS], ["*"]))
