"""A day's parts as rows keep arriving: contiguous, few, and each row written a few times in all."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.warehouse.core.tiers import BASE_LEVEL, Part, add_part


def _grow(sizes: list[int], *, fanout: int, base: Part | None = None) -> tuple[tuple[Part, ...], int]:
    """Parts after one snapshot per size (rows appended since the last), and how many rows were written in all."""
    parts: tuple[Part, ...] = (base,) if base else ()
    end = base.upto if base else -1
    written = 0
    for size in sizes:
        before = set(parts)
        parts = add_part(parts, Part(end, end + size, 0), fanout=fanout)
        end += size
        written += sum(part.upto - part.after for part in parts if part not in before)
    return parts, written


@given(sizes=st.lists(st.integers(1, 50), min_size=1, max_size=300), fanout=st.integers(2, 10))
def test_parts_cover_every_row_once_in_order_whatever_arrives(sizes: list[int], fanout: int) -> None:
    parts, _ = _grow(sizes, fanout=fanout)
    assert parts[0].after == -1 and parts[-1].upto == sum(sizes) - 1
    assert all(earlier.upto == later.after for earlier, later in itertools.pairwise(parts))
    assert [part.level for part in parts] == sorted((part.level for part in parts), reverse=True)


@given(snapshots=st.integers(1, 2000), fanout=st.integers(2, 10))
@example(snapshots=1000, fanout=10)  # an exact power: math.log gave 2.9999999999999996 levels here
def test_a_day_holds_few_files_and_rows_are_rewritten_a_logarithmic_number_of_times(
    snapshots: int, fanout: int
) -> None:
    parts, written = _grow([1] * snapshots, fanout=fanout)
    levels = 1 + next(level for level in itertools.count() if fanout ** (level + 1) > snapshots)  # exact, no float log
    assert len(parts) <= (fanout - 1) * levels
    assert written <= snapshots * levels


def test_base_part_is_never_merged_when_parts_pile_up_after_it() -> None:
    base = Part(-1, 10_000, BASE_LEVEL)
    parts, _ = _grow([1] * 64, fanout=4, base=base)
    assert parts[0] == base
    assert [part.level for part in parts[1:]] == [3]


def test_add_part_refuses_rows_already_in_the_day_when_ranges_overlap() -> None:
    with pytest.raises(ValueError, match="overlaps"):
        add_part((Part(-1, 10, 0),), Part(5, 20, 0), fanout=4)


def test_part_refuses_an_empty_range() -> None:
    with pytest.raises(ValueError, match="at least one row"):
        Part(10, 10, 0)
