"""Carrying out a re-grant plan: fresh GET, add-only PUT, an audit line, nothing else.

Guard rails live here as much as in the planner (design.md §3, platform.md §2.4):
- the PUT body is always computed from a GET made just before it (``policy.remediation``
  appends; it never removes), so a change a person made a moment ago is kept, and a second actor
  cannot make grantwarden undo anything;
- only the tenant's own OAuth client is touched, only ``roleDivisions`` or ``scope`` grow, and
  no secret is ever regenerated;
- an editor must hold every role of the client it edits, those it holds and those it is given
  (platform.md §2.4): right before each PUT the admin identity's own roles (its ``tokens/me``) are
  compared with the client as just read plus the additions, and a PUT it could not make is not
  sent: a refusal naming the missing roles and both clients;
- ``400 bad.client.role`` (the platform's own refusal of the same) is a refusal too: reported,
  never retried in a loop; ``409`` re-reads and retries once; ``429`` waits out Retry-After (the
  tenant's gate) and retries once.
Every change logs ``regrant_applied`` with the org (bound to the tenant's task), the client, the
entries before and after and the platform's correlation id: the audit trail. All of it goes
through the tenant's admin identity (``api.TenantApi``). Verification is the actor's job.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from grantwarden.policy import labels, planning, remediation
from grantwarden.policy.planning import RoleDivision, RolePlan, ScopePlan
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
    lacking: tuple[str, ...] = ()  # roles the admin identity must hold for the PUT and does not (names)


def entries(body: Mapping[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    return list(value) if isinstance(value, list) else []


def role_lines(plan: RolePlan) -> tuple[str, ...]:
    """ "Messaging Viewer in division d-1" for each entry the plan adds (its names are parallel)."""
    names = dict(zip((e.role_id for e in plan.add), plan.role_names, strict=False))
    return tuple(f"{names.get(e.role_id, e.role_id)} in division {e.division_id}" for e in plan.add)


class Executor:
    __slots__ = ("_admin", "_admin_client_id", "_client_id", "_names")

    def __init__(
        self,
        *,
        admin: api.TenantApi,
        client_id: str,
        admin_client_id: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        """``admin``: the tenant's admin identity (``admin_client_id`` its OAuth client); ``client_id``: the
        tenant's OAuth client, the only one touched; ``names``: role names by id, for refusals."""
        self._admin = admin
        self._admin_client_id = admin_client_id
        self._client_id = client_id
        self._names = dict(names or {})

    async def add_roles(self, plan: RolePlan) -> Result:
        self._names = {**self._names, **dict(zip((e.role_id for e in plan.add), plan.role_names, strict=False))}
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
        if lacking := await self._editor_lacks(body):
            return await self._not_editor(added, lacking)
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

    async def _editor_lacks(self, body: Mapping[str, Any]) -> tuple[str, ...]:
        """Role ids the PUT of ``body`` needs the admin identity to hold, and it does not (platform.md §2.4).

        Its roles come from its own ``tokens/me``; a token that names none leaves the judgement to
        the platform (400 ``bad.client.role``)."""
        me = await self._admin.tokens_me()
        if me.oauth_client is None:
            return ()
        held = frozenset(entry.role_id for entry in me.oauth_client.role_divisions)
        wanted = [
            RoleDivision(str(e.get("roleId")), str(e.get("divisionId")))
            for e in entries(body, "roleDivisions")
            if isinstance(e, dict) and e.get("roleId")
        ]
        return planning.editor_lacks(admin_role_ids=held, client_role_divisions=wanted, add=())

    async def _not_editor(self, added: tuple[str, ...], lacking: tuple[str, ...]) -> Result:
        if any(role_id not in self._names for role_id in lacking):  # a role the client held already
            with contextlib.suppress(errors.RemoteError, tokenbox.TokenUnavailableError):
                roles = await self._admin.all_roles()
                self._names |= {str(r.get("id")): str(r.get("name")) for r in roles if r.get("id") and r.get("name")}
        names = tuple(self._names.get(role_id, role_id) for role_id in lacking)
        admin = f"OAuth client {self._admin_client_id}" if self._admin_client_id else "the admin identity"
        detail = (
            f"not sent: {admin} (grantwarden's admin identity) does not hold {', '.join(repr(n) for n in names)}, "
            f"which OAuth client {self._client_id} holds or would be given; an editor must hold every role of "
            "the client it edits"
        )
        _LOG.error(
            "regrant_refused",
            client_id=self._client_id,
            reason=str(planning.RefusalReason.ADMIN_LACKS_ROLE),
            detail=detail,
            added=list(added),
            correlation_id=None,
        )
        return Result(labels.RegrantResult.REFUSED, detail, added, None, changed=False, lacking=names)

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
