"""A policy update can change how the planner dispatches, never stop it: every knob is bounded."""

from __future__ import annotations

import pytest

from schemas import Policy, PolicyUpdated, decode_event, encode_event
from schemas.codec import UndecodableEvent


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [
        ({"max_attempts": 0}, "policy max_attempts is 0, outside 1..10"),
        ({"max_parallelism": -1}, "policy max_parallelism is -1, outside 0..10000"),
        ({"gap_threshold": 10**9}, "policy gap_threshold is 1000000000, outside 0..1000"),
        ({"version": -3}, "policy version is -3, outside 0.."),
        ({"prompt_template": "Plan something."}, "policy prompt_template must contain {user_query}"),
        ({"prompt_template": "{user_query}" + "x" * 20_000}, "characters, over 20000"),
    ],
)
def test_policy_is_refused_with_the_knob_named_when_a_knob_is_out_of_bounds(knobs: dict, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("{", r"\{").replace("}", r"\}").replace("..", r"\.\.")):
        Policy(**knobs)


def test_policy_update_does_not_decode_when_it_would_stop_dispatch() -> None:
    good = encode_event(PolicyUpdated(run_id="policy", policy=Policy(version=2, max_attempts=2)))
    bad = good.replace(b'"max_attempts":2', b'"max_attempts":0')
    assert bad != good
    assert isinstance(decode_event(good), PolicyUpdated)
    with pytest.raises(UndecodableEvent, match="policy max_attempts is 0, outside 1..10"):
        decode_event(bad)
