"""Our own error tree at the HTTP boundary: every failed exchange becomes one of these.

style.md principle 5, modelled on httpx's ``_exceptions.py``. Callers classify by type, never by
aiohttp's exceptions (none leaks past ``remote``) and never by parsing messages::

    RemoteError                    base; ``reply`` is a Reply snapshot or None
    ├── TransportError             no response arrived (``reply`` is None)
    │   ├── Timeout                connect or read exceeded the call's timeout
    │   └── ConnectionFailed       DNS failure, refused, reset, TLS, invalid URL
    ├── HttpError                  a response with a non-2xx status (``reply`` always set)
    │   ├── BadRequest             400 (``not.a.user`` / ``not.a.client`` live here, platform.md §4.2)
    │   ├── Unauthorized           401 (``bad.credentials``: expired, revoked, foreign token)
    │   │   └── IpNotAuthorized    401 ``ip.not.authorized``: the org's IP allowlist, not the token
    │   ├── Forbidden              403 (``missing.permissions`` and friends: ``forbidden.classify``)
    │   ├── NotFound               404
    │   ├── Conflict               409
    │   ├── RateLimited            429; ``retry_after`` seconds (platform.md §5)
    │   ├── ServerError            5xx
    │   ├── UnexpectedStatus       anything else (3xx included: redirects are not followed)
    │   └── TokenEndpointError     /oauth/token refused with ``{error, error_description}``
    │       ├── InvalidClient      ``invalid_client``: wrong secret, or wrong region (platform.md §1.1)
    │       └── InvalidGrant       ``invalid_grant``: refresh token or authorization code refused
    └── MalformedResponse          2xx, but the body is not the JSON shape we need

``str()`` and ``repr()`` of every exception are built only from a redacted ``Reply`` and fixed
words, so they can go into logs, metrics and the status page as they are. A request that never
left because its tenant is stopping raises ``gate.StoppedError``, outside this tree: a stop is
no failure, and nothing that handles failures may swallow it.
"""

# ruff: noqa: N818  -- the names are the tree above (httpx style: NotFound, Timeout), not *Error

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping

from grantwarden.base import redaction
from grantwarden.policy import errorbody

BODY_LIMIT = errorbody.TEXT_LIMIT  # characters of body kept in a Reply (2 KiB)
CORRELATION_HEADER = "ININ-Correlation-Id"  # on every platform response (platform.md §4.1)


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """What one response said, safe to print: path without query, body truncated and redacted."""

    method: str
    path: str
    status: int
    correlation_id: str | None = None
    retry_after: float | None = None  # seconds, from the Retry-After header
    facts: errorbody.ErrorFacts = dataclasses.field(default_factory=errorbody.ErrorFacts)
    body_text: str = ""


def snapshot(
    *,
    method: str,
    path: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    redactor: redaction.Redactor,
) -> Reply:
    """A ``Reply`` from raw response parts; error bodies are read for their facts.

    The body is redacted before anything is cut or parsed, so a secret straddling a cut cannot
    leave half of itself behind. Error bodies are redacted up to the parser's limit; success
    bodies (listings can be large) only as far as the kept text plus the longest secret.
    """
    error = status >= 300
    limit = errorbody.PARSE_LIMIT if error else 4 * (BODY_LIMIT + redactor.longest)
    decoded = body[:limit].decode("utf-8-sig", errors="replace")
    safe = redactor.redact_text(errorbody.clean(decoded, len(decoded)))
    text = safe[:BODY_LIMIT]
    facts = errorbody.parse(safe.encode()) if error else errorbody.ErrorFacts(text=text)
    return Reply(
        method=method,
        path=path,
        status=status,
        correlation_id=headers.get(CORRELATION_HEADER),
        retry_after=errorbody.parse_retry_after(headers.get("Retry-After")),
        facts=_redacted(facts, text, redactor.redact_text),  # again: JSON escapes hid some forms
        body_text=text,
    )


def _redacted(facts: errorbody.ErrorFacts, text: str, hide: Callable[[str], str]) -> errorbody.ErrorFacts:
    def maybe(value: str | None) -> str | None:
        return None if value is None else hide(value)

    params = {key: hide(value) for key, value in facts.message_params.items()}
    return dataclasses.replace(
        facts,
        code=maybe(facts.code),
        message=maybe(facts.message),
        message_params=types.MappingProxyType(params),
        context_id=maybe(facts.context_id),
        token_error=maybe(facts.token_error),
        token_error_description=maybe(facts.token_error_description),
        title=maybe(facts.title),
        text=text,
    )


def describe(reply: Reply) -> str:
    """One line: request, status, the platform's code and message, the correlation id."""
    facts = reply.facts
    line = f"{reply.method} {reply.path} answered {reply.status}"
    label = facts.code or facts.token_error
    detail = facts.message or facts.token_error_description or facts.title
    if label:
        line += f" {label}"
    if detail:
        line += f": {detail}"
    if reply.correlation_id:
        line += f" (correlation id {reply.correlation_id})"
    return line


class RemoteError(Exception):
    """Anything that went wrong talking to the platform."""

    def __init__(self, message: str, *, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class TransportError(RemoteError):
    """No response: the request may or may not have reached the platform."""


class Timeout(TransportError):
    """The call's timeout elapsed before a complete response arrived."""


class ConnectionFailed(TransportError):
    """DNS failure, connection refused or reset, TLS failure, unusable URL."""


class HttpError(RemoteError):
    """A response arrived with a status outside 2xx."""

    reply: Reply

    def __init__(self, reply: Reply) -> None:
        super().__init__(describe(reply), reply=reply)


class BadRequest(HttpError):
    """400."""


class Unauthorized(HttpError):
    """401: the token is missing, expired, revoked or unknown in this region."""


class IpNotAuthorized(Unauthorized):
    """401 ``ip.not.authorized``: the org's IP allowlist refuses the caller's address (platform.md
    platform.md §15). No new token gets past it, so nobody may drop the token and mint another for it."""


class Forbidden(HttpError):
    """403: the token lacks a permission, division, scope or passes no org policy."""


class NotFound(HttpError):
    """404."""


class Conflict(HttpError):
    """409: e.g. a concurrent edit of the same OAuth client."""


class RateLimited(HttpError):
    """429: the tenant's gate has already been raised by ``retry_after`` when this is seen."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply)
        if reply.retry_after is not None:
            self.args = (f"{self.args[0]}; retry after {reply.retry_after:g} s",)

    @property
    def retry_after(self) -> float | None:
        return self.reply.retry_after


class ServerError(HttpError):
    """5xx."""


class UnexpectedStatus(HttpError):
    """A status none of the above covers."""


class TokenEndpointError(HttpError):
    """The token endpoint refused the grant with an OAuth error (platform.md §1.3)."""

    @property
    def error(self) -> str | None:
        return self.reply.facts.token_error

    @property
    def error_description(self) -> str | None:
        return self.reply.facts.token_error_description


class InvalidClient(TokenEndpointError):
    """``invalid_client``: wrong id or secret, or the client lives in another region."""


class InvalidGrant(TokenEndpointError):
    """``invalid_grant``: the refresh token or authorization code was refused."""


class MalformedResponse(RemoteError):
    """A 2xx whose body is not JSON, or not the shape the caller needs."""

    reply: Reply

    def __init__(self, reply: Reply, problem: str) -> None:
        super().__init__(f"{reply.method} {reply.path} answered {reply.status}: {problem}", reply=reply)
        self.problem = problem


_BY_STATUS: Mapping[int, type[HttpError]] = types.MappingProxyType(
    {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 429: RateLimited}
)
_BY_TOKEN_ERROR: Mapping[str, type[TokenEndpointError]] = types.MappingProxyType(
    {"invalid_client": InvalidClient, "invalid_grant": InvalidGrant}
)


def for_reply(reply: Reply, *, token_endpoint: bool = False) -> HttpError:
    """The exception for a non-2xx reply; ``token_endpoint`` reads the OAuth error first.

    A 429 stays ``RateLimited`` even from the token endpoint: its Retry-After matters more than
    its body.
    """
    error = reply.facts.token_error
    if token_endpoint and error and reply.status != 429 and 400 <= reply.status < 500:
        return _BY_TOKEN_ERROR.get(error, TokenEndpointError)(reply)
    if 500 <= reply.status < 600:
        return ServerError(reply)
    if reply.status == 401 and reply.facts.code == "ip.not.authorized":
        return IpNotAuthorized(reply)
    return _BY_STATUS.get(reply.status, UnexpectedStatus)(reply)
