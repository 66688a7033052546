"""scheduling: first-probe offsets and the token bucket of the global minting limiter.

Covers: offsets uniform in [0, interval) and spread, odd intervals; the bucket's burst, refill,
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
