"""The integration's own traffic as grantwarden reads it: operation names, re-probes, limits.

The hand-off (design.md §2.8) lets the integration report a refusal it met, and the in-path
proxy (design.md §2.9) reports every refusal its requests meet. A report becomes an *observed probe* named
after the operation it called, ``traffic:<method>-<path words>``, with ids replaced by ``id`` so
that every call of one endpoint shares a name (a metric label, a finding, a plan key):
``GET /api/v2/conversations/messaging/integrations/9f1c…`` is
``traffic:get-conversations-messaging-integrations-id``. Every static segment of the platform's
paths is letters only (the official SDK's 2,288 resource paths: only ``v2`` and ``lexv2`` hold a
digit), so a segment with anything else is an id. Only a GET is repeated by grantwarden
(``reprobe_path``): repeating a POST could send a message twice.

Pure rules, no I/O: the access object (``worker.access``), the hand-off listener and the proxy
call them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import urllib.parse
from collections.abc import Mapping

from grantwarden.policy import labels

PREFIX = "traffic:"
MAX_NAME = 100  # characters of an operation name; longer ones end in a digest of the whole
API_ROOT = "/api/v2/"
MAX_BODY = 16 * 1024  # bytes of a reported body read; the rest is cut
_STATIC = re.compile(r"^[A-Za-z]{1,40}$")
_KNOWN_STATIC = frozenset({"lexv2"})  # the one static segment with a digit (besides v2 itself)
_METHOD = re.compile(r"^[A-Z]{3,7}$")
_SAFE_PATH = re.compile(r"^/api/v2/[A-Za-z0-9._~!$'()*+,;=:@%/-]*$")
_SAFE_QUERY = re.compile(r"^[A-Za-z0-9._~!$'()*+,;=:@%/?&-]*$")

# Outcomes a report can teach grantwarden about the tenant's authorisation (design.md §2.6).
DIAGNOSED = frozenset(
    {
        labels.Outcome.MISSING_PERMISSION,
        labels.Outcome.MISSING_DIVISION_PERMISSION,
        labels.Outcome.MISSING_SCOPE,
        labels.Outcome.MISSING_TRUSTOR_PERMISSION,
        labels.Outcome.POLICY_DENIED,
        labels.Outcome.FORBIDDEN,
        labels.Outcome.WRONG_GRANT_TYPE,
    }
)
# Re-probe outcomes that keep an observation as it was: the answer says nothing either way.
TRANSIENT = frozenset(
    {labels.Outcome.TIMEOUT, labels.Outcome.NETWORK_ERROR, labels.Outcome.SERVER_ERROR, labels.Outcome.RATE_LIMITED}
)


def method_ok(method: str) -> bool:
    return bool(_METHOD.match(method))


def split(path: str) -> tuple[str, str]:
    """(path, query) of a reported request path; the path must be under ``/api/v2/``."""
    parts = urllib.parse.urlsplit(path)
    if parts.scheme or parts.netloc or not parts.path.startswith(API_ROOT):
        raise ValueError("path must be the request's path on the platform's API host, starting with /api/v2/")
    return parts.path, parts.query


def operation(method: str, path: str) -> str:
    """The observed probe's name for ``method path`` (a path from ``split``)."""
    words = [_word(segment) for segment in path.removeprefix(API_ROOT).split("/") if segment]
    name = f"{PREFIX}{method.lower()}-{'-'.join(words)}".rstrip("-")
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9]}-{digest}"


def _word(segment: str) -> str:
    if segment.lower() in _KNOWN_STATIC or _STATIC.match(segment):
        return segment.lower()
    return "id"


def reprobe_path(method: str, path: str, query: str) -> str | None:
    """The path and query grantwarden may GET again to see whether the refusal still stands, or
    None: not a GET, or characters that could leave the tenant's API host or its ``/api/v2/``."""
    if method != "GET" or not _SAFE_PATH.match(path) or "/../" in path or path.endswith("/..") or "//" in path:
        return None
    if query and not _SAFE_QUERY.match(query):
        return None
    return f"{path}?{query}" if query else path


def valid_for(requested_s: float, lifetime_s: float | None) -> float:
    """How long the token handed out must still last: what was asked, but at most half the
    lifetime of the platform's tokens, so that no request can make every answer a new mint."""
    if lifetime_s is None or lifetime_s <= 0:
        return requested_s
    return min(requested_s, lifetime_s / 2)


def due(last_at: float | None, now: float, interval_s: float) -> bool:
    """Whether an operation may be diagnosed again: at most once per probe interval."""
    return last_at is None or now - last_at >= interval_s


def digest(token: str) -> str:
    """A token's SHA-256 in hex: how an integration may name the token it used without sending it."""
    return hashlib.sha256(token.encode()).hexdigest()


class NotReadyError(Exception):
    """No token may go out now: ``error`` (a label), ``outcome``, ``fix``, and when to ask again."""

    def __init__(self, error: str, outcome: str, fix: str, retry_at: float | None = None) -> None:
        super().__init__(f"{error}: {fix}")
        self.error, self.outcome, self.fix, self.retry_at = error, outcome, fix, retry_at


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    """A refusal the integration met: the platform's answer to one of its requests."""

    method: str
    path: str  # as the integration sent it, query included
    status: int
    headers: Mapping[str, str]
    body: bytes
    token_sha256: str | None = None
    proxied: bool = False  # met by a request through the in-path proxy, which counts, shows and logs it itself


def body_bytes(body: object) -> bytes:
    """A reported body (its text, or the JSON it held) as bytes, at most ``MAX_BODY``."""
    text = body if isinstance(body, str) else json.dumps(body)
    return text.encode("utf-8", "replace")[:MAX_BODY]
