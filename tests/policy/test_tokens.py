"""tokens: refresh times spread over a window before expiry; token-endpoint failures classified.

Covers: the 0.65–0.75 window for a 24 h token with the defaults, 1,000 tenants minted in the
same second spreading their refreshes over more than two hours, clamping (never before receipt,
never after expiry minus the margin, odd inputs), and every token-endpoint failure shape.
"""

from __future__ import annotations

import json
import random

import pytest

from daemon.policy import errorbody, tokens
from daemon.policy.forbidden import Failure
from daemon.policy.labels import TokenResult
from daemon.policy.tokens import TokenProblem

T0 = 1_700_000_000.0
DAY = 86_400.0


def test_a_day_token_refreshes_between_65_and_75_percent_of_its_life() -> None:
    rng = random.Random(7)
    for _ in range(1000):
        at = tokens.refresh_at(received_at=T0, expires_in=DAY, rng=rng)
        assert T0 + 0.65 * DAY <= at <= T0 + 0.75 * DAY


def test_a_thousand_tenants_minted_together_spread_over_two_hours() -> None:
    rng = random.Random(42)
    times = [tokens.refresh_at(received_at=T0, expires_in=DAY, rng=rng) for _ in range(1000)]
    assert max(times) - min(times) >= 2 * 3600
    per_minute = [int((t - T0) // 60) for t in times]
    assert max(per_minute.count(m) for m in set(per_minute)) <= 20  # about 7 a minute on average


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.value


@pytest.mark.parametrize(
    ("expires_in", "at_fraction", "jitter_fraction", "draw", "expected"),
    [
        pytest.param(DAY, 0.75, 0.1, 0.0, T0 + 0.75 * DAY, id="no-jitter-drawn"),
        pytest.param(DAY, 0.75, 0.1, 1.0, T0 + 0.65 * DAY, id="full-jitter-drawn"),
        pytest.param(DAY, 0.75, 0.0, 0.5, T0 + 0.75 * DAY, id="jitter-off"),
        pytest.param(DAY, 1.5, 0.1, 0.0, T0 + DAY - 60, id="never-after-expiry-minus-margin"),
        pytest.param(300.0, 0.99, 0.0, 0.0, T0 + 270, id="short-token-margin-is-10-percent"),
        pytest.param(DAY, 0.05, 0.5, 1.0, T0, id="never-before-receipt"),
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
    ("problem", "label"),
    [
        pytest.param(None, TokenResult.OK, id="ok"),
        pytest.param(TokenProblem.INVALID_CLIENT, TokenResult.INVALID_CLIENT, id="invalid-client"),
        pytest.param(TokenProblem.RATE_LIMITED, TokenResult.RATE_LIMITED, id="rate-limited"),
        pytest.param(TokenProblem.INVALID_GRANT, TokenResult.ERROR, id="invalid-grant-is-error"),
        pytest.param(TokenProblem.TIMEOUT, TokenResult.ERROR, id="timeout-is-error"),
    ],
)
def test_result_label(problem: TokenProblem | None, label: TokenResult) -> None:
    assert tokens.result_label(problem) is label
