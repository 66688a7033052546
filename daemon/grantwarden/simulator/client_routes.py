"""The OAuth client API: list, read, create, replace, delete, regenerate the secret (platform.md §2.3-§2.5, §12).

The secret is returned only by creation and regeneration, never by GET or PUT. A PUT's new grants
take effect after the org's propagation delay while the client object shows them at once; a
client put ``disabled`` loses its tokens at once, and a disabled client cannot be edited (400
``bad.client.state`` "Client is disabled.", **L**). DELETE works only on an ``inactive`` client
(400 ``cannot.delete.client``); after it the client is ``client.not.found`` and its tokens are
dead. A client of another org is ``client.not.found`` too: an org sees only its own clients.
Every change is written to the audit trail as the caller made it (``audit``).
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from grantwarden.simulator import (
    api_routes,
    audit,
    client_updates,
    errors,
    grants,
    guarding,
    ipallow,
    listings,
    model,
    operations,
    tokens,
    world,
)

OAUTH_CLIENT = "OAuthClient"


def client_json(client: model.OAuthClient) -> dict[str, Any]:
    """The ``OAuthClient`` model without ``secret`` (removed from GET/PUT since 2025)."""
    configured = client.configured
    body: dict[str, Any] = {
        "id": client.id,
        "name": client.name,
        "accessTokenValiditySeconds": client.validity_seconds,
        "description": client.description,
        "registeredRedirectUri": list(client.redirect_uris),
        "dateCreated": model.iso(client.date_created),
        "dateModified": model.iso(client.date_modified),
        "authorizedGrantType": client.grant_type,
        "scope": list(configured.scope),
        "roleDivisions": [{"roleId": rd.role_id, "divisionId": rd.division_id} for rd in configured.role_divisions],
        "state": client.state,
        "selfUri": f"/api/v2/oauth/clients/{client.id}",
    }
    if client.created_by:
        body["createdBy"] = dict(client.created_by)
    if client.modified_by:
        body["modifiedBy"] = dict(client.modified_by)
    return body


def pairs(role_divisions: tuple[model.RoleDivision, ...]) -> list[str]:
    """roleDivisions as audit values: ``roleId:divisionId``."""
    return [f"{rd.role_id}:{rd.division_id}" for rd in role_divisions]


def changes(client: model.OAuthClient, update: client_updates.Update) -> list[audit.Change]:
    """What a PUT changes, by property (names other than ``scopes`` are assumptions)."""
    configured = client.configured
    found = [
        *audit.diff("name", [client.name], [update.name]),
        *audit.diff("description", [client.description], [update.description]),
        *audit.diff("state", [client.state], [update.state]),
        *audit.diff("roleDivisions", pairs(configured.role_divisions), pairs(update.role_divisions)),
        *audit.diff("scopes", configured.scope, update.scope),
        *audit.diff("accessTokenValiditySeconds", [str(client.validity_seconds)], [str(update.validity_seconds)]),
        *audit.diff("registeredRedirectUri", client.redirect_uris, update.redirect_uris),
    ]
    return found


def record(
    sim: world.World, org_id: str, actor: audit.Actor, action: str, client: model.OAuthClient, **kw: Any
) -> None:
    sim.audits.record(
        org_id=org_id,
        now=sim.clock.now(),
        actor=actor,
        action=action,
        entity=(OAUTH_CLIENT, client.id, client.name),
        **kw,
    )


class ClientRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[api_routes.Route]:
        one = "/api/v2/oauth/clients/{client_id}"
        return [
            ("GET", "/api/v2/oauth/clients", self.list_clients),
            ("POST", "/api/v2/oauth/clients", self.create),
            ("GET", one, self.get_client),
            ("PUT", one, self.put_client),
            ("DELETE", one, self.delete_client),
            ("POST", one + "/secret", self.regenerate_secret),
        ]

    def own_client(self, caller: guarding.Caller, request: web.Request) -> model.OAuthClient:
        client = self.sim.clients.get(request.match_info["client_id"])
        if client is None or client.org_id != caller.org.id:
            raise errors.client_not_found()
        return client

    def actor(self, caller: guarding.Caller, request: web.Request) -> audit.Actor:
        return caller.actor(ipallow.address_of(self.sim, request))

    async def list_clients(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.OAUTH_CLIENTS)
        entities = [client_json(c) for c in self.sim.org_clients(caller.org.id)]
        size = max(len(entities), 1)
        return web.json_response(listings.paged(entities, path="/api/v2/oauth/clients", page_size=size, page_number=1))

    async def get_client(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.OAUTH_CLIENT)
        return web.json_response(client_json(self.own_client(caller, request)))

    async def create(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.OAUTH_CLIENT_POST)
        update = client_updates.validate(
            caller.org, None, await api_routes.json_body(request), caller_roles=caller.holdings.role_ids
        )
        now = self.sim.clock.now()
        client = self.sim.add_client(
            model.OAuthClient(
                id=str(uuid.UUID(int=self.sim.rng.getrandbits(128), version=4)),
                org_id=caller.org.id,
                name=update.name,
                secret=tokens.new_value(),
                grant_type=update.grant_type,
                versions=grants.initial(update.role_divisions, update.scope),
                description=update.description,
                redirect_uris=update.redirect_uris,
                validity_seconds=update.validity_seconds,
                date_created=now,
                date_modified=now,
                created_by=caller.ref(),
                modified_by=caller.ref(),
            )
        )
        record(self.sim, caller.org.id, self.actor(caller, request), "Create", client)
        return web.json_response({**client_json(client), "secret": client.secret})

    async def put_client(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.OAUTH_CLIENT_PUT)
        client = self.own_client(caller, request)
        if client.state == "disabled":  # declared on PUT (platform.md §12); "what support sets"
            raise errors.bad_request("Client is disabled.", code="bad.client.state")
        body = await api_routes.json_body(request)
        # Optimistic concurrency (an assumption: the platform declares 409 request.conflict on this
        # operation, platform.md §2.4, without saying when): a PUT carrying a dateModified older than
        # the client's, i.e. built from a stale read, would undo someone else's change.
        stamp = body.get("dateModified") if isinstance(body, dict) else None
        if isinstance(stamp, str) and stamp != model.iso(client.date_modified):
            raise errors.PlatformError(
                409, "request.conflict", "The client was modified by another request; read it again and retry."
            )
        update = client_updates.validate(caller.org, client, body, caller_roles=caller.holdings.role_ids)
        found = changes(client, update)
        self.apply(caller, client, update)
        if found:
            record(self.sim, caller.org.id, self.actor(caller, request), "Update", client, changes=found)
        return web.json_response(client_json(client))

    def apply(self, caller: guarding.Caller, client: model.OAuthClient, update: client_updates.Update) -> None:
        now = self.sim.clock.now()
        configured = client.configured
        if (update.role_divisions, update.scope) != (configured.role_divisions, configured.scope):
            delay = self.sim.propagation_delay(caller.org)
            grants.record(client, update.role_divisions, update.scope, effective_at=now + delay)
            grants.prune(client, now)
        if update.state == "disabled":
            self.sim.tokens.revoke_client(client.id)  # "access tokens created by the client are invalid"
        client.name, client.description, client.state = update.name, update.description, update.state
        client.redirect_uris, client.validity_seconds = update.redirect_uris, update.validity_seconds
        model.touch(client, now)
        client.modified_by = caller.ref()

    async def delete_client(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.OAUTH_CLIENT_DELETE)
        client = self.own_client(caller, request)
        if client.state != "inactive":
            message = "Clients must be marked as inactive to be eligible for deletion."
            raise errors.bad_request(message, code="cannot.delete.client")
        del self.sim.clients[client.id]
        self.sim.tokens.revoke_client(client.id)
        configured = client.configured
        gone = [audit.Change("deleted_on", (), (model.iso(self.sim.clock.now()),))]  # as in the official sample
        gone += audit.diff("scopes", configured.scope, ())
        gone += audit.diff("roleDivisions", pairs(configured.role_divisions), ())
        record(self.sim, caller.org.id, self.actor(caller, request), "Delete", client, changes=gone)
        return web.Response(status=204)

    async def regenerate_secret(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.OAUTH_CLIENT_SECRET)
        client = self.own_client(caller, request)
        missing = [rd.role_id for rd in client.configured.role_divisions if rd.role_id not in caller.holdings.role_ids]
        if missing:
            raise errors.PlatformError(
                400, "bad.client.role", "The caller does not have all the roles assigned to this client."
            )
        client.secret = tokens.new_value()
        model.touch(client, self.sim.clock.now())
        client.modified_by = caller.ref()
        # the values of a secret never reach the trail: the property alone says it changed
        record(self.sim, caller.org.id, self.actor(caller, request), "Update", client, changes=[audit.Change("secret")])
        return web.json_response({**client_json(client), "secret": client.secret})
