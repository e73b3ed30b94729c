"""Specification of the tool-call reader's fast path: whatever it accepts, ``ast`` reads the same way."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.planner.core.errors import PlanError
from services.planner.core.toolcall import _ast_call, _simple_call, parse_call

SIGNATURES = {"search": ["query", "k"]}
PIECES = st.sampled_from(
    [
        '"a"',
        "'b c'",
        '"$1"',
        "$1",
        "1",
        "-2",
        "0.5",
        "007",
        "1e3",
        "True",
        "None",
        "x",
        "k=",
        "query=",
        "=",
        ",",
        " ",
        "\n",
        "\t",
        "\x0b",
        "\r",
        "\\",
        '"',
        "'",
        "(",
        ")",
        "[1]",
        "{}",
        "é",
        "class=",
        "r'x'",
        "\x00",
    ]
)


@settings(max_examples=600, deadline=None)
@given(name=st.sampled_from(["search", "calc", "f_1", "class", "True", "x y"]), pieces=st.lists(PIECES, max_size=8))
def test_fast_path_reads_a_call_as_ast_does_when_it_accepts_it(name: str, pieces: list[str]) -> None:
    text = f"{name}({''.join(pieces)})"
    fast = _simple_call(text, SIGNATURES)
    if fast is None:
        return
    assert fast == _ast_call(text, SIGNATURES)


@pytest.mark.parametrize(
    "text",
    ['calculator(expression="1 * 2")', 'search("q", k=3)', "f(1, 2.5, x=True, y=None)", "f()", "f(a=1,)", "f(x=-0.5)"],
)
def test_fast_path_takes_the_common_shapes_when_arguments_are_plain_literals(text: str) -> None:
    assert _simple_call(text, SIGNATURES) == _ast_call(text, SIGNATURES) == parse_call(text, signatures=SIGNATURES)


@pytest.mark.parametrize("text", ['f(a="x", a="y")', "f(a=1, 2)", "search(1, 2, 3)", "f(,)", "class(x=1)"])
def test_fast_path_leaves_errors_to_ast_when_the_call_is_wrong(text: str) -> None:
    assert _simple_call(text, SIGNATURES) is None
    with pytest.raises(PlanError):
        parse_call(text, signatures=SIGNATURES)
