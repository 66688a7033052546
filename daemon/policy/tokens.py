"""When to refresh a token, and what a failed token request means.

Thousands of tenants minted in the same second must not all refresh in the same second, and a
refresh must land well before expiry. ``refresh_at`` therefore works from ``expires_in`` as
received (never from a clock inside the opaque token, reference §1.3) with a random share taken
off ``at_fraction``. ``classify_failure`` reads the token endpoint's own error shape
(``{error, error_description}``, reference §1.3), which is not the API's ErrorBody, into a
``TokenProblem`` the refresh loop, metrics and ``diagnosis`` share. Pure: ``rng`` is injected.
"""

from __future__ import annotations

import enum
import math
import random

from daemon.policy import errorbody
from daemon.policy.forbidden import Failure
from daemon.policy.labels import TokenResult

MAX_MARGIN_S = 60.0  # refresh no later than this before expiry (the Go SDK's choice, reference §1.6)


class TokenProblem(enum.StrEnum):
    """Why the token endpoint gave no token."""

    INVALID_CLIENT = "invalid_client"  # bad id/secret, deleted client, or the wrong region (reference §1.1)
    INVALID_GRANT = "invalid_grant"  # refresh token revoked or expired: re-authorize (reference §1.4)
    UNAUTHORIZED_CLIENT = "unauthorized_client"  # the client may not use this grant type
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    UNEXPECTED = "unexpected"  # any other status or an unreadable 2xx


_BY_ERROR = {
    "invalid_client": TokenProblem.INVALID_CLIENT,
    "invalid_grant": TokenProblem.INVALID_GRANT,
    "unauthorized_client": TokenProblem.UNAUTHORIZED_CLIENT,
    "unsupported_grant_type": TokenProblem.UNAUTHORIZED_CLIENT,
}
_RESULTS = {
    None: TokenResult.OK,
    TokenProblem.INVALID_CLIENT: TokenResult.INVALID_CLIENT,
    TokenProblem.RATE_LIMITED: TokenResult.RATE_LIMITED,
}


def refresh_at(
    *,
    received_at: float,
    expires_in: float,
    rng: random.Random,
    at_fraction: float = 0.75,
    jitter_fraction: float = 0.1,
) -> float:
    """Epoch seconds at which to refresh a token received at ``received_at``.

    received_at                                                           expiry
    |------------------------------[~~~~ jitter ~~~~]------------|--------|
                     (at - jitter)·life        at·life      life - margin
    The refresh falls uniformly in the bracketed window, then is clamped into
    [received_at, expiry - margin], margin = min(60 s, 10 % of the lifetime).
    """
    if not math.isfinite(expires_in) or expires_in <= 0:
        return received_at
    jitter = rng.uniform(0.0, jitter_fraction) if jitter_fraction > 0 else 0.0
    latest = received_at + expires_in - min(MAX_MARGIN_S, expires_in * 0.1)
    planned = received_at + expires_in * (at_fraction - jitter)
    return min(max(planned, received_at), latest) if math.isfinite(planned) else latest


def classify_failure(
    *, status: int | None, facts: errorbody.ErrorFacts | None, failure: Failure | None = None
) -> TokenProblem | None:
    """The problem with one token request; None for a usable 2xx."""
    facts = facts or errorbody.ErrorFacts()
    if failure is Failure.TIMEOUT:
        return TokenProblem.TIMEOUT
    if failure is Failure.NETWORK:
        return TokenProblem.NETWORK_ERROR
    if status is None:
        return TokenProblem.UNEXPECTED
    if 200 <= status < 300:
        return TokenProblem.UNEXPECTED if failure is Failure.MALFORMED else None
    if status == 429:
        return TokenProblem.RATE_LIMITED
    if status >= 500:
        return TokenProblem.SERVER_ERROR
    if problem := _BY_ERROR.get(facts.token_error or ""):
        return problem
    # A 401 without an OAuth error is a rejected Basic authentication: the client is unknown here.
    return TokenProblem.INVALID_CLIENT if status == 401 else TokenProblem.UNEXPECTED


def result_label(problem: TokenProblem | None) -> TokenResult:
    """``grantwarden_token_requests_total{result}`` for a token request's problem (None = ok)."""
    return _RESULTS.get(problem, TokenResult.ERROR)
