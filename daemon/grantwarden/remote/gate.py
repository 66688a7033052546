"""The Retry-After floor of one tenant: no request of that tenant leaves before ``not_before``.

design.md §3: ``Retry-After`` is a floor for every request of the tenant, token, probes and
re-grants alike, because the platform's limits stack per token and per client (platform.md §5).
The runtime creates one ``Gate`` per tenant and passes it to every client call; the transport
waits on it before sending and raises it when a 429 carries Retry-After. It knows nothing of
HTTP: backoff after failures without Retry-After is the callers' business (policy.backoff).

The gate is also where a tenant's stop is noticed: once its ``stop`` event is set, ``wait``
raises ``StoppedError`` at once (a Retry-After wait included) and no request of the tenant leaves.
That one exception travels up untouched (it is no ``RemoteError``) to the tenant's loop, which
alone handles it (``worker.tenant.Worker.run``).
"""

from __future__ import annotations

import asyncio

from grantwarden.base import clock as clocks


class StoppedError(Exception):
    """The tenant is stopping: the request was not sent, and the work that wanted it ends."""


class Gate:
    """A floor on the send time of one tenant's requests; only ever raised, never lowered."""

    __slots__ = ("_not_before", "stop")

    def __init__(self) -> None:
        self._not_before = 0.0
        self.stop: asyncio.Event | None = None  # the tenant's stop event, once it runs (``Worker.run``)

    @property
    def not_before(self) -> float:
        """Epoch seconds before which no request of this tenant is sent."""
        return self._not_before

    def hold(self, *, now: float, seconds: float) -> None:
        """Keep requests back for ``seconds`` from ``now``; an earlier, longer hold stands.

        ``now`` is when the 429 arrived: the platform counts from its answer, not our retry.
        """
        self._not_before = max(self._not_before, now + max(0.0, seconds))

    async def wait(self, clock: clocks.Clock) -> None:
        """Return once the floor has passed; re-checks because a hold may rise meanwhile.

        now        not_before (may move right while we sleep)
         |-----------|
         sleep(delta) then look again; the tenant's stop ends the sleep (``StoppedError``)
        """
        stop = self.stop
        if stop is not None and stop.is_set():
            raise StoppedError("the tenant is stopping; the request was not sent")
        while (delay := self._not_before - clock.now()) > 0:
            if await clock.sleep(delay, wakeup=(stop,) if stop is not None else ()):
                raise StoppedError("the tenant is stopping; the request was not sent")
