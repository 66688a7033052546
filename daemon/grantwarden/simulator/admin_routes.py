"""Administration routes: OAuth clients (the re-grant API) and the authorization directory.

``GET/PUT /api/v2/oauth/clients[/{id}]`` and ``POST …/secret`` (platform.md §2.3-§2.5): the
secret is returned only by the regeneration, never by GET or PUT; a PUT's new grants take effect
after the org's propagation delay while the client object shows them at once.
``/api/v2/authorization/roles`` (name filter, paging; rights as ``permissionPolicies`` with
``unusedPermissions`` for unlicensed ones), ``/permissions`` (the org's licensed permissions,
paged by domain) and ``/divisions/home`` are what a daemon reads before it decides to re-grant.
A client of another org is ``client.not.found``: an org sees only its own clients.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from grantwarden.simulator import (
    api_routes,
    catalog,
    client_updates,
    errors,
    grants,
    guarding,
    listings,
    model,
    operations,
    permissions,
    tokens,
    world,
)


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
    if client.modified_by:
        body["modifiedBy"] = {"id": client.modified_by, "selfUri": f"/api/v2/oauth/clients/{client.modified_by}"}
    return body


def role_json(org: model.Org, role: model.Role) -> dict[str, Any]:
    granted = permissions.expand(role, catalog.ALL_PERMISSIONS)
    return {
        "id": role.id,
        "name": role.name,
        "description": role.description,
        "permissions": [],
        "permissionPolicies": [
            {
                "domain": p.domain,
                "entityName": p.entity,
                "policyName": f"{p.domain}:{p.entity}",
                "actionSet": sorted(p.actions),
                "allowConditions": False,
            }
            for p in role.policies
        ],
        "unusedPermissions": [p for p in granted if p not in org.licensed],
        "userCount": sum(1 for u in org.users.values() if any(rd.role_id == role.id for rd in u.role_divisions)),
        "default": False,
        "base": False,
        "selfUri": f"/api/v2/authorization/roles/{role.id}",
    }


def permission_collections(org: model.Org, query: list[str]) -> list[dict[str, Any]]:
    """``DomainPermissionCollection`` per domain of licensed permissions, optionally filtered."""
    wanted = set(query)
    collections: list[dict[str, Any]] = []
    for domain in catalog.DOMAINS:
        entries = [
            d
            for d in catalog.PERMISSIONS.values()
            if d.domain == domain and d.name in org.licensed and (not wanted or domain in wanted or d.name in wanted)
        ]
        if not entries:
            continue
        by_entity: dict[str, list[dict[str, Any]]] = {}
        for d in entries:
            by_entity.setdefault(d.entity, []).append(
                {
                    "domain": d.domain,
                    "entityType": d.entity,
                    "action": d.action,
                    "label": d.label,
                    "allowsConditions": False,
                    "divisionAware": d.division_aware,
                }
            )
        collections.append({"id": domain, "name": domain, "domain": domain, "permissionMap": by_entity})
    return collections


def listed(request: web.Request, name: str) -> list[str]:
    return [item for value in request.query.getall(name, []) for item in value.split(",") if item]


class AdminRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[api_routes.Route]:
        return [
            ("GET", "/api/v2/oauth/clients", self.list_clients),
            ("GET", "/api/v2/oauth/clients/{client_id}", self.get_client),
            ("PUT", "/api/v2/oauth/clients/{client_id}", self.put_client),
            ("POST", "/api/v2/oauth/clients/{client_id}/secret", self.regenerate_secret),
            ("GET", "/api/v2/authorization/roles", self.roles),
            ("GET", "/api/v2/authorization/permissions", self.permissions),
            ("GET", "/api/v2/authorization/divisions/home", self.home_division),
        ]

    def own_client(self, caller: guarding.Caller, request: web.Request) -> model.OAuthClient:
        client = self.sim.clients.get(request.match_info["client_id"])
        if client is None or client.org_id != caller.org.id:
            raise errors.PlatformError(404, "client.not.found", "Client not found.")
        return client

    async def list_clients(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.OAUTH_CLIENTS)
        entities = [client_json(c) for c in self.sim.org_clients(caller.org.id)]
        size = max(len(entities), 1)
        return web.json_response(listings.paged(entities, path="/api/v2/oauth/clients", page_size=size, page_number=1))

    async def get_client(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.OAUTH_CLIENT)
        return web.json_response(client_json(self.own_client(caller, request)))

    async def put_client(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.OAUTH_CLIENT_PUT)
        client = self.own_client(caller, request)
        try:
            body = await request.json()
        except ValueError:
            raise errors.bad_request(
                "The request could not be understood by the server due to malformed syntax."
            ) from None
        # Optimistic concurrency (an assumption: the platform declares 409 request.conflict on this
        # operation, platform.md §2.4, without saying when): a PUT carrying a dateModified older than
        # the client's, i.e. built from a stale read, would undo someone else's change.
        stamp = body.get("dateModified") if isinstance(body, dict) else None
        if isinstance(stamp, str) and stamp != model.iso(client.date_modified):
            raise errors.PlatformError(
                409, "request.conflict", "The client was modified by another request; read it again and retry."
            )
        update = client_updates.validate(caller.org, client, body, caller_roles=caller.holdings.role_ids)
        self.apply(caller, client, update)
        return web.json_response(client_json(client))

    def apply(self, caller: guarding.Caller, client: model.OAuthClient, update: client_updates.Update) -> None:
        now = self.sim.clock.now()
        configured = client.configured
        if (update.role_divisions, update.scope) != (configured.role_divisions, configured.scope):
            delay = self.sim.propagation_delay(caller.org)
            grants.record(client, update.role_divisions, update.scope, effective_at=now + delay)
            grants.prune(client, now)
        if update.state == "disabled" and client.state != "disabled":
            self.sim.tokens.revoke_client(client.id)  # "access tokens created by the client are invalid"
        client.name, client.description, client.state = update.name, update.description, update.state
        client.redirect_uris, client.validity_seconds = update.redirect_uris, update.validity_seconds
        model.touch(client, now)
        client.modified_by = caller.client.id

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
        return web.json_response({**client_json(client), "secret": client.secret})

    async def roles(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.AUTHORIZATION_ROLES)
        size, number = api_routes.page_params(request)
        name = request.query.get("name", "").lower()
        ids, perms = set(listed(request, "id")), listed(request, "permission")
        chosen = [
            role
            for role in sorted(caller.org.roles.values(), key=lambda r: r.name.lower())
            if name in role.name.lower()
            and (not ids or role.id in ids)
            and (not perms or any(permissions.role_grants(role, p) for p in perms))
        ]
        entities = [role_json(caller.org, role) for role in chosen]
        path = "/api/v2/authorization/roles"
        return web.json_response(listings.paged(entities, path=path, page_size=size, page_number=number))

    async def permissions(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.AUTHORIZATION_PERMISSIONS)
        size, number = api_routes.page_params(request)
        query = listed(request, "query")
        path = "/api/v2/authorization/permissions"
        key = (path, caller.org.id, size, number, tuple(query))
        return api_routes.ok(
            self.sim.listings.get(
                key,
                lambda: listings.paged(
                    permission_collections(caller.org, query), path=path, page_size=size, page_number=number
                ),
            )
        )

    async def home_division(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.AUTHORIZATION_HOME_DIVISION)
        home = caller.org.divisions[caller.org.home_division_id]
        return web.json_response(
            {
                "id": home.id,
                "name": home.name,
                "description": "The home division",
                "homeDivision": True,
                "selfUri": f"/api/v2/authorization/divisions/{home.id}",
            }
        )
