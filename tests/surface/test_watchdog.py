"""The event-loop watchdog: the pure verdict from a table, the loop on clocks that wake on time or late.

Covers: lag is never negative; problem() accepts lag up to the limit, refuses above it and
refuses a watchdog silent for longer than one interval plus the limit; the loop on a ManualClock
measures no lag and keeps beating; on a clock that wakes late it records that lateness in
``lag_s`` and ``grantwarden_event_loop_lag_seconds``; stop ends the loop at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import prometheus_client as prom
import pytest

from grantwarden.base import clock as clock_mod
from grantwarden.surface import watchdog
from grantwarden.telemetry import metrics as metrics_mod


class LateClock(clock_mod.Clock):
    """Every sleep returns at once, ``late_s`` after its deadline; sets ``stop`` after ``wakes`` sleeps."""

    def __init__(self, *, late_s: float, wakes: int, stop: asyncio.Event) -> None:
        self._now = 1_000.0
        self.late_s = late_s
        self.wakes = wakes
        self.stop = stop
        self.sleeps = 0

    def now(self) -> float:
        return self._now

    async def sleep(self, delay: float, *, wakeup: Iterable[asyncio.Event] = ()) -> bool:
        if any(event.is_set() for event in wakeup):
            return True
        self._now += delay + self.late_s
        self.sleeps += 1
        if self.sleeps >= self.wakes:
            self.stop.set()
        return False


def registry_lag(metrics: metrics_mod.Metrics) -> float | None:
    return metrics.registry.get_sample_value("grantwarden_event_loop_lag_seconds")


@pytest.fixture
def metrics() -> metrics_mod.Metrics:
    return metrics_mod.Metrics(registry=prom.CollectorRegistry())


@pytest.mark.parametrize(
    ("expected", "actual", "lag"),
    [
        pytest.param(10.0, 10.0, 0.0, id="on-time"),
        pytest.param(10.0, 16.5, 6.5, id="late"),
        pytest.param(10.0, 9.999, 0.0, id="early-is-not-negative"),
    ],
)
def test_lag_is_how_late_a_wakeup_came(expected: float, actual: float, lag: float) -> None:
    assert watchdog.lag(expected=expected, actual=actual) == pytest.approx(lag)


@pytest.mark.parametrize(
    ("lag_s", "silent_s", "verdict"),
    [
        pytest.param(0.0, 0.0, None, id="fresh"),
        pytest.param(5.0, 0.0, None, id="lag-at-the-limit-is-fine"),
        pytest.param(5.01, 0.0, "event loop lag 5.01 s exceeds 5.0 s", id="lag-over-the-limit"),
        pytest.param(0.0, 5.5, None, id="silent-for-one-interval-plus-the-limit-is-fine"),
        pytest.param(0.0, 5.6, "event loop watchdog silent for 5.6 s", id="silent-longer"),
        pytest.param(9.0, 60.0, "event loop lag 9.00 s exceeds 5.0 s", id="lag-is-named-first"),
    ],
)
def test_problem_names_lag_or_silence_beyond_the_limit(lag_s: float, silent_s: float, verdict: str | None) -> None:
    now = 2_000.0
    found = watchdog.problem(lag_s=lag_s, last_beat_at=now - silent_s, now=now, interval_s=0.5, max_lag_s=5.0)
    assert found == verdict


async def test_on_a_manual_clock_the_loop_beats_without_lag_and_stops_at_once(metrics: metrics_mod.Metrics) -> None:
    clock = clock_mod.ManualClock(start=1_000.0)
    dog = watchdog.Watchdog(clock=clock, metrics=metrics)
    stop = asyncio.Event()
    task = asyncio.create_task(dog.run(stop))
    await clock.advance(10.0)
    assert dog.lag_s == 0.0
    assert dog.last_beat_at == 1_010.0
    assert dog.healthy()
    assert registry_lag(metrics) == 0.0
    stop.set()
    await clock.settle()
    assert task.done()
    await task


async def test_a_clock_that_wakes_late_makes_the_lag_visible_and_unhealthy(metrics: metrics_mod.Metrics) -> None:
    stop = asyncio.Event()
    clock = LateClock(late_s=7.5, wakes=3, stop=stop)
    dog = watchdog.Watchdog(clock=clock, metrics=metrics)
    await dog.run(stop)
    assert clock.sleeps == 3
    assert dog.lag_s == pytest.approx(7.5)
    assert registry_lag(metrics) == pytest.approx(7.5)
    assert dog.problem() == "event loop lag 7.50 s exceeds 5.0 s"
    assert not dog.healthy()
    assert dog.healthy(max_lag_s=10.0)


async def test_a_slightly_late_loop_stays_healthy(metrics: metrics_mod.Metrics) -> None:
    stop = asyncio.Event()
    clock = LateClock(late_s=0.25, wakes=2, stop=stop)
    dog = watchdog.Watchdog(clock=clock, metrics=metrics)
    await dog.run(stop)
    assert dog.lag_s == pytest.approx(0.25)
    assert dog.healthy()


def test_a_watchdog_that_never_runs_turns_silent(metrics: metrics_mod.Metrics) -> None:
    clock = clock_mod.ManualClock(start=1_000.0)
    dog = watchdog.Watchdog(clock=clock, metrics=metrics)
    assert dog.healthy()
    clock.jump(6.0)
    assert dog.problem() == "event loop watchdog silent for 6.0 s"
