"""The platform client: the token endpoint plus the API calls probes and re-grants need.

One ``Client`` serves every tenant. It holds only the shared ``aiohttp.ClientSession``, the
clock and the redactor; each call names the tenant's ``Endpoints``, token and ``Gate``, so the
worker's per-tenant API (``grantwarden.worker.api``) can wrap any call, re-mint on 401 and retry once. Every
call has an explicit timeout. Non-2xx answers raise ``remote.errors`` carrying a ``Reply``;
answers of the wrong shape raise ``MalformedResponse``. Listings are read to their last page:
a permission missing from page one may be on page two (platform.md §10).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import Any

import aiohttp

from grantwarden.base import clock as clocks
from grantwarden.base import redaction
from grantwarden.remote import errors, gate, models, oauth, transport

DEFAULT_TIMEOUT_S = 10.0
PAGE_SIZE = 100
MAX_PAGES = 500  # a listing longer than this is a platform fault, not a reason to loop for ever


@dataclasses.dataclass(frozen=True, slots=True)
class ApiReply:
    """A 2xx answer: status, parsed JSON (None for an empty body) and its printable snapshot."""

    status: int
    data: Any
    reply: errors.Reply


class Client:
    """Every HTTP exchange with Genesys Cloud; keyword-only dependencies, no global state."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        clock: clocks.Clock,
        redactor: redaction.Redactor,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._redactor = redactor
        self._timeout_s = timeout_s
        self._transport = transport.Transport(session=session, clock=clock, redactor=redactor)
        tokens = oauth.TokenEndpoint(transport=self._transport, clock=clock, redactor=redactor, timeout_s=timeout_s)
        # The token endpoint's calls, here so callers hold one object (oauth.TokenEndpoint).
        self.mint_client_credentials = tokens.mint_client_credentials
        self.exchange_code = tokens.exchange_code
        self.refresh = tokens.refresh

    async def get(
        self,
        endpoints: transport.Endpoints,
        path: str,
        token: str,
        *,
        gate: gate.Gate,
        timeout_s: float,
        params: Mapping[str, str] | None = None,
        read: bool = True,
    ) -> ApiReply:
        """GET ``path`` with the bearer token: the generic call behind every probe.

        ``read=False`` (a probe: only the status matters) skips parsing and copying the body;
        the reply then keeps just the status and the correlation id, which is most of a probe's cost.
        """
        received = await self._send("GET", endpoints, path, token, gate=gate, timeout_s=timeout_s, params=params)
        if not read:
            return ApiReply(received.status, None, self._transport.brief(received))
        return ApiReply(received.status, self._transport.json(received), self._transport.snapshot(received))

    async def tokens_me(
        self, endpoints: transport.Endpoints, token: str, *, gate: gate.Gate, timeout_s: float | None = None
    ) -> models.TokenInfo:
        """The org the token acts in; ``preserveIdleTTL`` so probing never keeps a token alive."""
        params = {"preserveIdleTTL": "true"}
        received = await self._send(
            "GET", endpoints, "/api/v2/tokens/me", token, gate=gate, timeout_s=timeout_s, params=params
        )
        return self._transport.model(received, models.TokenInfo)

    async def get_oauth_client(
        self,
        endpoints: transport.Endpoints,
        token: str,
        client_id: str,
        *,
        gate: gate.Gate,
        timeout_s: float | None = None,
    ) -> tuple[models.OAuthClient, dict[str, Any]]:
        """The client as a model and as the raw dict a re-grant must PUT back whole (platform.md §2.3)."""
        path = f"/api/v2/oauth/clients/{client_id}"
        received = await self._send("GET", endpoints, path, token, gate=gate, timeout_s=timeout_s)
        return self._oauth_client(received)

    async def put_oauth_client(
        self,
        endpoints: transport.Endpoints,
        token: str,
        client_id: str,
        body: Mapping[str, Any],
        *,
        gate: gate.Gate,
        timeout_s: float | None = None,
    ) -> tuple[models.OAuthClient, errors.Reply]:
        """Replace the client (PUT replaces: ``body`` is the full object); the Reply has the
        correlation id for the audit trail (design.md §2.5)."""
        path = f"/api/v2/oauth/clients/{client_id}"
        received = await self._send("PUT", endpoints, path, token, gate=gate, timeout_s=timeout_s, body=body)
        model, _ = self._oauth_client(received)
        return model, self._transport.snapshot(received)

    async def all_roles(
        self, endpoints: transport.Endpoints, token: str, *, gate: gate.Gate, timeout_s: float | None = None
    ) -> list[dict[str, Any]]:
        """Every role of the org as raw ``DomainOrganizationRole`` dicts, from every page.

        A re-grant plan needs the roles the client already holds as well as the allow-listed
        ones, to tell "missing" from "granted but not yet propagated" (platform.md §2.4).
        """
        found: dict[str, dict[str, Any]] = {}
        async for received, page in self._pages(endpoints, "/api/v2/authorization/roles", token, gate, timeout_s, {}):
            for raw in page.entities:
                found[self._transport.model(received, models.Role, raw).id] = raw
        return list(found.values())

    async def licensed_permissions(
        self, endpoints: transport.Endpoints, token: str, *, gate: gate.Gate, timeout_s: float | None = None
    ) -> frozenset[str]:
        """Every ``domain:entityType:action`` that exists in the org, from every page.

        Needed before calling a 403 fixable: a permission absent here is unlicensed (platform.md §4.3).
        """
        found: set[str] = set()
        pages = self._pages(endpoints, "/api/v2/authorization/permissions", token, gate, timeout_s, {})
        async for received, page in pages:
            for raw in page.entities:
                collection = self._transport.model(received, models.PermissionCollection, raw)
                for entity_type, items in collection.permission_map.items():
                    found.update(item.name(collection.domain, entity_type) for item in items)
        return frozenset(found)

    async def home_division(
        self, endpoints: transport.Endpoints, token: str, *, gate: gate.Gate, timeout_s: float | None = None
    ) -> dict[str, Any]:
        """The raw ``AuthzDivision`` of the org's home division (a ``roleDivisions`` target)."""
        path = "/api/v2/authorization/divisions/home"
        received = await self._send("GET", endpoints, path, token, gate=gate, timeout_s=timeout_s)
        data = self._transport.json(received)
        self._transport.model(received, models.Division, data)
        return dict(data)

    async def users_me(
        self, endpoints: transport.Endpoints, token: str, *, gate: gate.Gate, timeout_s: float | None = None
    ) -> models.NamedEntity:
        """The signed-in user (``GET /api/v2/users/me``, scope user-basic-info): a trust member's id."""
        received = await self._send("GET", endpoints, "/api/v2/users/me", token, gate=gate, timeout_s=timeout_s)
        return self._transport.model(received, models.NamedEntity)

    async def trustee_user_roles(
        self,
        endpoints: transport.Endpoints,
        token: str,
        trustee_org_id: str,
        user_id: str,
        *,
        gate: gate.Gate,
        timeout_s: float | None = None,
    ) -> models.UserAuthorization:
        """A trust member's trustor roles, read in the trustor org (platform.md §13)."""
        path = f"/api/v2/orgauthorization/trustees/{trustee_org_id}/users/{user_id}/roles"
        received = await self._send("GET", endpoints, path, token, gate=gate, timeout_s=timeout_s)
        return self._transport.model(received, models.UserAuthorization)

    async def trustee_groups(
        self,
        endpoints: transport.Endpoints,
        token: str,
        trustee_org_id: str,
        *,
        gate: gate.Gate,
        timeout_s: float | None = None,
    ) -> list[str]:
        """The names of a trust's member groups, from every page (platform.md §13)."""
        path = f"/api/v2/orgauthorization/trustees/{trustee_org_id}/groups"
        names: list[str] = []
        async for received, page in self._pages(endpoints, path, token, gate, timeout_s, {}):
            names += [self._transport.model(received, models.NamedEntity, raw).name or "?" for raw in page.entities]
        return names

    async def audit_query(
        self,
        endpoints: transport.Endpoints,
        token: str,
        body: Mapping[str, Any],
        *,
        gate: gate.Gate,
        timeout_s: float | None = None,
    ) -> list[dict[str, Any]]:
        """One page of ``POST /api/v2/audits/query/realtime``: raw ``AuditLogMessage`` dicts (platform.md §11)."""
        path = "/api/v2/audits/query/realtime"
        received = await self._send("POST", endpoints, path, token, gate=gate, timeout_s=timeout_s, body=body)
        return self._transport.model(received, models.Page).entities

    async def _pages(
        self,
        endpoints: transport.Endpoints,
        path: str,
        token: str,
        gate: gate.Gate,
        timeout_s: float | None,
        params: Mapping[str, str],
    ) -> AsyncIterator[tuple[transport.Received, models.Page]]:
        """Each page of a listing, 1 to ``pageCount`` (or to the first short page)."""
        number = 1
        while True:
            query = {**params, "pageSize": str(PAGE_SIZE), "pageNumber": str(number)}
            received = await self._send("GET", endpoints, path, token, gate=gate, timeout_s=timeout_s, params=query)
            page = self._transport.model(received, models.Page)
            yield received, page
            if not _more_pages(page, number):
                return
            if number >= MAX_PAGES:
                raise errors.MalformedResponse(self._transport.snapshot(received), f"more than {MAX_PAGES} pages")
            number += 1

    def _send(
        self,
        method: str,
        endpoints: transport.Endpoints,
        path: str,
        token: str,
        *,
        gate: gate.Gate,
        timeout_s: float | None,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Coroutine[Any, Any, transport.Received]:
        # A plain function handing back the transport's coroutine: one frame less on every resume
        # of every request (each probe is resumed several times on its way through aiohttp).
        self._redactor.add(token)
        return self._transport.send(
            method,
            endpoints.api(path),
            gate=gate,
            timeout_s=self._timeout_s if timeout_s is None else timeout_s,
            headers={"Authorization": f"Bearer {token}"},
            params=params,
            body=body,
        )

    def _oauth_client(self, received: transport.Received) -> tuple[models.OAuthClient, dict[str, Any]]:
        data = self._transport.json(received)
        if isinstance(data, dict) and isinstance(data.get("secret"), str):
            # GET stopped returning the secret in 2025 (platform.md §2.5); if it does, hide it
            self._redactor.add(data["secret"])
        model = self._transport.model(received, models.OAuthClient, data)
        return model, dict(data)


def _more_pages(page: models.Page, number: int) -> bool:
    """Whether page ``number`` is followed by another: by ``pageCount``, else by a full page."""
    if not page.entities:
        return False
    if page.page_count is not None:
        return number < page.page_count
    return len(page.entities) >= (page.page_size or PAGE_SIZE)
