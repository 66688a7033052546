"""Fixed-window request budgets: per token, per client's minting, and a global minting cap.

The platform limits requests per token per minute (``token.rate.per.minute`` = 300) and limits
minting too (platform.md §5); a 429 carries an integer ``Retry-After``. A fixed window per key is
enough to reproduce that and stays exact under a ``ManualClock``:

    window opens at the first request ─┬─ budget requests pass ─┬─ 429, Retry-After = seconds
                                       t0                       │   left until t0 + period
                                                                 └─ at t0 + period a new window

Time comes from the caller (``now``), never from this module.
"""

from __future__ import annotations

import math

DEFAULT_TOKEN_REQUESTS_PER_MINUTE = 300
DEFAULT_MINTS_PER_CLIENT_PER_MINUTE = 120
DEFAULT_MINTS_PER_SECOND = 100

_PRUNE_AT = 200_000  # windows kept before expired ones are swept


class Windows:
    """Counters keyed by anything hashable; ``hit`` answers None or the seconds to wait."""

    def __init__(self, period_seconds: float) -> None:
        self.period = period_seconds
        self._windows: dict[object, list[float]] = {}

    def hit(self, key: object, budget: int, now: float) -> int | None:
        window = self._windows.get(key)
        if window is None or now >= window[0] + self.period:
            if len(self._windows) >= _PRUNE_AT:
                self._sweep(now)
            if budget < 1:
                return max(1, math.ceil(self.period))
            self._windows[key] = [now, 1.0]
            return None
        if window[1] >= budget:
            return max(1, math.ceil(window[0] + self.period - now))
        window[1] += 1
        return None

    def forget(self) -> None:
        self._windows.clear()

    def _sweep(self, now: float) -> None:
        for key in [k for k, w in self._windows.items() if now >= w[0] + self.period]:
            del self._windows[key]
