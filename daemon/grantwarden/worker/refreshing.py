"""The refresh loop of one tenant: sleep until the token box says act, then refresh.

The box decides nothing about time by itself; this loop wakes at ``box.next_wakeup()`` (the
planned refresh, or the retry after a failure) and asks the box to refresh. It also wakes when
the box changes (a 401 dropped the token, a probe minted one) so it never sleeps on a stale
schedule, and when the tenant stops.

    received        refresh_at (5–10 min before, 24 h)   expires_at
       |------------------x-------------------------------|
       mint               tick(): box.refresh()  → new token, new schedule
"""

from __future__ import annotations

import asyncio
import contextlib

from grantwarden.base import clock as clock_mod
from grantwarden.worker import tokenbox


class Refresher:
    __slots__ = ("_box", "_clock")  # one per tenant

    def __init__(self, *, box: tokenbox.TokenBox, clock: clock_mod.Clock) -> None:
        self._box = box
        self._clock = clock

    async def tick(self) -> None:
        """Refresh when due; a failure is already logged and scheduled by the box."""
        if self._clock.now() < self._box.next_wakeup():
            return
        # A failure is logged by the box (token_refresh_failed) and sets retry_at; sleep until then.
        with contextlib.suppress(tokenbox.TokenUnavailableError):
            await self._box.refresh()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.tick()
            self._box.changed.clear()
            delay = self._box.next_wakeup() - self._clock.now()
            if delay <= 0 and self._box.token is None and self._box.retry_at is None:
                delay = 1.0  # a refresh is already in flight elsewhere; look again shortly
            await self._clock.sleep(max(delay, 0.0), wakeup=(stop, self._box.changed))
