"""backoff: exponential delays with equal jitter, token retries bounded by the old token's expiry,
and the restart-intensity rule.

Covers: 1 s doubling to the 5 min cap, jitter staying within [ceiling/2, ceiling], odd attempt
numbers; token retries pulled before the old expiry, plain after it, a Retry-After floor; more
than 5 crashes in 60 s stopping restarts.
"""

from __future__ import annotations

import random

import pytest

from grantwarden.policy import backoff

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [
        pytest.param(1, 1.0, id="first-1s"),
        pytest.param(2, 2.0, id="doubles"),
        pytest.param(5, 16.0, id="fifth-16s"),
        pytest.param(9, 256.0, id="ninth-256s"),
        pytest.param(10, 300.0, id="capped-at-5-min"),
        pytest.param(10_000, 300.0, id="huge-attempt-capped"),
        pytest.param(0, 1.0, id="zero-treated-as-first"),
        pytest.param(-4, 1.0, id="negative-treated-as-first"),
    ],
)
def test_delay_is_equal_jitter_below_the_ceiling(attempt: int, ceiling: float) -> None:
    rng = random.Random(attempt)
    delays = [backoff.delay(attempt, rng=rng) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert max(delays) - min(delays) > ceiling / 4  # really jittered


def test_delay_honours_base_and_cap() -> None:
    assert backoff.delay(3, rng=random.Random(1), base=10.0, cap=25.0) <= 25.0
    assert backoff.delay(1, rng=random.Random(1), base=10.0) >= 5.0


class Ceiling(random.Random):
    """Draws the top of every range, so delays equal their ceilings."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize(
    ("attempt", "old_usable_until", "not_before", "expected"),
    [
        pytest.param(3, None, None, NOW + 4, id="no-old-token-plain-backoff"),
        pytest.param(3, NOW + 3600, None, NOW + 4, id="far-expiry-plain-backoff"),
        pytest.param(10, NOW + 70, None, NOW + 70, id="pulled-to-the-old-tokens-last-usable-moment"),
        pytest.param(10, NOW + 0.5, None, NOW + backoff.MIN_RETRY_S, id="almost-unusable-min-retry"),
        pytest.param(10, NOW - 5, None, NOW + 300, id="old-token-expired-plain-backoff"),
        pytest.param(10, NOW + 100, NOW + 120, NOW + 120, id="retry-after-floor-wins"),
        pytest.param(1, None, NOW - 10, NOW + 1, id="past-floor-ignored"),
    ],
)
def test_token_retry_at(
    attempt: int, old_usable_until: float | None, not_before: float | None, expected: float
) -> None:
    at = backoff.token_retry_at(
        now=NOW, attempt=attempt, old_usable_until=old_usable_until, rng=Ceiling(), not_before=not_before
    )
    assert at == pytest.approx(expected)


def test_token_retry_never_waits_past_a_usable_old_token() -> None:
    rng = random.Random(3)
    for attempt in range(1, 30):
        usable_until = NOW + rng.uniform(10, 600)
        assert backoff.token_retry_at(now=NOW, attempt=attempt, old_usable_until=usable_until, rng=rng) <= usable_until


@pytest.mark.parametrize(
    ("crashes", "allowed"),
    [
        pytest.param([], True, id="never-crashed"),
        pytest.param([NOW], True, id="one-crash"),
        pytest.param([NOW - 50, NOW - 40, NOW - 30, NOW - 20, NOW], True, id="five-in-a-minute"),
        pytest.param([NOW - 50, NOW - 40, NOW - 30, NOW - 20, NOW - 10, NOW], False, id="six-in-a-minute"),
        pytest.param([NOW - 120, NOW - 90, NOW - 61, NOW - 30, NOW - 20, NOW], True, id="old-crashes-leave-the-window"),
        pytest.param([NOW - 60, NOW - 40, NOW - 30, NOW - 20, NOW - 10, NOW], True, id="exactly-60s-ago-is-outside"),
    ],
)
def test_restart_allowed(crashes: list[float], allowed: bool) -> None:
    assert backoff.restart_allowed(crashes, NOW) is allowed
