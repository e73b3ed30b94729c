"""A result the executors stored out of band reaches the run as its claim-check marker, never as nothing."""

from __future__ import annotations

from schemas import TaskFinished
from services.planner.app import with_result_marker
from streams.blobs import is_marker, marker

REF = "sha256:" + "ab" * 32


def test_result_becomes_its_marker_when_the_executor_stored_it_by_reference() -> None:
    stored = TaskFinished(run_id="r", task_id="1", status="ok", result=None, result_ref=REF)
    applied = with_result_marker(stored)
    assert applied.result == marker(REF) and is_marker(applied.result)


def test_inline_result_is_kept_when_there_is_no_reference() -> None:
    inline = TaskFinished(run_id="r", task_id="1", status="ok", result={"rows": [1, 2]})
    assert with_result_marker(inline) is inline
