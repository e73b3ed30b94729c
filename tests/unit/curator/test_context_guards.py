"""The look-ahead that opens each context pattern only speeds the search up: every word of the pattern starts
with a character it accepts, so no match is lost. Checked over every Unicode code point, with the pattern's
own flags (case folding included: "ı" folds to "i", "K" to "k")."""

import re
import sys

import pytest

from services.curator.core import patterns as rx

_parser, _compiler, _constants = re._parser, re._compiler, re._constants
_ZERO_WIDTH = (_constants.AT, _constants.ASSERT, _constants.ASSERT_NOT)
_CONSUMING = (_constants.LITERAL, _constants.NOT_LITERAL, _constants.IN, _constants.ANY, _constants.CATEGORY)
GUARDED = {name: getattr(rx, name) for name in ("SSN_CONTEXT", "PHONE_CONTEXT", "NOT_PHONE_CONTEXT", "VERSION_CONTEXT")}
EVERY_CHARACTER = "".join(map(chr, range(sys.maxunicode + 1)))


def _first_consumed(items: list) -> list:
    """The items that can match a match's first character (zero-width assertions skipped)."""
    for op, argument in items:
        if op in _ZERO_WIDTH:
            continue
        if op in _CONSUMING:
            return [(op, argument)]
        if op is _constants.SUBPATTERN:
            return _first_consumed(list(argument[-1]))
        if op is _constants.BRANCH:
            return [item for alternative in argument[1] for item in _first_consumed(list(alternative))]
        if op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT) and argument[0] >= 1:
            return _first_consumed(list(argument[2]))
        raise AssertionError(f"cannot tell the first character of {op}")
    raise AssertionError("an alternative that can match the empty string")


@pytest.mark.parametrize("name", GUARDED)
def test_guard_accepts_every_first_character_when_pattern_is_a_context_pattern(name):
    pattern = GUARDED[name]
    parsed = _parser.parse(pattern.pattern, pattern.flags)
    (op, (direction, guard)), *rest = list(parsed)
    assert op is _constants.ASSERT and direction == 1  # the pattern opens with its look-ahead
    flags = pattern.flags & ~re.UNICODE if pattern.flags & re.ASCII else pattern.flags
    starts = _parser.SubPattern(
        parsed.state,
        [(_constants.BRANCH, (None, [_parser.SubPattern(parsed.state, [i]) for i in _first_consumed(rest)]))],
    )
    first = _compiler.compile(starts, flags)
    guard = _compiler.compile(guard, flags)
    missed = [c for c in EVERY_CHARACTER if first.match(c) and not guard.match(c)]
    assert missed == []
