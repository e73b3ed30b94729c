"""Whether a run's answer is the expected one: numbers compare by value, text by its normalised form."""

from __future__ import annotations

import math
from typing import Any


def answers_match(answer: Any, expected: str | None) -> bool | None:
    """True or False when there is an expected answer, None when there is nothing to check against."""
    if expected is None:
        return None
    got, want = _as_number(answer), _as_number(expected)
    if got is not None and want is not None:
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    return _normalise(answer) == _normalise(expected)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            return None
    return None


def _normalise(value: Any) -> str:
    return " ".join(str(value).split()).strip().rstrip(".").casefold()
