"""The event-loop watchdog: proves to ``/healthz`` that the loop still runs on time.

A daemon whose loop is blocked (a CPU-bound call, a synchronous DNS lookup, a runaway tenant)
still looks alive to a process check, yet refreshes no token. The watchdog sleeps a fixed
interval through the clock and measures how late it woke; that lag goes to
``grantwarden_event_loop_lag_seconds`` and, above ``MAX_LAG_S``, makes ``/healthz`` answer 503 so
that Kubernetes restarts the pod. A watchdog that stopped beating altogether (its task died, or
the loop was frozen longer than the lag it could measure) counts as unhealthy too.

The decision is the pure function ``problem()``; the loop only measures. ``server.start`` runs
one watchdog for the lifetime of the listener. Time comes from ``grantwarden.base.clock`` only: on a
``ManualClock`` the lag is always 0, so tests drive ``observe()`` or a clock that wakes late.
"""

from __future__ import annotations

import asyncio

from grantwarden.base import clock as clock_mod
from grantwarden.telemetry import metrics as metrics_mod

INTERVAL_S = 0.5
MAX_LAG_S = 5.0


def lag(*, expected: float, actual: float) -> float:
    """How late a wakeup was, in seconds; never negative (a clock may wake a hair early)."""
    return max(0.0, actual - expected)


def problem(*, lag_s: float, last_beat_at: float, now: float, interval_s: float, max_lag_s: float) -> str | None:
    """Why the loop is unhealthy, or None when it is fine.

    The heartbeat check catches what the lag cannot: a loop frozen right now, whose watchdog has
    not woken yet to measure it.

        last_beat_at        last_beat_at + interval_s + max_lag_s
        ─────┼──────────────────────────┼───────────────────▶ now
             │   fine: next beat due    │  silent: unhealthy
    """
    if lag_s > max_lag_s:
        return f"event loop lag {lag_s:.2f} s exceeds {max_lag_s:.1f} s"
    silent_s = now - last_beat_at
    if silent_s > interval_s + max_lag_s:
        return f"event loop watchdog silent for {silent_s:.1f} s"
    return None


class Watchdog:
    """Measures event-loop lag; ``run()`` is its loop, ``problem()`` its verdict."""

    def __init__(self, *, clock: clock_mod.Clock, metrics: metrics_mod.Metrics, interval_s: float = INTERVAL_S) -> None:
        self._clock = clock
        self._metrics = metrics
        self.interval_s = interval_s
        self.lag_s = 0.0
        self.last_beat_at = clock.now()

    def observe(self, lag_s: float) -> None:
        """Record one measurement (also how tests put the watchdog into a known state)."""
        self.lag_s = lag_s
        self.last_beat_at = self._clock.now()
        self._metrics.loop_lag.set(lag_s)

    def problem(self, max_lag_s: float = MAX_LAG_S) -> str | None:
        return problem(
            lag_s=self.lag_s,
            last_beat_at=self.last_beat_at,
            now=self._clock.now(),
            interval_s=self.interval_s,
            max_lag_s=max_lag_s,
        )

    def healthy(self, max_lag_s: float = MAX_LAG_S) -> bool:
        return self.problem(max_lag_s) is None

    async def tick(self, stop: asyncio.Event) -> None:
        """Sleep one interval and record how late the wakeup came, unless ``stop`` ended it."""
        expected = self._clock.now() + self.interval_s
        if await self._clock.sleep(self.interval_s, wakeup=(stop,)):
            return
        self.observe(lag(expected=expected, actual=self._clock.now()))

    async def run(self, stop: asyncio.Event) -> None:
        self.last_beat_at = self._clock.now()  # the silence before the first run was nobody's fault
        while not stop.is_set():
            await self.tick(stop)
