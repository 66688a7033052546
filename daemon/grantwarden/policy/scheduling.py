"""Spreading work over time: first-probe offsets and a global token-minting rate limiter.

When a replica starts with thousands of tenants, starting every probe loop at once would send a
burst the platform answers with 429s, and minting thousands of tokens at once trips the token
endpoint's own limit (platform.md §5: "minting tokens is itself rate-limited"). ``first_window``
says over how long first cycles spread: what minting their tokens takes at the replica's rate,
never more than one interval (six tenants are ready in a second, not a minute); ``first_offset``
draws a tenant's place in it, and ``into_phase`` moves its later cycles back to a place of their
own in the interval, so the steady load stays spread; ``Bucket`` is the token bucket that every tenant's minting passes
through, and what still keeps 10,000 tenants under the rate. ``Bucket`` is the one mutable object in ``policy``: a small
state machine whose only input is the ``now`` its caller passes, so tests drive it from a
table of times with no clock and no sleeps. Callers: the tenant loops and the tokens box.
"""

from __future__ import annotations

import dataclasses
import math
import random

MIN_WAIT_S = 0.001  # a wait shorter than this would not move an epoch clock (float resolution)


def first_window(interval: float, *, tenants: int, rate_per_s: float | None) -> float:
    """Seconds over which ``tenants`` starting together spread their first cycles.

    Their tokens take ``tenants / rate_per_s`` seconds to mint through the limiter, so first
    cycles spread wider would only keep a small fleet unready for nothing, and spread narrower
    would only queue at the limiter; never more than one ``interval`` (the old spread, where
    a large fleet stays). ``rate_per_s`` None: no limiter to go by, the whole interval.

        6 tenants, 20/s, 60 s interval      → 0.3 s
        10,000 tenants, 20/s, 60 s interval → 60 s (the limiter meters the rest: 500 s of mints)
    """
    if not math.isfinite(interval) or interval <= 0:
        return 0.0
    if rate_per_s is None or not rate_per_s > 0:  # no limiter, or no rate to go by (NaN, 0)
        return interval
    return min(interval, max(0, tenants) / rate_per_s)  # an infinite rate: all at once


def into_phase(*, elapsed: float, phase: float, interval: float) -> float:
    """Seconds a tenant waits after its first cycle on top of ``interval``, so that its cycles from
    the second on start at ``phase`` within the interval: first cycles come together, fast
    (``first_window``), and the cycles after them spread over the interval as if they had never
    met. ``elapsed``: from the worker's start to the end of its first cycle; the result is in
    [0, interval), so no gap between two cycles is ever shorter than the interval.

        start  first cycle   end                                  second cycle
        |--f--[==========]|<------- interval ------->|<- extra ->|  at start + phase + k·interval
    """
    if not math.isfinite(interval) or interval <= 0:
        return 0.0
    return (phase - elapsed) % interval


def first_offset(interval: float, rng: random.Random) -> float:
    """Seconds in [0, interval) to wait before a tenant's first probe; 0 for a non-positive interval.

    ``interval`` is the window to spread over (``first_window``), at most one probe interval."""
    if not math.isfinite(interval) or interval <= 0:
        return 0.0
    return rng.random() * interval


@dataclasses.dataclass(slots=True)
class Bucket:
    """A token bucket: ``try_take(now)`` takes a token if there is one, else says how long to wait.

    Holds up to ``burst`` tokens, refilled at ``rate_per_s``. Nothing is reserved: a caller told
    to wait sleeps that long and tries again, so callers that wake late (a loaded event loop)
    find at most ``burst`` tokens and cannot go out together above the rate:

        burst 2, rate 1/s:
        t=0  level 2 → take (0) → 1 → take (0) → 0 → a third taker gets nothing: "wait 1 s"
        t=1  level 1, refilled → take (0) → 0
    """

    rate_per_s: float
    burst: float
    level: float = dataclasses.field(default=math.nan)
    updated_at: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_per_s) and self.rate_per_s > 0):
            raise ValueError(f"rate_per_s must be positive, not {self.rate_per_s}")
        if not (math.isfinite(self.burst) and self.burst >= 1):
            raise ValueError(f"burst must be at least 1, not {self.burst}")
        if math.isnan(self.level):
            self.level = self.burst

    def try_take(self, now: float) -> float:
        """Take one token at ``now`` if there is one (0.0); else take nothing and return the
        seconds until one is (at least ``MIN_WAIT_S``)."""
        self._refill(now)
        if self.level >= 1.0 - 1e-9:  # refills are float sums: a hair short of 1 is a whole token
            self.level = max(0.0, self.level - 1.0)
            return 0.0
        return max((1.0 - self.level) / self.rate_per_s, MIN_WAIT_S)

    def _refill(self, now: float) -> None:
        if self.updated_at is not None and now > self.updated_at:
            self.level = min(self.burst, self.level + (now - self.updated_at) * self.rate_per_s)
        if self.updated_at is None or now > self.updated_at:
            self.updated_at = now
