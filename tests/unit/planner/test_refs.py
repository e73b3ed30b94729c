"""References in tool arguments: structured once at plan time, substituted structurally at dispatch."""

from __future__ import annotations

import pytest

from services.planner.core.refs import references, render, resolve_args, structure_references

IDS = {"1", "2", "T1"}


@pytest.mark.parametrize(
    ("written", "structured"),
    [
        ("$1", {"$ref": "1"}),
        ("${T1}", {"$ref": "T1"}),
        ("$T1", {"$ref": "T1"}),
        ("population of $1", {"$concat": ["population of ", {"$ref": "1"}]}),
        ("${1}${2}", {"$concat": [{"$ref": "1"}, {"$ref": "2"}]}),
        ("costs $500", "costs $500"),
        ("costs $$1", "costs $1"),
        ("${9}", {"$ref": "9"}),
        (["$1", {"k": "$2 apples"}], [{"$ref": "1"}, {"k": {"$concat": [{"$ref": "2"}, " apples"]}}]),
        ({"$ref": "2"}, {"$ref": "2"}),
        (3.5, 3.5),
    ],
)
def test_references_become_structure_when_written_inside_string_arguments(written, structured) -> None:
    assert structure_references(written, IDS) == structured


def test_references_are_found_at_any_depth_when_nested_in_lists_dicts_and_concat() -> None:
    args = {"a": [{"$ref": "1"}], "b": {"c": {"$concat": ["x", {"$ref": "T1"}]}}, "d": "$2 as plain text"}
    assert references(args) == {"1", "T1"}


def test_whole_value_reference_keeps_the_result_type_when_resolved() -> None:
    assert resolve_args({"rows": {"$ref": "1"}}, {"1": [1, 2, 3]}) == {"rows": [1, 2, 3]}


@pytest.mark.parametrize(
    ("result", "text"),
    [
        (67000000.0, "67000000"),
        (2.5, "2.5"),
        (3, "3"),
        ("Lima", "Lima"),
        (True, "true"),
        ({"a": 1}, '{"a":1}'),
        (None, "null"),
    ],
)
def test_concat_renders_each_result_as_text_when_resolved(result, text: str) -> None:
    args = {"q": {"$concat": ["value: ", {"$ref": "1"}, "!"]}, "n": [{"$ref": "1"}]}
    assert resolve_args(args, {"1": result}) == {"q": f"value: {text}!", "n": [result]}


def test_resolution_never_rescans_text_when_a_result_contains_a_dollar_reference() -> None:
    resolved = resolve_args({"q": {"$concat": [{"$ref": "1"}, " and ", {"$ref": "2"}]}}, {"1": "$2", "2": "b"})
    assert resolved == {"q": "$2 and b"}


def test_resolution_fails_loudly_when_a_referenced_result_is_missing() -> None:
    with pytest.raises(KeyError, match="no result for task 2"):
        resolve_args({"q": {"$ref": "2"}}, {"1": "x"})


def test_render_drops_the_trailing_zero_when_a_float_is_integral() -> None:
    assert (render(4.0), render(-0.0), render(1e16)) == ("4", "0", "10000000000000000")
