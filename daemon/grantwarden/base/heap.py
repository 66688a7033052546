"""Keeping the cyclic garbage collector's full passes short at thousands of tenants.

A full (generation 2) collection walks every tracked object. At 10,000 tenants the daemon
holds a few million of them (settings models, workers, token boxes, status records), nearly
all created at start-up and alive until the tenant leaves, and one full pass stalled the event
loop for 1.36 s: every probe, refresh and ``/readyz`` answer in flight waited that long.

``gc.freeze()`` moves every tracked object into a permanent generation that collections skip.
It is called twice: after start-up (the configuration and the workers), after a full
collection so nothing already dead is kept; and once every tenant has finished its first cycle
(the tokens, the first records), after collecting only the young generations, because a full
pass there would be the very stall this module exists to avoid. Objects frozen that later die
by reference counting are freed as usual; only cyclic garbage that exists at the moment of
freezing stays (bounded: what one young collection missed, once). Tenants added by a reload are
not frozen: they are few, and a later full pass handles them.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterable

import structlog

from grantwarden.base import clock as clock_mod


def freeze(*, full: bool) -> int:
    """Collect (fully, or the young generations only), freeze what is left; how many are frozen."""
    gc.collect(2 if full else 1)
    gc.freeze()
    return gc.get_freeze_count()


async def freeze_when_ready(
    events: Callable[[], Iterable[asyncio.Event]], *, clock: clock_mod.Clock, steps: int = 8, every_s: float = 1.0
) -> None:
    """Freeze again each time another ``1/steps`` of the events (tenants' first cycles) is set.

    First cycles create each tenant's long-lived records; freezing them as they accumulate keeps
    every full pass during start-up down to one step's worth of new objects, not the fleet's.
    Counting the fleet once a second costs a millisecond at 10,000 tenants.
    """
    log = structlog.get_logger("grantwarden")
    frozen_at = 0
    while True:
        flags = [event.is_set() for event in events()]
        done = sum(flags)
        if done == len(flags):
            break
        if done - frozen_at >= max(1, len(flags) // steps):
            log.debug("heap_frozen", objects=freeze(full=False), at="first_cycles", done=done)
            frozen_at = done
        await clock.sleep(every_s)
    log.info("heap_frozen", objects=freeze(full=False), at="first_cycles_done")
