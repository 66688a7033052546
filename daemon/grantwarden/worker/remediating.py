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
Every change logs ``regrant_applied`` with the org, the client, the entries before and after and
the platform's correlation id: the audit trail. Verification is the tenant loop's job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from grantwarden.policy import labels, remediation
from grantwarden.policy.planning import RolePlan, ScopePlan
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, gate, transport
from grantwarden.worker import tokenbox as tokens_box


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


class Executor:
    def __init__(
        self,
        *,
        tenant: str,
        org_id: str,
        client_id: str,
        admin_box: tokens_box.TokenBox,
        client: remote_client.Client,
        endpoints: transport.Endpoints,
        gate: gate.Gate,
        timeout_s: float,
    ) -> None:
        self._org_id = org_id
        self._client_id = client_id
        self._admin_box = admin_box
        self._client = client
        self._endpoints = endpoints
        self._gate = gate
        self._timeout_s = timeout_s
        self._log = structlog.get_logger("grantwarden.regrant").bind(tenant=tenant, org_id=org_id, client_id=client_id)

    async def add_roles(self, plan: RolePlan, role_names: Mapping[str, str]) -> Result:
        added = tuple(f"{role_names.get(e.role_id, e.role_id)} in division {e.division_id}" for e in plan.add)
        return await self._put("roleDivisions", lambda raw: remediation.apply_roles(raw, plan.add), added)

    async def add_scopes(self, plan: ScopePlan) -> Result:
        added = tuple(f"scope {scope}" for scope in plan.add)
        return await self._put("scope", lambda raw: remediation.apply_scopes(raw, plan.add), added)

    async def _put(
        self, key: str, change: Callable[[Mapping[str, Any]], dict[str, Any]], added: tuple[str, ...]
    ) -> Result:
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
            except (errors.RemoteError, tokens_box.TokenUnavailableError, ValueError) as exc:
                return self._failed(added, exc)

    async def _attempt(
        self, key: str, change: Callable[[Mapping[str, Any]], dict[str, Any]], added: tuple[str, ...]
    ) -> Result:
        async def fetch(token: str) -> dict[str, Any]:
            _, raw = await self._client.get_oauth_client(
                self._endpoints, token, self._client_id, gate=self._gate, timeout_s=self._timeout_s
            )
            return raw

        raw = await tokens_box.call(self._admin_box, fetch)
        body = change(raw)
        before, after = entries(raw, key), entries(body, key)
        if before == after:
            return Result(
                labels.RegrantResult.APPLIED, "the client already has what the plan adds", added, changed=False
            )

        async def put(token: str) -> errors.Reply:
            _, reply = await self._client.put_oauth_client(
                self._endpoints, token, self._client_id, body, gate=self._gate, timeout_s=self._timeout_s
            )
            return reply

        reply = await tokens_box.call(self._admin_box, put)
        self._log.warning(
            "regrant_applied",
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
        self._log.error(
            "regrant_refused", reason=code, detail=detail, added=list(added), correlation_id=reply.correlation_id
        )
        return Result(labels.RegrantResult.REFUSED, detail, added, reply.correlation_id, changed=False)

    def _failed(self, added: tuple[str, ...], exc: BaseException) -> Result:
        reply = getattr(exc, "reply", None)
        correlation = reply.correlation_id if isinstance(reply, errors.Reply) else None
        detail = f"the change could not be made: {type(exc).__name__}: {exc}"
        self._log.error("regrant_failed", detail=detail, added=list(added), correlation_id=correlation)
        return Result(labels.RegrantResult.FAILED, detail, added, correlation, changed=False)
