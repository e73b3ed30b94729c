"""Whatever bytes arrive on tasks.ready, decoding ends in an event or a clean UndecodableEvent (which the inbox
dead-letters): never another exception that would escape the executor's handler."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import TaskReady
from schemas.codec import UndecodableEvent, UnknownEvent, decode_event

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)
TASK_FIELDS = st.fixed_dictionaries(
    {"type": st.just("TaskReady.v1")},
    optional={
        "run_id": JSON,
        "task_id": JSON,
        "tool": JSON,
        "attempt": JSON,
        "args": JSON,
        "timeout_s": JSON,
        "start_by": JSON,
        "deadline_at": JSON,
    },
)


def decodes_or_refuses(data: bytes) -> object:
    try:
        return decode_event(data)
    except UndecodableEvent as error:
        assert str(error)
        return error


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2_000))
def test_refuses_cleanly_when_the_bytes_are_random(data: bytes) -> None:
    decodes_or_refuses(data)


@pytest.mark.parametrize("data", [b'"\x80"', b'{"type": "\xff"}', b'{"type": "TaskReady.v1", "run_id": "\xc3("}'])
def test_refuses_cleanly_when_a_string_is_not_utf8(data: bytes) -> None:
    with pytest.raises(UndecodableEvent, match="not UTF-8"):
        decode_event(data)


@settings(max_examples=300, deadline=None)
@given(TASK_FIELDS)
def test_decodes_or_refuses_cleanly_when_task_fields_have_any_shape(document: dict) -> None:
    outcome = decodes_or_refuses(msgspec.json.encode(document))
    assert isinstance(outcome, TaskReady | UndecodableEvent | UnknownEvent)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1_000, max_value=200_000), st.sampled_from([b"[", b'{"a":']))
def test_refuses_cleanly_when_the_nesting_is_deeper_than_the_decoder_goes(depth: int, opener: bytes) -> None:
    closer = b"]" if opener == b"[" else b"}"
    body = b'{"type":"TaskReady.v1","run_id":"r","task_id":"1","tool":"t","args":{"x":' + opener * depth + b"1"
    outcome = decodes_or_refuses(body + closer * depth + b"}}")
    assert isinstance(outcome, UndecodableEvent | TaskReady)
