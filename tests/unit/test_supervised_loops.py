"""Supervised background loops: failures are retried with backoff, persistent ones are fatal, stalls show."""

from __future__ import annotations

import asyncio

from services.runtime.loops import SupervisedLoops

WAIT_S = 5.0


def loops(fatal: list[BaseException], *, clock=None, stopped: asyncio.Event | None = None) -> SupervisedLoops:
    options = {"clock": clock} if clock is not None else {}

    def on_fatal(error: BaseException) -> None:
        fatal.append(error)
        if stopped is not None:
            stopped.set()

    return SupervisedLoops(
        stall_s=10.0,
        max_failures=3,
        on_fatal=on_fatal,
        backoff_base_s=0.001,
        backoff_max_s=0.01,
        **options,
    )


async def test_step_is_retried_and_the_loop_stays_healthy_when_it_fails_now_and_then() -> None:
    fatal: list[BaseException] = []
    supervised = loops(fatal)
    calls = 0
    recovered = asyncio.Event()

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise ConnectionError("broker away")
        recovered.set()
        await asyncio.sleep(0.01)

    supervised.spawn("flush", step)
    await asyncio.wait_for(recovered.wait(), WAIT_S)
    assert fatal == [] and supervised.healthy("flush") and supervised.problems() == []
    await supervised.stop()


async def test_loop_is_fatal_and_unhealthy_when_its_step_keeps_failing() -> None:
    fatal: list[BaseException] = []
    stopped = asyncio.Event()
    supervised = loops(fatal, stopped=stopped)

    async def step() -> None:
        raise RuntimeError("publish refused")

    supervised.spawn("tick", step)
    await asyncio.wait_for(stopped.wait(), WAIT_S)
    assert isinstance(fatal[0], RuntimeError)
    assert not supervised.healthy("tick")
    assert supervised.problems() == ["loop tick stopped after 3 failures: RuntimeError: publish refused"]
    await supervised.stop()


async def test_loop_is_unhealthy_when_a_step_stalls_past_the_limit() -> None:
    now = [0.0]
    fatal: list[BaseException] = []
    supervised = loops(fatal, clock=lambda: now[0])
    entered = asyncio.Event()

    async def step() -> None:
        entered.set()
        await asyncio.Event().wait()  # stuck: never returns

    supervised.spawn("flush", step)
    await asyncio.wait_for(entered.wait(), WAIT_S)
    assert supervised.healthy("flush")
    now[0] = 11.0
    assert not supervised.healthy("flush")
    assert supervised.problems() == ["loop flush silent for 11 s (limit 10 s)"]
    assert not supervised.healthy("never-spawned")
    await supervised.stop()
