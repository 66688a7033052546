"""The one clock: ManualClock moves only when told, wakes sleepers in order, honours wakeups.

Covers: now() stands still; advance() wakes a sleeper at its deadline and not before; chains of
sleeps run in deadline order; a wakeup event ends a sleep early and reports it; LoopClock follows
real time closely enough to anchor wall time once.
"""

from __future__ import annotations

import asyncio

from grantwarden.base import clock as clock_mod


async def test_manual_clock_stands_still_until_advanced() -> None:
    clock = clock_mod.ManualClock(start=1000.0)
    woke: list[float] = []

    async def sleeper() -> None:
        await clock.sleep(10)
        woke.append(clock.now())

    task = asyncio.create_task(sleeper())
    await clock.advance(9.99)
    assert woke == []
    await clock.advance(0.01)
    assert woke == [1010.0]
    await task


async def test_chained_sleeps_wake_in_deadline_order_within_one_advance() -> None:
    clock = clock_mod.ManualClock(start=0.0)
    ticks: list[tuple[str, float]] = []

    async def loop(name: str, period: float, count: int) -> None:
        for _ in range(count):
            await clock.sleep(period)
            ticks.append((name, clock.now()))

    tasks = [asyncio.create_task(loop("a", 3, 3)), asyncio.create_task(loop("b", 4, 2))]
    await clock.advance(100)
    assert ticks == [("a", 3.0), ("b", 4.0), ("a", 6.0), ("b", 8.0), ("a", 9.0)]
    assert clock.now() == 100.0
    await asyncio.gather(*tasks)


async def test_wakeup_event_ends_a_sleep_early_and_says_so() -> None:
    clock = clock_mod.ManualClock()
    stop = asyncio.Event()
    result: list[bool] = []

    async def sleeper() -> None:
        result.append(await clock.sleep(60, wakeup=(stop,)))

    task = asyncio.create_task(sleeper())
    await clock.settle()
    stop.set()
    await task
    assert result == [True]
    assert clock.sleepers == 0


async def test_sleep_with_an_already_set_event_returns_at_once() -> None:
    clock = clock_mod.ManualClock()
    event = asyncio.Event()
    event.set()
    assert await clock.sleep(60, wakeup=(event,)) is True


async def test_timer_beats_an_unset_wakeup_event() -> None:
    clock = clock_mod.ManualClock()
    event = asyncio.Event()
    task = asyncio.create_task(clock.sleep(5, wakeup=(event,)))
    await clock.advance(5)
    assert await task is False


async def test_loop_clock_tracks_wall_time_and_sleeps_for_real() -> None:
    clock = clock_mod.LoopClock()
    before = clock.now()
    woke_early = await clock.sleep(0.01, wakeup=(asyncio.Event(),))
    assert woke_early is False
    assert 0.005 <= clock.now() - before < 5.0
    assert clock.utcnow().tzinfo is not None
