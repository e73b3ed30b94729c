"""Evol-Instruct prompts and the elimination checks, without any model call (the caller sends them).

Following WizardLM's in-depth evolving (Xu et al., 2023, arXiv:2304.12244): an instruction is rewritten to
be harder by one method at a time (add constraints, deepen, concretise, add reasoning steps), answered,
and the pair is dropped when the rewrite adds nothing, the answer refuses or is empty, or the rewrite
leaks the rewriting prompt's own words.
"""

from __future__ import annotations

import re

METHODS = (
    "Add one more constraint or requirement that the answer must satisfy.",
    "If the request touches on a question, increase the depth and breadth of that question.",
    "Replace general concepts with more specific ones taken from the request's own domain.",
    "If the request can be solved in a few simple steps, rewrite it to explicitly require several "
    "dependent steps, where each step uses the result of the one before.",
)

REWRITE_PROMPT = """You rewrite a request so that it is harder to answer well, for training an assistant.
The rewritten request must stay reasonable, self-contained and answerable by a person, keep the original
facts and identifiers as they are, and add no more than 10 to 20 words.
Method: {method}
Reply with the rewritten request only.

#Given Request#:
{instruction}

#Rewritten Request#:
"""

EQUALITY_PROMPT = """Here are two requests. Do they ask for the same thing, with the same constraints, depth
and breadth of inquiry? Answer with one word: Equal or Not Equal.

First request: {original}
Second request: {evolved}
"""

_LEAKED = re.compile(r"(?i)#?\s*(?:given|rewritten) (?:request|prompt)\s*#?|\bmethod:")
_REFUSAL = re.compile(r"(?i)\b(?:sorry|i cannot|i can't|as an ai)\b")
_SHORT_REFUSAL_WORDS = 80
_CONTENT = re.compile(r"[^\W_]{3,}")


def rewrite_prompt(instruction: str, method: str) -> str:
    return REWRITE_PROMPT.format(method=method, instruction=instruction)


def equality_prompt(original: str, evolved: str) -> str:
    return EQUALITY_PROMPT.format(original=original, evolved=evolved)


def says_equal(judgement: str) -> bool:
    """The judge's reply to `equality_prompt`; anything but a clear "Not Equal" counts as no gain."""
    return not judgement.strip().lower().startswith("not equal")


def elimination_reason(original: str, evolved: str, answer: str) -> str | None:
    """Why an evolved pair must be dropped (the judge's verdict is checked separately), or None."""
    if not evolved.strip() or evolved.strip() == original.strip():
        return "rewrite is empty or unchanged"
    if _LEAKED.search(evolved):
        return "rewrite copies words of the rewriting prompt"
    if _REFUSAL.search(answer) and len(answer.split()) < _SHORT_REFUSAL_WORDS:
        return "answer is a short refusal"
    if not _CONTENT.search(answer):
        return "answer holds only punctuation or filler"
    return None
