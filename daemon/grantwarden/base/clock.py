"""The one clock: the only module that reads time or sleeps.

Every timing decision in grantwarden (token refresh, probe schedules, backoff, Retry-After
floors, settle timeouts) goes through a ``Clock`` passed in as a keyword argument, so that tests
drive a whole daemon, and the simulator beside it, on a ``ManualClock`` where nothing moves unless
the test moves it. A ruff ``banned-api`` rule keeps ``time.time``, ``time.monotonic``,
``datetime.now`` and ``asyncio.sleep`` out of every other module.

``now()`` is wall time in seconds since the epoch (UTC). ``LoopClock`` anchors it once at start
and then follows the event loop's monotonic clock, so a wall-clock step (NTP, a suspended VM) does
not make refreshes fire early or late.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import datetime
import heapq
import itertools
import math
import time
from collections.abc import Iterable


class Clock(abc.ABC):
    """Time source and sleeper for everything outside this module."""

    @abc.abstractmethod
    def now(self) -> float:
        """Seconds since the epoch, UTC."""

    @abc.abstractmethod
    async def sleep(self, delay: float, *, wakeup: Iterable[asyncio.Event] = ()) -> bool:
        """Sleep ``delay`` seconds; return True when one of ``wakeup`` was set first."""

    def utcnow(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.now(), tz=datetime.UTC)


class Event(asyncio.Event):
    """An ``asyncio.Event`` whose waiters sit in a list instead of a deque.

    An empty deque costs 624 bytes, an empty list 56, and every tenant holds several events
    (stop, poke, reconcile, first cycle done, token changed) that are almost never waited on by
    more than one sleeper: at 10,000 tenants that is about 30 MB. ``asyncio.Event`` only appends
    to, removes from and iterates its waiters, which a list does as well.
    """

    def __init__(self) -> None:
        super().__init__()
        self._waiters: list[asyncio.Future[bool]] = []  # type: ignore[assignment]  # see the docstring


async def _wait(timer: asyncio.Future[None], events: Iterable[asyncio.Event]) -> bool:
    """Wait for ``timer`` or any event; True when an event won. Cleans up what it started.

    No task per event: one future joins each event's own waiters (``Event.set`` resolves every
    future there with True, exactly as it wakes ``Event.wait``), and the timer resolves it with
    False. Ten thousand sleeping tenants then cost ten thousand futures, not thirty thousand tasks.
    """
    watched = list(events)
    if any(event.is_set() for event in watched):
        timer.cancel()
        return True
    woken: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    for event in watched:
        event._waiters.append(woken)  # asyncio.Event's own waiter deque: set() resolves it
    timer.add_done_callback(lambda _: None if woken.done() else woken.set_result(False))
    try:
        return await woken
    finally:
        for event in watched:
            with contextlib.suppress(ValueError):
                event._waiters.remove(woken)
        if not timer.done():
            timer.cancel()


class LoopClock(Clock):
    """Production clock: wall time anchored once, then the loop's monotonic time."""

    def __init__(self) -> None:
        self._wall_anchor = time.time()
        self._mono_anchor = time.monotonic()

    def now(self) -> float:
        return self._wall_anchor + (time.monotonic() - self._mono_anchor)

    async def sleep(self, delay: float, *, wakeup: Iterable[asyncio.Event] = ()) -> bool:
        events = list(wakeup)
        if not events:
            await asyncio.sleep(max(0.0, delay))
            return False
        loop = asyncio.get_running_loop()
        timer: asyncio.Future[None] = loop.create_future()
        handle = None if math.isinf(delay) else loop.call_later(max(0.0, delay), _resolve, timer)
        try:
            return await _wait(timer, events)
        finally:
            if handle is not None:
                handle.cancel()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ManualClock(Clock):
    """Test clock: time stands still until ``advance()`` moves it.

    ``advance(seconds)`` walks through every sleeper's deadline in order, waking each and letting
    the loop settle before the next, so chains of sleeps (a loop that sleeps, works, sleeps again)
    behave as they would in real time, only instantly.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.activity = 0  # bumps on every sleep and wake: settle() waits for it to stand still

    def now(self) -> float:
        return self._now

    @property
    def sleepers(self) -> int:
        """How many sleeps are pending (cancelled ones excluded)."""
        return sum(1 for _, _, fut in self._sleepers if not fut.done())

    def next_deadline(self) -> float | None:
        live = [deadline for deadline, _, fut in self._sleepers if not fut.done()]
        return min(live) if live else None

    async def sleep(self, delay: float, *, wakeup: Iterable[asyncio.Event] = ()) -> bool:
        self.activity += 1
        loop = asyncio.get_running_loop()
        timer: asyncio.Future[None] = loop.create_future()
        if delay <= 0:
            timer.set_result(None)
        else:
            heapq.heappush(self._sleepers, (self._now + delay, next(self._seq), timer))
        events = list(wakeup)
        if not events:
            try:
                await timer
            finally:
                if not timer.done():
                    timer.cancel()
            return False
        return await _wait(timer, events)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking sleepers in deadline order."""
        target = self._now + max(0.0, seconds)
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, timer = heapq.heappop(self._sleepers)
            if timer.done():
                continue
            self._now = max(self._now, deadline)
            self.activity += 1
            timer.set_result(None)
            # Wake everyone due at the same instant before letting the loop run.
            while self._sleepers and self._sleepers[0][0] <= self._now:
                _, _, same = heapq.heappop(self._sleepers)
                if not same.done():
                    same.set_result(None)
            await self.settle()
        self._now = target
        await self.settle()

    def jump(self, seconds: float) -> None:
        """Step the clock without waking anyone (a suspended VM, a wall-clock jump)."""
        self._now += seconds

    async def settle(self, *, pause: float = 0.001, quiet_rounds: int = 3, limit: float = 5.0) -> None:
        """Let the loop run until no task sleeps or wakes for ``quiet_rounds`` short pauses.

        Real I/O on loopback (the simulator in end-to-end tests) finishes within those pauses; a
        test that needs more patience passes a larger ``pause``.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + limit
        quiet, last = 0, self.activity
        while quiet < quiet_rounds and loop.time() < give_up:
            for _ in range(8):
                await asyncio.sleep(0)
            await asyncio.sleep(pause)
            if self.activity == last:
                quiet += 1
            else:
                quiet, last = 0, self.activity
