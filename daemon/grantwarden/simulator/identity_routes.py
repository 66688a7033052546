"""Who am I: ``/api/v2/tokens/me``, ``/organizations/me`` and ``/users/me`` (platform.md §3, platform.md §13).

They always describe the token's own org: the platform derives the org from the token, never
from the path. A trusted user's token says so: ``organization`` is the trustor org it acts in,
``homeOrganization`` the trustee org it comes from, and ``OAuthClient.organization`` the org
owning the client (the trustee's). ``GET /users/me`` answers a client-credentials token with 400
``not.a.user``; its ``expand`` understands ``organization``, ``token`` and ``trustors`` (the orgs
that let this user in, with the permissions it has there).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from grantwarden.simulator import api_routes, catalog, grants, guarding, model, operations, rights, trust, world


def named(entity_id: str, name: str) -> dict[str, str]:
    return {"id": entity_id, "name": name}


def token_info(sim: world.World, caller: guarding.Caller) -> dict[str, Any]:
    token, org, client = caller.token, caller.org, caller.client
    owner = sim.orgs[client.org_id]
    if token.kind == "client":
        version = grants.for_client_token(client, token, now=sim.clock.now(), live=sim.tokens_see_grants(org))
        role_divisions = [{"roleId": rd.role_id, "divisionId": rd.division_id} for rd in version.role_divisions]
        scopes: list[str] = []
    else:
        role_divisions = []
        scopes = list(guarding.approved_scopes(org, token))
    info: dict[str, Any] = {
        "organization": named(org.id, org.name),
        "homeOrganization": named(caller.home_org.id, caller.home_org.name),
        "authorizedScope": scopes,
        "OAuthClient": {
            "id": client.id,
            "name": client.name,
            "dateCreated": model.iso(client.date_created),
            "dateModified": model.iso(client.date_modified),
            "authorizedGrantType": client.grant_type,
            "scope": list(client.configured.scope),
            "roleDivisions": role_divisions,
            "state": client.state,
            "organization": named(owner.id, owner.name),
        },
    }
    if org.idle_timeout_seconds is not None:
        info["dateTokenIdles"] = model.iso(token.last_used + org.idle_timeout_seconds)
    return info


def organization(org: model.Org) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "defaultLanguage": "en-us",
        "defaultCountryCode": "US",
        "thirdPartyOrgName": org.third_party_org_name,
        "domain": org.third_party_org_name,
        "version": 3,
        "state": "active",
        "defaultSiteId": model.stable_id(org.id, "site"),
        "voicemailEnabled": True,
        "productPlatform": "GenesysCloud",
        "features": {"purecloud": True, "webMessaging": True},
        "selfUri": f"/api/v2/organizations/{org.id}",
    }


def user(org: model.Org, person: model.User) -> dict[str, Any]:
    """A ``User`` of its home org ``org``."""
    home = org.divisions[org.home_division_id]
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email,
        "username": person.email,
        "state": "active",
        "version": 1,
        "division": {"id": home.id, "name": home.name, "selfUri": f"/api/v2/authorization/divisions/{home.id}"},
        "selfUri": f"/api/v2/users/{person.id}",
    }


def permission_list(holdings: rights.Holdings | None) -> list[str]:
    """Every permission of the catalogue ``holdings`` holds somewhere, sorted."""
    return sorted(p for p in catalog.ALL_PERMISSIONS if holdings is not None and holdings.holds(p))


def trustors_of(sim: world.World, home: model.Org, person: model.User) -> list[dict[str, Any]]:
    """``Trustor`` entries for every org whose trust lets ``person`` in, with its permissions there."""
    now, found = sim.clock.now(), []
    for entry in sim.trusts.of_trustee(home.id):
        if not trust.is_member(entry, home, person.id, now):
            continue
        trustor = sim.orgs[entry.trustor_id]
        granted = permission_list(trust.holdings_for(trustor, entry, home, person, now))
        found.append(
            {
                "id": trustor.id,
                "enabled": entry.enabled,
                "dateCreated": model.iso(entry.date_created),
                "organization": organization(trustor),
                "authorization": {"permissions": granted},
                "selfUri": f"/api/v2/orgauthorization/trustors/{trustor.id}",
            }
        )
    return found


class IdentityRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[api_routes.Route]:
        return [
            ("GET", "/api/v2/tokens/me", self.tokens_me),
            ("DELETE", "/api/v2/tokens/me", self.delete_tokens_me),
            ("GET", "/api/v2/organizations/me", self.organizations_me),
            ("GET", "/api/v2/users/me", self.users_me),
        ]

    async def tokens_me(self, request: web.Request) -> web.StreamResponse:
        preserve = request.query.get("preserveIdleTTL", "").lower() == "true"
        caller = guarding.admit(self.sim, request, operations.TOKENS_ME, preserve_idle=preserve)
        return web.json_response(token_info(self.sim, caller))

    async def delete_tokens_me(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.TOKENS_ME)
        self.sim.tokens.revoke(caller.token.value)
        return web.Response(status=200)

    async def organizations_me(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.ORGANIZATION_ME)
        return api_routes.ok(self.sim.listings.get(("org", caller.org.id), lambda: organization(caller.org)))

    async def users_me(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.USERS_ME)
        assert caller.user is not None  # user_only operations admit user tokens only
        expand = set(api_routes.listed(request, "expand"))
        body = user(caller.home_org, caller.user)
        if "organization" in expand:
            body["organization"] = organization(caller.org)
        if "token" in expand:
            body["token"] = token_info(self.sim, caller)
        if "trustors" in expand:
            body["trustors"] = trustors_of(self.sim, caller.home_org, caller.user)
        return web.json_response(body)
