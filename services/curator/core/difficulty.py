"""Difficulty estimate for a chat example that carries no label: how many dependent steps it asks for.

A step is a user turn, a numbered or "Step n" item, or a sequencing word ("then", "next"). References to
earlier results ("using the result of step 1") count double, because dependent steps are what make a task
hard for the planner, and explicit constraints count half. Thresholds were set so that the generator's
labelled examples are estimated as labelled.
"""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(
    r"(?im)^\s*(?:\d+[.)]|step\s+\d+\b|[-*]\s)|\b(?:then|next|after that|finally|also|afterwards|step two|"
    r"one more thing|follow-up)\b"
)
_DEPENDENCY = re.compile(
    r"(?i)\b(?:using the results? of|based on (?:the|step)|from step|results? of steps?|the output of|"
    r"compare it with|correlate)\b"
)
_CONSTRAINT = re.compile(r"(?i)\b(?:must|without|at most|at least|only|do not|don't|exactly|ensure|within)\b")
_WORDS_PER_POINT = 80
_MEDIUM_FROM = 2.0
_HARD_FROM = 8.0


def difficulty_score(record: dict[str, Any]) -> float:
    asks = [m["content"] for m in record.get("messages") or () if m.get("role") == "user"]
    text = "\n".join(asks)
    return (
        2 * max(len(asks) - 1, 0)
        + len(_STEP.findall(text))
        + 2 * len(_DEPENDENCY.findall(text))
        + 0.5 * len(_CONSTRAINT.findall(text))
        + len(text.split()) / _WORDS_PER_POINT
    )


def estimate_difficulty(record: dict[str, Any]) -> str:
    score = difficulty_score(record)
    if score >= _HARD_FROM:
        return "hard"
    return "medium" if score >= _MEDIUM_FROM else "easy"
