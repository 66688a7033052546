"""heap: start-up objects are frozen out of the garbage collector's full passes.

Covers: ``freeze`` moves surviving objects into the permanent generation (a full pass no longer
walks them); ``freeze_when_ready`` freezes again as tenants finish their first cycle, in
steps, and once more when the last one has, logging ``heap_frozen``; it waits while a tenant
is still starting.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.base import heap


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freeze_takes_live_objects_out_of_full_collections() -> None:
    kept = [[index] for index in range(10_000)]
    tracked_before = len(gc.get_objects(generation=2)) + len(gc.get_objects(generation=1))
    frozen = heap.freeze(full=True)
    assert frozen >= len(kept)
    assert len(gc.get_objects(generation=2)) < tracked_before - len(kept) // 2


async def test_the_heap_is_frozen_in_steps_and_when_every_first_cycle_is_done() -> None:
    clock = clock_mod.ManualClock()
    events = [clock_mod.Event() for _ in range(8)]
    with structlog.testing.capture_logs() as logs:
        task = asyncio.ensure_future(heap.freeze_when_ready(lambda: events, clock=clock, steps=4))
        await clock.advance(5)
        assert gc.get_freeze_count() == 0  # nobody finished: nothing frozen yet
        assert not task.done()
        for event in events[:2]:
            event.set()
        await clock.advance(1)
        assert gc.get_freeze_count() > 0  # a quarter done: one step frozen
        assert not task.done()
        for event in events[2:7]:
            event.set()
        await clock.advance(3)
        assert not task.done()  # one tenant is still starting
        events[7].set()
        await clock.advance(1)
        await task
    done = [line for line in logs if line["event"] == "heap_frozen" and line["at"] == "first_cycles_done"]
    assert len(done) == 1
    assert done[0]["objects"] > 0
