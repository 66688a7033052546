"""scheduling: first-probe offsets and the token bucket of the global minting limiter.

Covers: offsets uniform in [0, interval) and spread, odd intervals; the window of first cycles
(what minting their tokens takes, at most an interval), and the phase later cycles move to, so
they spread over the interval again; the bucket's burst, refill,
waits without reservations (late wakers never get more than the burst), the burst cap on
refill, a clock that steps back, the floor on tiny waits, bad settings.
"""

from __future__ import annotations

import random

import pytest

from grantwarden.policy import scheduling
from grantwarden.policy.scheduling import Bucket


def test_first_offsets_are_in_the_interval_and_spread() -> None:
    rng = random.Random(5)
    offsets = [scheduling.first_offset(60.0, rng) for _ in range(5000)]
    assert all(0.0 <= o < 60.0 for o in offsets)
    per_second = [sum(1 for o in offsets if s <= o < s + 1) for s in range(60)]
    assert max(per_second) < 2 * 5000 / 60


@pytest.mark.parametrize(
    "interval",
    [
        pytest.param(0.0, id="zero"),
        pytest.param(-3.0, id="negative"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(float("inf"), id="inf"),
    ],
)
def test_first_offset_of_odd_intervals_is_zero(interval: float) -> None:
    assert scheduling.first_offset(interval, random.Random(1)) == 0.0


@pytest.mark.parametrize(
    ("rate", "burst", "takes", "waits"),
    [
        pytest.param(1.0, 2, [0, 0, 0, 0], [0, 0, 1, 1], id="burst-then-wait-for-the-next-token"),
        pytest.param(2.0, 1, [0, 0, 0.5, 0.5], [0, 0.5, 0, 0.5], id="half-second-spacing"),
        pytest.param(1.0, 2, [0, 0, 5, 5, 5], [0, 0, 0, 0, 1], id="refills-up-to-burst-only"),
        pytest.param(1.0, 1, [0, 0, 0.5, 1], [0, 1, 0.5, 0], id="nothing-reserved-while-waiting"),
        pytest.param(1.0, 2, [0, 0, 100, 100, 100], [0, 0, 0, 0, 1], id="a-late-waker-finds-only-the-burst"),
        pytest.param(1.0, 1, [10, 5, 5], [0, 1, 1], id="clock-stepping-back-refills-nothing"),
        pytest.param(10.0, 5, [0.0] * 5 + [0.1], [0] * 6, id="refill-between-takes"),
        pytest.param(1e6, 1, [0, 0], [0, scheduling.MIN_WAIT_S], id="tiny-waits-are-floored"),
    ],
)
def test_bucket(rate: float, burst: float, takes: list[float], waits: list[float]) -> None:
    bucket = Bucket(rate_per_s=rate, burst=burst)
    assert [bucket.try_take(now) for now in takes] == pytest.approx(waits)


@pytest.mark.parametrize(
    ("rate", "burst"),
    [
        pytest.param(0.0, 1, id="zero-rate"),
        pytest.param(-1.0, 1, id="negative-rate"),
        pytest.param(1.0, 0.5, id="burst-below-one"),
        pytest.param(float("nan"), 1, id="nan-rate"),
    ],
)
def test_bucket_rejects_bad_settings(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        Bucket(rate_per_s=rate, burst=burst)


@pytest.mark.parametrize(
    ("interval", "tenants", "rate", "window"),
    [
        pytest.param(60.0, 6, 20.0, 0.3, id="the-demo-is-ready-in-a-second-not-a-minute"),
        pytest.param(60.0, 10_000, 20.0, 60.0, id="a-large-fleet-keeps-the-whole-interval"),
        pytest.param(60.0, 1200, 20.0, 60.0, id="exactly-one-interval-of-mints"),
        pytest.param(60.0, 600, 20.0, 30.0, id="half-an-interval-of-mints"),
        pytest.param(10.0, 500, 250.0, 2.0, id="a-faster-limiter-a-narrower-window"),
        pytest.param(60.0, 1, 20.0, 0.05, id="one-tenant"),
        pytest.param(60.0, 0, 20.0, 0.0, id="no-tenant-starting"),
        pytest.param(60.0, -3, 20.0, 0.0, id="a-negative-count-is-none"),
        pytest.param(60.0, 6, None, 60.0, id="no-limiter-the-old-spread"),
        pytest.param(60.0, 6, 0.0, 60.0, id="a-zero-rate-the-old-spread"),
        pytest.param(60.0, 6, float("nan"), 60.0, id="a-nan-rate-the-old-spread"),
        pytest.param(60.0, 6, float("inf"), 0.0, id="an-unlimited-rate-all-at-once"),
        pytest.param(0.0, 6, 20.0, 0.0, id="a-zero-interval"),
        pytest.param(float("inf"), 6, 20.0, 0.0, id="an-infinite-interval"),
    ],
)
def test_first_cycles_spread_over_what_minting_takes_never_more_than_an_interval(
    interval: float, tenants: int, rate: float | None, window: float
) -> None:
    assert scheduling.first_window(interval, tenants=tenants, rate_per_s=rate) == pytest.approx(window)


@pytest.mark.parametrize(
    ("elapsed", "phase", "interval", "extra"),
    [
        pytest.param(0.5, 30.0, 60.0, 29.5, id="the-second-cycle-lands-on-its-phase"),
        pytest.param(0.5, 0.25, 60.0, 59.75, id="a-phase-already-passed-waits-for-the-next-interval"),
        pytest.param(0.5, 0.5, 60.0, 0.0, id="on-its-phase-already"),
        pytest.param(130.5, 30.0, 60.0, 19.5, id="a-long-first-cycle"),
        pytest.param(0.5, 30.0, 0.0, 0.0, id="no-interval"),
        pytest.param(0.5, 30.0, float("inf"), 0.0, id="an-infinite-interval"),
    ],
)
def test_later_cycles_move_to_their_phase_never_sooner_than_an_interval(
    elapsed: float, phase: float, interval: float, extra: float
) -> None:
    assert scheduling.into_phase(elapsed=elapsed, phase=phase, interval=interval) == pytest.approx(extra)


def test_first_cycles_that_came_together_spread_over_the_interval_from_the_second_on() -> None:
    rng = random.Random(3)
    interval, tenants = 60.0, 3000
    window = scheduling.first_window(interval, tenants=tenants, rate_per_s=200.0)
    seconds: list[int] = []
    for _ in range(tenants):
        first = scheduling.first_offset(window, rng)
        end = first + 0.5
        second = end + interval + scheduling.into_phase(elapsed=end, phase=rng.random() * interval, interval=interval)
        seconds.append(int(second % interval))
    per_second = [seconds.count(s) for s in range(int(interval))]
    assert max(per_second) < 2 * tenants / interval, "spread like the old first offsets, not 200 a second"
