"""The supervisor's restart policy: exponential backoff per quick exit, a reset after a stable run, and giving up."""

from __future__ import annotations

from services.runtime.supervisor import RestartPolicy, RestartState

POLICY = RestartPolicy(backoff_base_s=0.5, backoff_max_s=4.0, give_up_after=5, stable_after_s=30.0)


def exits(times: int, *, ran_s: float = 1.0) -> RestartState:
    state = RestartState()
    for _ in range(times):
        state = POLICY.after_exit(state, status=1, ran_s=ran_s, now=100.0)
    return state


def test_delay_doubles_and_is_capped_when_a_service_keeps_exiting_quickly() -> None:
    delays = [exits(n).next_start_at - 100.0 for n in range(1, 5)]
    assert delays == [0.5, 1.0, 2.0, 4.0]
    capped = RestartPolicy(backoff_base_s=0.5, backoff_max_s=1.5, give_up_after=10, stable_after_s=30.0)
    state = RestartState(quick_exits=6)
    assert capped.after_exit(state, status=1, ran_s=1.0, now=0.0).next_start_at == 1.5


def test_gives_up_with_the_reason_when_the_fifth_quick_exit_in_a_row_comes() -> None:
    state = exits(5)
    assert state.next_start_at is None
    assert state.gave_up == "gave up after 5 exits in a row within 30 s of starting (last exit status 1)"


def test_backoff_starts_again_when_the_service_had_run_stably() -> None:
    state = POLICY.after_exit(exits(4), status=-9, ran_s=120.0, now=100.0)
    assert (state.quick_exits, state.next_start_at, state.gave_up, state.last_exit) == (1, 100.5, None, -9)
