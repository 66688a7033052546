"""When to refresh a token, and what a failed token request means.

Thousands of tenants minted in the same second must not all refresh in the same second, and a
refresh must land before expiry with room for retries, yet not so early that tokens are thrown
away. ``refresh_at`` therefore works from ``expires_in`` as received (never from a clock inside
the opaque token, platform.md §1.3) with a random share taken off ``at_fraction``, and caps how
long before expiry that is (``max_lead``). ``classify_failure`` reads the token endpoint's own error shape
(``{error, error_description}``, platform.md §1.3), which is not the API's ErrorBody, into a
``TokenProblem`` the refresh loop, metrics and ``diagnosis`` share. ``expiry_margin`` is the one
rule for how close to its expiry a token is still handed out (the token box) or still worth
waiting for (the refresh backoff). Pure: ``rng`` is injected.
"""

from __future__ import annotations

import enum
import math
import random

from grantwarden.policy import errorbody
from grantwarden.policy.forbidden import Failure

MAX_MARGIN_S = 60.0  # refresh no later than this before expiry (the Go SDK's choice, platform.md §1.6)
MAX_EXPIRY_MARGIN_S = 30.0  # a token this close to its expiry is no longer handed out: a request takes time
DEFAULT_MAX_LEAD_S = 300.0  # refresh at most this (plus as much again of jitter) before expiry


class TokenProblem(enum.StrEnum):
    """Why the token endpoint gave no token."""

    INVALID_CLIENT = "invalid_client"  # bad id/secret, deleted client, or the wrong region (platform.md §1.1)
    INVALID_GRANT = "invalid_grant"  # refresh token revoked or expired: re-authorize (platform.md §1.4)
    UNAUTHORIZED_CLIENT = "unauthorized_client"  # the client may not use this grant type
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    UNEXPECTED = "unexpected"  # any other status or an unreadable 2xx
    SECRET_UNAVAILABLE = "secret_unavailable"  # the configured secret cannot be read: nothing was sent


_BY_ERROR = {
    "invalid_client": TokenProblem.INVALID_CLIENT,
    "invalid_grant": TokenProblem.INVALID_GRANT,
    "unauthorized_client": TokenProblem.UNAUTHORIZED_CLIENT,
    "unsupported_grant_type": TokenProblem.UNAUTHORIZED_CLIENT,
}


def expiry_margin(lifetime_s: float) -> float:
    """Seconds before its expiry a token of ``lifetime_s`` stops being handed out.

    received                                           usable_until   expiry
    |--------------------------------------------------------|-----------|
                                                               margin = min(30 s, 10 % of life)
    Proportional, so a short-lived token is usable for most of its life: with a flat 30 s, a
    20 s token was never usable and every request minted a new one. Never more than the refresh
    margin of ``refresh_at``, so a token is refreshed before it stops being usable.
    """
    if not lifetime_s > 0:  # NaN and negatives included: no margin to speak of
        return 0.0
    return min(MAX_EXPIRY_MARGIN_S, 0.1 * lifetime_s)


def usable_until(*, received_at: float, expires_at: float) -> float:
    """The last moment a token received at ``received_at`` is handed out (``expiry_margin``)."""
    return expires_at - expiry_margin(expires_at - received_at)


def refresh_at(
    *,
    received_at: float,
    expires_in: float,
    rng: random.Random,
    at_fraction: float = 0.75,
    jitter_fraction: float = 0.1,
    max_lead_s: float = DEFAULT_MAX_LEAD_S,
) -> float:
    """Epoch seconds at which to refresh a token received at ``received_at``.

    received_at                                                             expiry
    |------------------------------------------[~~~~ spread ~~~~]-----base-----|
                                           refresh falls in here    lead = base + u·spread
    base = min((1 - at_fraction)·life, max_lead), spread = min(jitter_fraction·life, max_lead):
    a 5-minute token keeps the fractions (refresh in 65-75 % of its life), a 24-hour token is
    refreshed 5-10 minutes before expiry instead of 6-8.4 hours: the fractions alone would
    mint 43 % more tokens than one per lifetime for a margin that retries never need (nine
    attempts fit in five minutes of backoff; the Go SDK keeps 60 s, platform.md §1.6). The result
    is clamped into [received_at, expiry - margin], margin = min(60 s, 10 % of the lifetime).
    """
    if not math.isfinite(expires_in) or expires_in <= 0:
        return received_at
    expiry = received_at + expires_in
    latest = expiry - min(MAX_MARGIN_S, expires_in * 0.1)
    base = min((1.0 - at_fraction) * expires_in, max_lead_s)
    spread = min(jitter_fraction * expires_in, max_lead_s) if jitter_fraction > 0 else 0.0
    planned = expiry - base - (rng.uniform(0.0, spread) if spread > 0 else 0.0)
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
