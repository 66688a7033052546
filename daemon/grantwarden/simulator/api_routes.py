"""API routes of introspection and of the probe endpoints (design.md §2.6, platform.md §3, §6).

``/api/v2/tokens/me`` (GET/HEAD/DELETE) and ``/organizations/me`` always describe the token's
own org: the platform derives the org from the token, never from the path. The probe listings
are precomputed bytes per org and page; queues are divisioned, so the listing shows only the
divisions where the caller holds ``routing:queue:view`` and a single queue elsewhere answers
``missing.division.permission``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from grantwarden.simulator import errors, grants, guarding, listings, model, operations, permissions, world

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, Handler]
Builder = Callable[[model.Org], list[dict[str, Any]]]

JSON = "application/json"


def page_params(request: web.Request, *, default_size: int = 25) -> tuple[int, int]:
    values = []
    for name, default in (("pageSize", default_size), ("pageNumber", 1)):
        raw = request.query.get(name)
        try:
            value = default if raw is None else int(raw)
        except ValueError:
            raise errors.invalid_query_param(name, raw or "") from None
        if value < 1:
            raise errors.invalid_query_param(name, str(raw))
        values.append(value)
    return min(values[0], 500), values[1]


def ok(body: bytes) -> web.Response:
    return web.Response(body=body, content_type=JSON)


def named(entity_id: str, name: str) -> dict[str, str]:
    return {"id": entity_id, "name": name}


def token_info(sim: world.World, caller: guarding.Caller) -> dict[str, Any]:
    token, org, client = caller.token, caller.org, caller.client
    if token.kind == "client":
        version = grants.for_client_token(client, token, now=sim.clock.now(), live=sim.tokens_see_grants(org))
        role_divisions = [{"roleId": rd.role_id, "divisionId": rd.division_id} for rd in version.role_divisions]
        scopes: list[str] = []
    else:
        role_divisions = []
        scopes = list(guarding.approved_scopes(org, token))
    info: dict[str, Any] = {
        "organization": named(org.id, org.name),
        "homeOrganization": named(org.id, org.name),
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
            "organization": named(org.id, org.name),
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


class ApiRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[Route]:
        probes: list[tuple[str, operations.Operation, Builder, bool]] = [
            (
                "/api/v2/conversations/messaging/integrations",
                operations.MESSAGING_INTEGRATIONS,
                listings.messaging_integrations,
                True,
            ),
            (
                "/api/v2/conversations/messaging/supportedcontent",
                operations.MESSAGING_SUPPORTED_CONTENT,
                listings.supported_content,
                True,
            ),
            (
                "/api/v2/conversations/messaging/settings",
                operations.MESSAGING_SETTINGS,
                listings.messaging_settings,
                True,
            ),
            (
                "/api/v2/routing/message/recipients",
                operations.ROUTING_MESSAGE_RECIPIENTS,
                listings.message_recipients,
                True,
            ),
            (
                "/api/v2/webdeployments/deployments",
                operations.WEBDEPLOYMENTS_DEPLOYMENTS,
                listings.web_deployments,
                False,
            ),
            (
                "/api/v2/webdeployments/configurations",
                operations.WEBDEPLOYMENTS_CONFIGURATIONS,
                listings.web_deployment_configurations,
                False,
            ),
        ]
        routes: list[Route] = [
            ("GET", "/api/v2/tokens/me", self.tokens_me),
            ("DELETE", "/api/v2/tokens/me", self.delete_tokens_me),
            ("GET", "/api/v2/organizations/me", self.organizations_me),
            ("GET", "/api/v2/users/me", self.users_me),
            ("GET", "/api/v2/conversations/messaging/facebook/app", self.facebook_app),
            ("GET", "/api/v2/routing/queues", self.queues),
            ("GET", "/api/v2/routing/queues/{queue_id}", self.queue),
        ]
        routes += [("GET", path, self.listing(path, op, build, numbered)) for path, op, build, numbered in probes]
        return routes

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
        return ok(self.sim.listings.get(("org", caller.org.id), lambda: organization(caller.org)))

    async def users_me(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.USERS_ME)
        assert caller.user is not None  # user_only operations admit user tokens only
        return web.json_response(user(caller.org, caller.user))

    async def facebook_app(self, request: web.Request) -> web.StreamResponse:
        caller = guarding.admit(self.sim, request, operations.MESSAGING_FACEBOOK_APP)
        return web.json_response({"id": model.stable_id(caller.org.id, "facebook-app")})

    def listing(self, path: str, op: operations.Operation, build: Builder, numbered: bool) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            caller = guarding.admit(self.sim, request, op)
            org = caller.org
            if not numbered:
                return ok(self.sim.listings.get((path, org.id), lambda: listings.cursored(build(org), path=path)))
            size, number = page_params(request)
            key = (path, org.id, size, number)
            return ok(
                self.sim.listings.get(
                    key, lambda: listings.paged(build(org), path=path, page_size=size, page_number=number)
                )
            )

        return handle

    async def queues(self, request: web.Request) -> web.StreamResponse:
        op = operations.ROUTING_QUEUES
        caller = guarding.admit(self.sim, request, op)
        assert op.requirement is not None
        size, number = page_params(request)
        asked = tuple(d for value in request.query.getall("divisionId", []) for d in value.split(",") if d)
        if asked:
            refused = permissions.check_divisions(caller.holdings, op.requirement, asked)
            if refused is not None:
                raise errors.refusal(refused)
        visible = permissions.visible_divisions(caller.holdings, op.requirement)
        org = caller.org
        shown = [
            listings.queue(org, q)
            for q in org.queues
            if (model.ALL_DIVISIONS in visible or q.division_id in visible) and (not asked or q.division_id in asked)
        ]
        path = "/api/v2/routing/queues"
        return web.json_response(listings.paged(shown, path=path, page_size=size, page_number=number))

    async def queue(self, request: web.Request) -> web.StreamResponse:
        op = operations.ROUTING_QUEUE
        caller = guarding.admit(self.sim, request, op)
        assert op.requirement is not None
        found = next((q for q in caller.org.queues if q.id == request.match_info["queue_id"]), None)
        if found is None:
            raise errors.not_found()
        refused = permissions.check_object(caller.holdings, op.requirement, found.division_id)
        if refused is not None:
            raise errors.refusal(refused)
        return web.json_response(listings.queue(caller.org, found))
