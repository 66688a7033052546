"""Injected faults: latency, error statuses, dropped connections, bad JSON, load-balancer pages.

The daemon must survive everything a network and a big platform do on a bad day, so tests and
the demo switch these on per path prefix (``control.set_fault``). Latency sleeps on the world's
clock, so a ``ManualClock`` test decides when a slow answer arrives; ``rate`` draws from the
world's seeded RNG, so a run is reproducible; ``times`` limits a fault to the next N matches.
A load-balancer page is HTML without a correlation id, as a real one in front of the platform.
"""

from __future__ import annotations

import dataclasses
import enum
import random

from aiohttp import web

from grantwarden.base.clock import Clock
from grantwarden.simulator import errors

# Marks a response that did not come from the platform (no ININ-Correlation-Id).
NO_CORRELATION = web.RequestKey("sim.no_correlation", bool)
DROPPED = web.RequestKey("sim.dropped", bool)


class Action(enum.StrEnum):
    STATUS = "status"  # a platform ErrorBody with this HTTP status
    DROP = "drop"  # close the connection without an answer
    MALFORMED = "malformed"  # 200 with truncated JSON
    HTML = "html"  # a load balancer's 502/503 page


@dataclasses.dataclass(slots=True)
class Fault:
    prefix: str
    action: Action | None = None  # None: latency only
    latency_seconds: float = 0.0
    status: int = 503
    code: str | None = None  # STATUS: the ErrorBody code; default from the status
    retry_after: int = 1  # STATUS 429: the Retry-After header
    rate: float = 1.0  # share of matching requests that get the fault
    times: int | None = None  # at most this many requests, then the fault is gone

    def __post_init__(self) -> None:
        if not self.prefix.startswith("/"):
            raise ValueError("a fault's prefix is a path starting with /")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate is between 0 and 1")
        if self.latency_seconds < 0:
            raise ValueError("latency_seconds must not be negative")
        if self.action in (Action.STATUS, Action.HTML) and not 400 <= self.status <= 599:
            raise ValueError("status is an HTTP error status (400-599)")
        if self.times is not None and self.times < 1:
            raise ValueError("times is at least 1")


class Table:
    """The active faults; the longest matching prefix wins."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def __bool__(self) -> bool:
        return bool(self._faults)

    def set(self, fault: Fault) -> None:
        self._faults = [f for f in self._faults if f.prefix != fault.prefix] + [fault]
        self._faults.sort(key=lambda f: len(f.prefix), reverse=True)

    def clear(self, prefix: str | None = None) -> None:
        self._faults = [] if prefix is None else [f for f in self._faults if f.prefix != prefix]

    def active(self) -> list[Fault]:
        return list(self._faults)

    def draw(self, paths: tuple[str, ...], rng: random.Random) -> Fault | None:
        """The fault for a request known by ``paths`` (full path, path without region prefix)."""
        for fault in self._faults:
            if any(path.startswith(fault.prefix) for path in paths):
                if fault.rate < 1.0 and rng.random() >= fault.rate:
                    return None
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self.clear(fault.prefix)
                return fault
        return None


_LB_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
)


async def apply(fault: Fault, request: web.Request, clock: Clock) -> web.StreamResponse | None:
    """Carry out ``fault``; None lets the request through (latency only)."""
    if fault.latency_seconds > 0:
        await clock.sleep(fault.latency_seconds)
    if fault.action is None:
        return None
    if fault.action is Action.STATUS:
        if fault.status == 429:
            raise errors.rate_limited(fault.retry_after)
        error = errors.server_error(fault.status)
        if fault.code is not None or fault.status not in (500, 503, 504):
            error = errors.PlatformError(fault.status, fault.code or error.code, error.message)
        raise error
    if fault.action is Action.DROP:
        request[DROPPED] = True
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never reaches the client
    if fault.action is Action.MALFORMED:
        return web.Response(status=200, body=b'{"entities": [{"id": "', content_type="application/json")
    reason = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}.get(
        fault.status, "Error"
    )
    request[NO_CORRELATION] = True
    return web.Response(
        status=fault.status, text=_LB_PAGE.format(status=fault.status, reason=reason), content_type="text/html"
    )
