"""tokens: refresh times spread over a window before expiry; token-endpoint failures classified.

Covers: a 24 h token refreshed 5–10 minutes before expiry with the defaults (max_lead caps the
fractions), a 5-minute token still in 65–75 % of its life, 1,000 tenants minted in the same
second spreading their refreshes over five minutes, clamping (never before receipt, never after
expiry minus the margin, odd inputs), every token-endpoint failure shape, and the one expiry
margin (30 s, or a tenth of a shorter lifetime) that lets a refresh land while a token is usable.
"""

from __future__ import annotations

import json
import random

import pytest

from grantwarden.policy import errorbody, tokens
from grantwarden.policy.forbidden import Failure
from grantwarden.policy.tokens import TokenProblem

T0 = 1_700_000_000.0
DAY = 86_400.0


def test_a_day_token_refreshes_five_to_ten_minutes_before_expiry() -> None:
    rng = random.Random(7)
    for _ in range(1000):
        at = tokens.refresh_at(received_at=T0, expires_in=DAY, rng=rng)
        assert T0 + DAY - 600 <= at <= T0 + DAY - 300


def test_a_five_minute_token_keeps_the_fractions() -> None:
    rng = random.Random(8)
    for _ in range(1000):
        at = tokens.refresh_at(received_at=T0, expires_in=300.0, rng=rng)
        assert T0 + 0.65 * 300 <= at <= T0 + 0.75 * 300


def test_day_tokens_cost_less_than_one_percent_over_one_per_lifetime() -> None:
    rng = random.Random(9)
    leads = [T0 + DAY - tokens.refresh_at(received_at=T0, expires_in=DAY, rng=rng) for _ in range(10_000)]
    mean_interval = DAY - sum(leads) / len(leads)
    assert DAY / mean_interval - 1 < 0.01


def test_a_large_max_lead_restores_the_fractions_for_day_tokens() -> None:
    rng = random.Random(10)
    for _ in range(200):
        at = tokens.refresh_at(received_at=T0, expires_in=DAY, rng=rng, max_lead_s=DAY)
        assert T0 + 0.65 * DAY <= at <= T0 + 0.75 * DAY


def test_a_thousand_tenants_minted_together_spread_over_five_minutes() -> None:
    rng = random.Random(42)
    times = [tokens.refresh_at(received_at=T0, expires_in=DAY, rng=rng) for _ in range(1000)]
    assert max(times) - min(times) >= 290
    per_second = [int(t - T0) for t in times]
    assert max(per_second.count(s) for s in set(per_second)) <= 15  # about 3 a second on average


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.value


@pytest.mark.parametrize(
    ("expires_in", "at_fraction", "jitter_fraction", "draw", "expected"),
    [
        pytest.param(3600.0, 0.75, 0.1, 0.0, T0 + 3600 - 300, id="hour-token-no-jitter-drawn"),
        pytest.param(3600.0, 0.75, 0.1, 1.0, T0 + 3600 - 600, id="hour-token-full-jitter-drawn"),
        pytest.param(600.0, 0.75, 0.1, 0.0, T0 + 0.75 * 600, id="short-token-no-jitter-drawn"),
        pytest.param(600.0, 0.75, 0.1, 1.0, T0 + 0.65 * 600, id="short-token-full-jitter-drawn"),
        pytest.param(600.0, 0.75, 0.0, 0.5, T0 + 0.75 * 600, id="jitter-off"),
        pytest.param(DAY, 1.5, 0.1, 0.0, T0 + DAY - 60, id="never-after-expiry-minus-margin"),
        pytest.param(300.0, 0.99, 0.0, 0.0, T0 + 270, id="short-token-margin-is-10-percent"),
        pytest.param(500.0, 0.05, 0.9, 1.0, T0, id="never-before-receipt"),
        pytest.param(0.0, 0.75, 0.1, 0.5, T0, id="zero-lifetime-refreshes-now"),
        pytest.param(-5.0, 0.75, 0.1, 0.5, T0, id="negative-lifetime-refreshes-now"),
        pytest.param(float("nan"), 0.75, 0.1, 0.5, T0, id="nan-lifetime-refreshes-now"),
        pytest.param(DAY, float("nan"), 0.1, 0.5, T0 + DAY - 60, id="nan-fraction-falls-back-to-latest"),
    ],
)
def test_refresh_at_bounds(
    expires_in: float, at_fraction: float, jitter_fraction: float, draw: float, expected: float
) -> None:
    at = tokens.refresh_at(
        received_at=T0,
        expires_in=expires_in,
        at_fraction=at_fraction,
        jitter_fraction=jitter_fraction,
        rng=FixedRandom(draw),
    )
    assert at == pytest.approx(expected)


def token_error(error: str) -> errorbody.ErrorFacts:
    return errorbody.parse(json.dumps({"error": error, "description": "x", "error_description": "x"}).encode())


@pytest.mark.parametrize(
    ("status", "facts", "failure", "expected"),
    [
        pytest.param(200, None, None, None, id="ok"),
        pytest.param(200, None, Failure.MALFORMED, TokenProblem.UNEXPECTED, id="malformed-2xx"),
        pytest.param(401, token_error("invalid_client"), None, TokenProblem.INVALID_CLIENT, id="invalid-client"),
        pytest.param(400, token_error("invalid_client"), None, TokenProblem.INVALID_CLIENT, id="invalid-client-400"),
        pytest.param(400, token_error("invalid_grant"), None, TokenProblem.INVALID_GRANT, id="invalid-grant"),
        pytest.param(
            400, token_error("unauthorized_client"), None, TokenProblem.UNAUTHORIZED_CLIENT, id="unauthorized-client"
        ),
        pytest.param(
            400, token_error("unsupported_grant_type"), None, TokenProblem.UNAUTHORIZED_CLIENT, id="unsupported-grant"
        ),
        pytest.param(401, errorbody.parse(b""), None, TokenProblem.INVALID_CLIENT, id="bare-401-is-basic-auth-refused"),
        pytest.param(400, token_error("invalid_request"), None, TokenProblem.UNEXPECTED, id="other-oauth-error"),
        pytest.param(429, None, None, TokenProblem.RATE_LIMITED, id="rate-limited"),
        pytest.param(503, errorbody.parse(b"<html>"), None, TokenProblem.SERVER_ERROR, id="server-error"),
        pytest.param(None, None, Failure.TIMEOUT, TokenProblem.TIMEOUT, id="timeout"),
        pytest.param(None, None, Failure.NETWORK, TokenProblem.NETWORK_ERROR, id="network"),
        pytest.param(None, None, None, TokenProblem.UNEXPECTED, id="nothing-at-all"),
        pytest.param(404, None, None, TokenProblem.UNEXPECTED, id="404"),
    ],
)
def test_classify_failure(
    status: int | None, facts: errorbody.ErrorFacts | None, failure: Failure | None, expected: TokenProblem | None
) -> None:
    assert tokens.classify_failure(status=status, facts=facts, failure=failure) is expected


@pytest.mark.parametrize(
    ("lifetime", "margin"),
    [
        pytest.param(DAY, 30.0, id="day-token-30-s"),
        pytest.param(300.0, 30.0, id="five-minutes-30-s"),
        pytest.param(299.0, 29.9, id="under-five-minutes-10-percent"),
        pytest.param(20.0, 2.0, id="twenty-seconds-2-s"),
        pytest.param(1.0, 0.1, id="one-second-a-tenth"),
        pytest.param(0.0, 0.0, id="zero-lifetime-none"),
        pytest.param(-5.0, 0.0, id="negative-lifetime-none"),
        pytest.param(float("nan"), 0.0, id="nan-lifetime-none"),
    ],
)
def test_the_expiry_margin_is_thirty_seconds_or_a_tenth_of_a_short_lifetime(lifetime: float, margin: float) -> None:
    assert tokens.expiry_margin(lifetime) == pytest.approx(margin)


@pytest.mark.parametrize("lifetime", [1.0, 5.0, 20.0, 45.0, 300.0, 3600.0, DAY])
def test_a_token_is_refreshed_before_it_stops_being_usable(lifetime: float) -> None:
    """Else requests in between would each mint a token of their own (tokens.refresh_at vs usable_until)."""
    latest = tokens.refresh_at(
        received_at=T0, expires_in=lifetime, at_fraction=0.99, jitter_fraction=0.0, rng=FixedRandom(0.0)
    )
    assert T0 < latest <= tokens.usable_until(received_at=T0, expires_at=T0 + lifetime)
