"""Carrying out a re-grant plan: fresh GET, add-only PUT, an audit line, nothing else.

Guard rails live here as much as in the planner (design.md §3, platform.md §2.4):
- the PUT body is always computed from a GET made just before it (``policy.remediation``
  appends; it never removes), so a change a person made a moment ago is kept, and a second actor
  cannot make grantwarden undo anything;
- only the tenant's own OAuth client is touched, only ``roleDivisions`` or ``scope`` grow, and
  no secret is ever regenerated;
- ``400 bad.client.role`` (the admin identity does not hold the role) is a refusal: reported,
  never retried in a loop; ``409`` re-reads and retries once; ``429`` waits out Retry-After (the
  tenant's gate) and retries once.
Every change logs ``regrant_applied`` with the org (bound to the tenant's task), the client, the
entries before and after and the platform's correlation id: the audit trail. All of it goes
through the tenant's admin identity (``api.TenantApi``). Verification is the actor's job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from grantwarden.policy import labels, remediation
from grantwarden.policy.planning import RolePlan, ScopePlan
from grantwarden.remote import errors
from grantwarden.worker import api, tokenbox

_LOG = structlog.get_logger("grantwarden.regrant")  # tenant and org come from the task's context
Change = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """What one PUT attempt came to."""

    result: labels.RegrantResult  # APPLIED, REFUSED or FAILED
    detail: str
    added: tuple[str, ...] = ()
    correlation_id: str | None = None
    changed: bool = True  # False: the client already had everything the plan adds


def entries(body: Mapping[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    return list(value) if isinstance(value, list) else []


def role_lines(plan: RolePlan) -> tuple[str, ...]:
    """ "Messaging Viewer in division d-1" for each entry the plan adds (its names are parallel)."""
    names = dict(zip((e.role_id for e in plan.add), plan.role_names, strict=False))
    return tuple(f"{names.get(e.role_id, e.role_id)} in division {e.division_id}" for e in plan.add)


class Executor:
    __slots__ = ("_admin", "_client_id")

    def __init__(self, *, admin: api.TenantApi, client_id: str) -> None:
        """``admin``: the tenant's admin identity; ``client_id``: the tenant's OAuth client, the only one touched."""
        self._admin = admin
        self._client_id = client_id

    async def add_roles(self, plan: RolePlan) -> Result:
        return await self._put("roleDivisions", lambda raw: remediation.apply_roles(raw, plan.add), role_lines(plan))

    async def add_scopes(self, plan: ScopePlan) -> Result:
        added = tuple(f"scope {scope}" for scope in plan.add)
        return await self._put("scope", lambda raw: remediation.apply_scopes(raw, plan.add), added)

    async def _put(self, key: str, change: Change, added: tuple[str, ...]) -> Result:
        retried = False
        while True:
            try:
                return await self._attempt(key, change, added)
            except (errors.Conflict, errors.RateLimited) as exc:
                # 409: someone edited the client between our GET and PUT; 429: the gate now holds
                # the Retry-After. Either way, one more fresh GET + PUT, then give up.
                if retried:
                    return self._failed(added, exc)
                retried = True
            except errors.BadRequest as exc:
                return self._refused(added, exc)
            except (errors.RemoteError, tokenbox.TokenUnavailableError, ValueError) as exc:
                return self._failed(added, exc)

    async def _attempt(self, key: str, change: Change, added: tuple[str, ...]) -> Result:
        _, raw = await self._admin.get_oauth_client(self._client_id)
        body = change(raw)
        before, after = entries(raw, key), entries(body, key)
        if before == after:
            return Result(
                labels.RegrantResult.APPLIED, "the client already has what the plan adds", added, changed=False
            )
        _, reply = await self._admin.put_oauth_client(self._client_id, body)
        _LOG.warning(
            "regrant_applied",
            client_id=self._client_id,
            field=key,
            added=list(added),
            before=before,
            after=after,
            correlation_id=reply.correlation_id,
        )
        return Result(labels.RegrantResult.APPLIED, f"added {', '.join(added)}", added, reply.correlation_id)

    def _refused(self, added: tuple[str, ...], exc: errors.HttpError) -> Result:
        reply = exc.reply
        code = reply.facts.code or "bad request"
        # platform.md §2.4: 400 bad.client.role — the caller does not hold every role it assigns.
        detail = f"the platform refused the change ({code}: {reply.facts.message or 'no message'})"
        _LOG.error(
            "regrant_refused",
            client_id=self._client_id,
            reason=code,
            detail=detail,
            added=list(added),
            correlation_id=reply.correlation_id,
        )
        return Result(labels.RegrantResult.REFUSED, detail, added, reply.correlation_id, changed=False)

    def _failed(self, added: tuple[str, ...], exc: BaseException) -> Result:
        reply = getattr(exc, "reply", None)
        correlation = reply.correlation_id if isinstance(reply, errors.Reply) else None
        detail = f"the change could not be made: {type(exc).__name__}: {exc}"
        _LOG.error(
            "regrant_failed", client_id=self._client_id, detail=detail, added=list(added), correlation_id=correlation
        )
        return Result(labels.RegrantResult.FAILED, detail, added, correlation, changed=False)
