"""What a numbering plan's patterns can match, read from their parsed form (the parser behind `re`).

Run once per process when libphonenumber's metadata is compiled (services/curator/core/phones.py): the width of
each format, the group ends a format gives a number of a given length, and the digits a valid number can begin
with. Each answer is checked against the regexes in tests/unit/curator.
"""

from __future__ import annotations

import re
from typing import Any, Final

ASCII_DIGITS: Final = frozenset("0123456789")
# A group of this many digits or more may be split anywhere by the writer ("030 1234 5678" for "030 12345678").
LONG_GROUP: Final = 6
_DIGIT_CLASS = list(re._parser.parse(r"\d"))  # type: ignore[attr-defined]


def fixed_ends(pattern: str, length: int) -> frozenset[int] | None:
    """The ends `phones._format_ends` gives for every number of `length` digits the format matches, when they
    do not depend on the digits; None otherwise.

    That is the case when each group has a fixed width or is a plain `\\d{m,n}` (nearly every format): the
    widths then follow from the length alone, each group taking as many digits as the groups after it leave
    (the regex is greedy).
    """
    if (parsed := _parsed(pattern)) is None:
        return None
    bounds = []
    for op, argument in parsed:
        if op is not re._constants.SUBPATTERN:  # type: ignore[attr-defined]
            return None  # text between groups, or an alternative of whole layouts
        group = argument[-1]
        low, high = group.getwidth()
        if low != high and not _is_digit_run(group):
            return None
        bounds.append((low, high))
    if parsed.state.groups - 1 != len(bounds):
        return None  # a nested group would be one of the match's groups too
    ends: set[int] = set()
    start = 0
    for index, (low, high) in enumerate(bounds):
        left = length - start
        width = min(high, left - sum(low for low, _ in bounds[index + 1 :]))
        if width < low:
            return None
        end = start + width
        if width >= LONG_GROUP:
            ends.update(range(start + 2, end - 1))
        if end < length:
            ends.add(end)
        start = end
    return frozenset(ends) if start == length else None


def width(pattern: str) -> tuple[int, int]:
    """Shortest and longest string a format pattern matches, so formats of other lengths are skipped unmatched.

    Uses the parser behind `re` (stable since Python 3.11); without it every format is tried.
    """
    if (parsed := _parsed(pattern)) is None:
        return 0, 1 << 30
    return parsed.getwidth()  # type: ignore[no-any-return]


def first_digits(pattern: str) -> frozenset[str]:
    """The ASCII digits a match of the pattern can begin with, read from its parsed form; all ten where the
    pattern holds something this reading does not follow (numbering-plan patterns are digits, classes,
    groups, alternatives and repeats)."""
    if (parsed := _parsed(pattern)) is None:
        return ASCII_DIGITS
    first, _ = _first_of_sequence(list(parsed))
    return ASCII_DIGITS if first is None else frozenset(first)


def _parsed(pattern: str) -> Any:
    """The pattern as `re`'s parser reads it (stable since Python 3.11); None where that parser is not there."""
    try:
        return re._parser.parse(pattern)  # type: ignore[attr-defined]
    except (AttributeError, re.error):  # pragma: no cover - another interpreter's `re`
        return None


def _first_of_sequence(items: list[Any]) -> tuple[set[str] | None, bool]:
    """The first digits of a parsed sequence (None: unknown) and whether it can match the empty string."""
    first: set[str] = set()
    for op, argument in items:
        head, empty = _first_of_item(op, argument)
        if head is None:
            return None, False
        first |= head
        if not empty:
            return first, False
    return first, True


def _first_of_item(op: Any, argument: Any) -> tuple[set[str] | None, bool]:
    constants = re._constants  # type: ignore[attr-defined]
    if op is constants.LITERAL:
        return {chr(argument)} & ASCII_DIGITS, False
    if op is constants.IN:
        chars: set[str] = set()
        for kind, value in argument:
            if kind is constants.LITERAL:
                chars.add(chr(value))
            elif kind is constants.RANGE:
                chars.update(chr(code) for code in range(value[0], min(value[1], 0x7F) + 1))
            elif kind is constants.CATEGORY and value is constants.CATEGORY_DIGIT:
                chars.update(ASCII_DIGITS)
            else:  # a negated class or another category
                return None, False
        return chars & ASCII_DIGITS, False
    if op is constants.SUBPATTERN:
        return _first_of_sequence(list(argument[-1]))
    if op is constants.BRANCH:
        first: set[str] = set()
        can_be_empty = False
        for branch in argument[1]:
            head, empty = _first_of_sequence(list(branch))
            if head is None:
                return None, False
            first |= head
            can_be_empty = can_be_empty or empty
        return first, can_be_empty
    if op in (constants.MAX_REPEAT, constants.MIN_REPEAT, constants.POSSESSIVE_REPEAT):
        head, empty = _first_of_sequence(list(argument[2]))
        return head, head is not None and (empty or argument[0] == 0)
    if op is constants.AT:  # an anchor matches no character
        return set(), True
    return None, False


def _is_digit_run(group: Any) -> bool:
    """The parsed group is exactly `\\d{m,n}` (greedy)."""
    if len(group) != 1 or group[0][0] is not re._constants.MAX_REPEAT:  # type: ignore[attr-defined]
        return False
    return list(group[0][1][2]) == _DIGIT_CLASS
