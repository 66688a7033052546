"""What a reply means: one Verdict per probe response, the heart of precise 403 diagnosis.

Genesys Cloud distinguishes its refusals by status plus ``code`` (platform.md §4.2), and names what
is missing only inside the human message ("… permission(s): [a:b:c, d:e:f]"). ``classify`` maps
every reply, or the lack of one, to an ``Outcome`` label and pulls the permission, division and
scope lists out of the message, tolerating the observed variants (empty lists, a division glued
to the permission). It never raises: a probe must always end in a verdict. ``refine_licensed``
turns a missing permission the org does not even have into ``unlicensed`` (platform.md §4.3, §9);
``refine_trusted`` reads a trusted user's missing permission as a missing trustor role
(``missing_trustor_permission``, platform.md §13). Callers: the probing loop (then metrics, logs,
status) and ``diagnosis``/``planning``.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Iterable

from grantwarden.policy import errorbody
from grantwarden.policy.labels import Outcome
from grantwarden.policy.permissions import Requirement

_PERMISSION = re.compile(r"(?<![\w:*-])[A-Za-z][\w-]*:[\w*-]+:[\w*-]+(?::[\w*-]+)?(?![\w:*-])")
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_DIVISION = re.compile(r"^(?:\*|[0-9A-Za-z][0-9A-Za-z-]*)$")
_SCOPE = re.compile(r"^[a-z0-9][a-z0-9-]*(?::readonly)?$")
_ADDRESS = re.compile(r"\[\s*([0-9A-Fa-f.:]+)\s*\]")
_RETRY_SECONDS = re.compile(r"retry the request in \[?(\d+(?:\.\d+)?)\]? seconds", re.IGNORECASE)


class Failure(enum.StrEnum):
    """Why there is no usable reply; set by the remote layer."""

    TIMEOUT = "timeout"
    NETWORK = "network"  # connection refused or reset, DNS, TLS
    MALFORMED = "malformed"  # a reply whose body could not be read as the expected payload


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """A probe's outcome with everything the platform told us about it."""

    outcome: Outcome
    status: int | None = None  # HTTP status; None when there was no reply
    code: str | None = None  # ErrorBody.code or the token endpoint's "error"
    message: str | None = None  # the platform's message, truncated; never a secret
    permissions: tuple[str, ...] = ()  # "domain:entity:action", as the platform named them
    divisions: tuple[str, ...] = ()  # division ids of a division refusal
    scopes: tuple[str, ...] = ()  # acceptable scopes of app.not.authorized.for.scope
    requirement: Requirement | None = None  # ALL or ANY of ``permissions`` / ``scopes``
    retry_after: float | None = None  # seconds to wait before any further request
    context_id: str | None = None  # ErrorBody.contextId, for support tickets


# platform.md §4.2: the generic 403 codes; anything else under 403 is plain "forbidden".
_FORBIDDEN_CODES: dict[str, tuple[Outcome, Requirement | None]] = {
    "missing.permissions": (Outcome.MISSING_PERMISSION, Requirement.ALL),
    "missing.any.permissions": (Outcome.MISSING_PERMISSION, Requirement.ANY),
    "missing.division.permission": (Outcome.MISSING_DIVISION_PERMISSION, Requirement.ALL),
    "missing.any.division.permissions": (Outcome.MISSING_DIVISION_PERMISSION, Requirement.ANY),
    "app.not.authorized.for.scope": (Outcome.MISSING_SCOPE, Requirement.ANY),  # any listed scope does
    "authz.policy.denied": (Outcome.POLICY_DENIED, None),
    # platform.md §13: declared on the trustee-side trust resources, "Missing required permission(s)".
    "missing.trustor.permissions": (Outcome.MISSING_TRUSTOR_PERMISSION, Requirement.ALL),
    "not.authorized": (Outcome.FORBIDDEN, None),
}
_WRONG_GRANT_CODES = frozenset({"not.a.user", "not.a.client"})  # platform.md §4.2: 400, not 403
_MISSING = (Outcome.MISSING_PERMISSION, Outcome.MISSING_DIVISION_PERMISSION)
IP_NOT_AUTHORIZED = "ip.not.authorized"  # platform.md §15: 401 on every operation, the caller's address refused


def classify(
    *,
    status: int | None,
    facts: errorbody.ErrorFacts | None,
    failure: Failure | None = None,
    retry_after_header: str | None = None,
) -> Verdict:
    """The verdict for one reply (``status`` + parsed body) or for no reply (``failure``)."""
    if failure is Failure.TIMEOUT:
        return Verdict(Outcome.TIMEOUT, status=status, message="no reply before the probe timeout")
    if failure is Failure.NETWORK:
        return Verdict(Outcome.NETWORK_ERROR, status=status, message="connection failed")
    if status is None:
        return Verdict(Outcome.UNEXPECTED_STATUS, message="no HTTP status and no transport failure")
    if 200 <= status < 300:
        if failure is Failure.MALFORMED:
            return Verdict(Outcome.UNEXPECTED_STATUS, status=status, message="malformed 2xx body")
        return Verdict(Outcome.OK, status=status)
    retry_after = errorbody.parse_retry_after(retry_after_header)
    return _handler(status)(status, facts or errorbody.ErrorFacts(), retry_after)


def refine_licensed(verdict: Verdict, licensed: frozenset[str] | None) -> Verdict:
    """A missing permission the org is not licensed for becomes ``unlicensed`` (platform.md §4.3).

    ALL: one unlicensed permission is enough; ANY: only when every listed one is unlicensed.
    ``licensed`` None (unknown) or an empty permission list leaves the verdict as it was.
    """
    if licensed is None or verdict.outcome not in _MISSING or not verdict.permissions:
        return verdict
    absent = [p not in licensed for p in verdict.permissions]
    unlicensed = all(absent) if verdict.requirement is Requirement.ANY else any(absent)
    return dataclasses.replace(verdict, outcome=Outcome.UNLICENSED) if unlicensed else verdict


def refine_trusted(verdict: Verdict) -> Verdict:
    """A trusted user's missing permission is a trustor role its trust member lacks.

    A token acting in a trustor org holds only what the trust gives its member (platform.md §13);
    ordinary APIs answer the generic ``missing.permissions`` family for it (L), so for a tenant
    that acts through a trust the same refusal becomes ``missing_trustor_permission``: no role of
    the OAuth client or scope can fix it, only the trustor org's admin.
    """
    if verdict.outcome not in _MISSING:
        return verdict
    return dataclasses.replace(verdict, outcome=Outcome.MISSING_TRUSTOR_PERMISSION)


def refused_address(message: str | None) -> str | None:
    """The address an ``ip.not.authorized`` refusal names: "… not authorized: [203.0.113.9]"."""
    found = _ADDRESS.findall(message or "")
    return found[-1] if found else None


_Handler = Callable[[int, errorbody.ErrorFacts, float | None], Verdict]


def _handler(status: int) -> _Handler:
    if status >= 500:
        return _server_error
    return {400: _bad_request, 401: _unauthorized, 403: _forbidden, 429: _rate_limited}.get(status, _unexpected)


def _base(outcome: Outcome, status: int, facts: errorbody.ErrorFacts) -> Verdict:
    message = facts.message or facts.token_error_description or facts.title or _first_line(facts.text)
    code = facts.code or facts.token_error
    return Verdict(outcome, status=status, code=code, message=message, context_id=facts.context_id)


def _first_line(text: str) -> str | None:
    line = text.strip().split("\n", 1)[0].strip()
    return line[:200] or None


def _unauthorized(status: int, facts: errorbody.ErrorFacts, retry_after: float | None) -> Verdict:
    # platform.md §4.2: bad.credentials, authentication.required, ip.not.authorized all mean 401;
    # platform.md §15: the last is the org's IP allowlist, which no new token gets past.
    refused_ip = facts.code == IP_NOT_AUTHORIZED
    return _base(Outcome.IP_NOT_AUTHORIZED if refused_ip else Outcome.UNAUTHORIZED, status, facts)


def _bad_request(status: int, facts: errorbody.ErrorFacts, retry_after: float | None) -> Verdict:
    # platform.md §4.2: a grant-type mismatch is 400 not.a.user / not.a.client, not a 403.
    wrong_grant = facts.code in _WRONG_GRANT_CODES
    return _base(Outcome.WRONG_GRANT_TYPE if wrong_grant else Outcome.UNEXPECTED_STATUS, status, facts)


def _rate_limited(status: int, facts: errorbody.ErrorFacts, retry_after: float | None) -> Verdict:
    # platform.md §4.2/§5: header wins; else "Retry the request in [22] seconds"; else caller's backoff.
    seconds = retry_after if retry_after is not None else _message_seconds(facts.message)
    return dataclasses.replace(_base(Outcome.RATE_LIMITED, status, facts), retry_after=seconds)


def _server_error(status: int, facts: errorbody.ErrorFacts, retry_after: float | None) -> Verdict:
    return dataclasses.replace(_base(Outcome.SERVER_ERROR, status, facts), retry_after=retry_after)


def _unexpected(status: int, facts: errorbody.ErrorFacts, retry_after: float | None) -> Verdict:
    return dataclasses.replace(_base(Outcome.UNEXPECTED_STATUS, status, facts), retry_after=retry_after)


def _forbidden(status: int, facts: errorbody.ErrorFacts, retry_after: float | None) -> Verdict:
    outcome, requirement = _FORBIDDEN_CODES.get(facts.code or "", (Outcome.FORBIDDEN, None))
    sources = [facts.message or "", *facts.message_params.values()]
    permissions, glued = _permissions(sources)
    divisions: tuple[str, ...] = ()
    if outcome is Outcome.MISSING_DIVISION_PERMISSION:
        divisions = _unique([*glued, *_divisions(sources, facts.context_id)])
    scopes = _scopes(sources) if outcome is Outcome.MISSING_SCOPE else ()
    return dataclasses.replace(
        _base(outcome, status, facts),
        permissions=permissions,
        divisions=divisions,
        scopes=scopes,
        requirement=requirement,
    )


def _permissions(sources: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Permissions named in the texts, and divisions glued on as a fourth part ("a:b:c:<id>")."""
    found: list[str] = []
    glued: list[str] = []
    for text in sources:
        for match in _PERMISSION.findall(text):
            domain, entity, action, *division = match.split(":")
            found.append(f"{domain}:{entity}:{action}")
            glued.extend(division)
    return _unique(found), _unique(glued)


def _divisions(sources: Iterable[str], context_id: str | None) -> list[str]:
    """Division ids listed in brackets, e.g. "… division(s): [dbdb51ee-…]"."""
    items = (item for text in sources for item in _bracket_items(text))
    return [item for item in items if ":" not in item and _DIVISION.match(item) and item != context_id]


def _scopes(sources: Iterable[str]) -> tuple[str, ...]:
    """Acceptable scopes: "App not authorized to use scope [telephony:readonly, telephony]"."""
    found: list[str] = []
    for text in sources:
        found.extend(item for item in _scope_items(text) if _SCOPE.match(item))
    return _unique(found)


def _scope_items(text: str) -> list[str]:
    if bracketed := _bracket_items(text):
        return bracketed
    if "scope" in text:  # "… to use scope messaging:readonly" without brackets
        return text.rsplit("scope", 1)[-1].replace(",", " ").split()
    return [text.strip()] if len(text.split()) == 1 else []


def _bracket_items(text: str) -> list[str]:
    return [item.strip(" '\"") for group in _BRACKETS.findall(text) for item in group.split(",")]


def _message_seconds(message: str | None) -> float | None:
    match = _RETRY_SECONDS.search(message or "")
    return errorbody.parse_retry_after(match.group(1)) if match else None


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))
