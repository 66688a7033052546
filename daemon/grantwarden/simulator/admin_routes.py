"""Administration routes: the authorization directory a daemon reads before it re-grants.

``/api/v2/authorization/roles`` (name filter, paging; rights as ``permissionPolicies`` with
``unusedPermissions`` for unlicensed ones), ``/permissions`` (the org's licensed permissions,
paged by domain) and ``/divisions/home`` are what a daemon reads before it decides to re-grant
(platform.md §2.4 and the role addendum). The OAuth client API itself is ``client_routes``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from grantwarden.simulator import api_routes, catalog, guarding, listings, model, operations, permissions, rights, world


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


class AdminRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[api_routes.Route]:
        return [
            ("GET", "/api/v2/authorization/roles", self.roles),
            ("GET", "/api/v2/authorization/permissions", self.permissions),
            ("GET", "/api/v2/authorization/divisions/home", self.home_division),
        ]

    async def roles(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.AUTHORIZATION_ROLES)
        size, number = api_routes.page_params(request)
        name = request.query.get("name", "").lower()
        ids, perms = set(api_routes.listed(request, "id")), api_routes.listed(request, "permission")
        chosen = [
            role
            for role in sorted(caller.org.roles.values(), key=lambda r: r.name.lower())
            if name in role.name.lower()
            and (not ids or role.id in ids)
            and (not perms or any(rights.role_grants(role, p) for p in perms))
        ]
        entities = [role_json(caller.org, role) for role in chosen]
        path = "/api/v2/authorization/roles"
        return web.json_response(listings.paged(entities, path=path, page_size=size, page_number=number))

    async def permissions(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.AUTHORIZATION_PERMISSIONS)
        size, number = api_routes.page_params(request)
        query = api_routes.listed(request, "query")
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
