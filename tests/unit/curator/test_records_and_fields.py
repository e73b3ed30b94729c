import pytest

from services.curator.core.fields import parse_field_path, rewrite_strings
from services.curator.core.records import MalformedRecord, decode_record, fingerprint


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b'{"a": 1', "not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'"text"', "expected a JSON object, got str"),
        (b'{"messages": "hi"}', "`messages` must be a list"),
        (b'{"messages": [{"role": "user"}]}', "`messages[0]` must be an object with a string `content`"),
        (b'{"messages": [{"role": "user", "content": 3}]}', "`messages[0]`"),
        (b'{"a": "\xff"}', "not UTF-8"),
    ],
)
def test_decode_rejects_line_with_reason_when_not_a_chat_record(raw, reason):
    with pytest.raises(MalformedRecord, match=reason.replace("[", r"\[").replace("]", r"\]")):
        decode_record(raw)


def test_decode_accepts_record_when_it_has_no_messages():
    assert decode_record(b'{"prompt": "hi"}') == {"prompt": "hi"}


def test_fingerprint_ignores_case_whitespace_and_other_fields_when_comparing_conversations():
    a = {"id": 1, "messages": [{"role": "user", "content": "Hello   World"}]}
    b = {"id": 2, "difficulty": "easy", "messages": [{"role": "user", "content": " hello world"}]}
    c = {"messages": [{"role": "assistant", "content": "hello world"}]}
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


def test_field_paths_rewrite_only_addressed_strings_when_record_is_nested():
    record = {
        "id": "4111111111111111",
        "messages": [{"role": "user", "content": "x"}, {"content": 5}],
        "meta": {"notes": "x", "tags": ["x", "y"], "other": "x"},
    }
    paths = [parse_field_path(p) for p in ("messages[].content", "meta.notes", "meta.tags[]")]
    rewrite_strings(record, paths, str.upper)
    assert record == {
        "id": "4111111111111111",
        "messages": [{"role": "user", "content": "X"}, {"content": 5}],
        "meta": {"notes": "X", "tags": ["X", "Y"], "other": "x"},
    }


def test_star_and_double_star_reach_every_key_when_configured():
    record = {"a": {"b": "x", "c": "y"}, "d": ["z", {"e": "w"}], "n": 1}
    rewrite_strings(record, [parse_field_path("a.*")], str.upper)
    assert record["a"] == {"b": "X", "c": "Y"}
    rewrite_strings(record, [parse_field_path("**")], lambda s: s + "!")
    assert record == {"a": {"b": "X!", "c": "Y!"}, "d": ["z!", {"e": "w!"}], "n": 1}


@pytest.mark.parametrize("path", ["messages[].", "a..b", "a[x]", ""])
def test_field_path_rejected_when_malformed(path):
    with pytest.raises(ValueError, match="bad field path"):
        parse_field_path(path)
