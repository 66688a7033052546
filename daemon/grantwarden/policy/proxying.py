"""The in-path proxy's decisions: which headers cross, which answers are retried, what is said.

The proxy (design.md §2.9) forwards an integration's request to its tenant's org with the
tenant's token. Here, as pure functions of plain data, is everything it decides besides the
allow-list (``allowlist``): the outcome labels of answers grantwarden gives itself; which request
and response headers cross (hop-by-hop headers never do, RFC 9110 §7.6.1; nor does the caller's
``Authorization``, its grantwarden token, or any ``X-Grantwarden-*`` header from either side);
which methods may be sent twice after a 401 (the idempotent ones of RFC 9110 §9.2.2 that SDKs
send: GET, HEAD, OPTIONS, PUT, DELETE; never POST or PATCH); the ``Retry-After`` of a local 429;
and header-safe text for ``X-Grantwarden-Fix``. Forwarded answers keep the platform's own
outcome (``labels.Outcome``, from ``forbidden.classify``). Called by ``surface.proxyforward``.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Collection

from grantwarden.policy.labels import Outcome

OUTCOME_HEADER = "X-Grantwarden-Outcome"
FIX_HEADER = "X-Grantwarden-Fix"
TOKEN_HEADER = "X-Grantwarden-Token"
FIX_LIMIT = 400  # characters of X-Grantwarden-Fix
RETRIED = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
_NEVER_FORWARDED = frozenset({"host", "authorization", "proxy-authorization", "expect", "content-length"})
_NEVER_RETURNED = frozenset({"proxy-authenticate", "content-length"})
_DROPPED_OUT = HOP_BY_HOP | _NEVER_FORWARDED
_DROPPED_BACK = HOP_BY_HOP | _NEVER_RETURNED
_OURS = "x-grantwarden-"
_UNSAFE = re.compile(r"[^\x20-\x7e]+")
_SPACES = re.compile(r"\s+")


class ProxyOutcome(enum.StrEnum):
    """Answers grantwarden gives itself, without (or instead of) the platform's (design.md §2.9)."""

    UNAUTHENTICATED = "unauthenticated"  # 401: no or a wrong X-Grantwarden-Token
    BAD_TARGET = "bad_target"  # 400: a path trick or not /t/TENANT/api/v2/...
    BAD_METHOD = "bad_method"  # 405: not one of the proxied methods
    UNKNOWN_TENANT = "unknown_tenant"  # 404: no such tenant on this replica
    NOT_ALLOWED = "not_allowed"  # 403: outside the blueprint's proxy_allow
    IDENTITY_NOT_VERIFIED = "identity_not_verified"  # 503: no identity check has passed yet (as the hand-off says)
    UNAVAILABLE = "unavailable"  # 503: no token to hand out, for a reason outside the outcomes (not running)
    HELD = "held"  # 429: inside the tenant's Retry-After floor; the platform was not asked
    BUSY = "busy"  # 429: per_tenant_concurrency requests of the tenant already in flight
    REQUEST_TOO_LARGE = "request_too_large"  # 413: a body over max_request_bytes
    RESPONSE_TOO_LARGE = "response_too_large"  # 502 (or a cut connection): over max_response_bytes
    CLIENT_CLOSED = "client_closed"  # the caller went away before the answer was complete
    INTERNAL = "internal"  # 503: grantwarden failed unexpectedly (logged as proxy_error)


Label = Outcome | ProxyOutcome


class UpstreamError(Exception):
    """No answer, or no complete one, from the platform (``remote.passthrough`` raises it): the
    outcome is ``timeout`` or ``network_error``, the message says what failed, never a token."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome


REFUSALS = frozenset({401, 403, 429})


def label_of(name: str) -> Label:
    """An outcome named by the tenant's access object, kept to known labels."""
    for vocabulary in (Outcome, ProxyOutcome):
        try:
            return vocabulary(name)
        except ValueError:
            continue
    return ProxyOutcome.UNAVAILABLE


def not_ready(error: str, outcome: str) -> Label:
    """The proxy's outcome for a token that may not go out (``traffic.NotReadyError``'s ``error``
    and ``outcome``, design.md §2.8.1): the identity's own labels, else why the token endpoint
    failed (an outcome of design.md §2.6), else ``unavailable`` (a worker starting, stopping, or ``pending``)."""
    if error == "wrong_org":
        return Outcome.WRONG_ORG
    if error == "identity_not_verified":
        return ProxyOutcome.IDENTITY_NOT_VERIFIED
    return label_of(outcome)


def is_refusal(status: int, outcome: Label) -> bool:
    """A platform answer that refuses the caller's authorisation or rate: shown beside the probes."""
    return status in REFUSALS or outcome is Outcome.WRONG_GRANT_TYPE


def retried(method: str) -> bool:
    """Whether a request refused with 401 is sent once more with a fresh token (idempotent only)."""
    return method in RETRIED


def request_headers(pairs: Collection[tuple[str, str]]) -> list[tuple[str, str]]:
    """The caller's headers that go on to the platform; the proxy adds Authorization and Host."""
    named = _connection_named(pairs)
    dropped = _DROPPED_OUT | named if named else _DROPPED_OUT
    return [(k, v) for k, v in pairs if (low := k.lower()) not in dropped and not low.startswith(_OURS)]


def response_headers(pairs: Collection[tuple[str, str]], *, token: str) -> list[tuple[str, str]]:
    """The platform's headers that go back to the caller: never hop-by-hop ones, never one
    claiming to be grantwarden's, never one that would carry the tenant's token."""
    named = _connection_named(pairs)
    dropped = _DROPPED_BACK | named if named else _DROPPED_BACK
    return [
        (k, v)
        for k, v in pairs
        if (low := k.lower()) not in dropped and not low.startswith(_OURS) and (not token or token not in v)
    ]


def _connection_named(pairs: Collection[tuple[str, str]]) -> frozenset[str]:
    """Headers a ``Connection`` header names are hop-by-hop too (RFC 9110 §7.6.1)."""
    return frozenset(
        name.strip().lower()
        for k, v in pairs
        if len(k) == 10 and k.lower() == "connection"  # the length first: this runs for every header
        for name in v.split(",")
        if name.strip()
    )


def held_for(not_before: float, now: float) -> float | None:
    """Seconds left of the tenant's Retry-After floor, or None when requests may go now."""
    left = not_before - now
    return left if left > 0 else None


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, rounded up, at least 1 (platform.md §5 sends integers)."""
    return str(max(1, math.ceil(seconds)))


def header_text(text: str, limit: int = FIX_LIMIT) -> str:
    """Text that is safe in a header value: printable ASCII on one line, at most ``limit`` characters."""
    flat = _UNSAFE.sub("?", _SPACES.sub(" ", text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
