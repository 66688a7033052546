"""The login host's ``GET /oauth/authorize`` (platform.md §1.1, §1.2, platform.md §13).

There is no browser: it auto-consents as the client's org's test user (or refuses with
``access_denied`` when consent denial is on) and redirects to the registered ``redirect_uri``
with ``code`` and ``state``. ``target=<orgId>`` picks the org to act in, as the org picker
does: the client's own org, or a trustor org whose enabled, unexpired trust has the user as a
member (directly or through a group); the code then yields a token acting in that org with
``homeOrganization`` = the user's. Any other target is ``access_denied`` (an assumption: the
platform's answer is not documented), and so is a trustor org in another region.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from aiohttp import web

from grantwarden.simulator import api_routes, errors, grants, guarding, model, requestlog, trust, world


def redirect(uri: str, params: Mapping[str, str | None]) -> str:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


def client_here(sim: world.World, request: web.Request, client_id: str) -> model.OAuthClient | None:
    """The client, if it exists on this region's login host."""
    client = sim.clients.get(client_id)
    if client is None or sim.orgs[client.org_id].region != request[guarding.REGION]:
        return None
    return client


def may_act_in(sim: world.World, home: model.Org, user_id: str, target: str) -> bool:
    """Whether ``user_id`` of ``home`` may pick org ``target`` (its own, or a trustor's)."""
    if target == home.id:
        return True
    trustor = sim.orgs.get(target)
    if trustor is None or trustor.region != home.region:
        return False
    return trust.is_member(sim.trusts.get(target, home.id), home, user_id, sim.clock.now())


class AuthorizeRoutes:
    def __init__(self, sim: world.World) -> None:
        self.sim = sim

    def table(self) -> list[api_routes.Route]:
        return [("GET", "/oauth/authorize", self.authorize)]

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        client = client_here(self.sim, request, query.get("client_id", ""))
        if client is None:
            raise errors.OAuthError(400, "invalid_client", "client not found")
        request[requestlog.CLIENT_ID] = client.id
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:  # never redirect to an unregistered URI
            raise errors.invalid_request("redirect_uri is not registered for this client")
        state = query.get("state")
        problem = self.refusal(client, query)
        if problem is not None:
            raise web.HTTPFound(redirect(redirect_uri, {"error": problem, "state": state}))
        org = self.sim.orgs[client.org_id]
        allowed = grants.effective(client, self.sim.clock.now()).scope
        requested = query.get("scope", "").replace(",", " ").split()
        scopes = tuple(s for s in requested if s in allowed) if requested else allowed
        target = query.get("target") or org.id
        code = self.sim.tokens.issue_code(
            client,
            user_id=org.test_user_id or "",
            redirect_uri=redirect_uri,
            scopes=scopes,
            challenge=query.get("code_challenge"),
            expires_at=self.sim.clock.now() + self.sim.settings.code_lifetime_seconds,
            target_org_id=target if target != org.id else None,
        )
        raise web.HTTPFound(redirect(redirect_uri, {"code": code.value, "state": state}))

    def refusal(self, client: model.OAuthClient, query: Mapping[str, str]) -> str | None:
        """Why authorization is refused (an ``error`` for the redirect), or None."""
        if query.get("response_type") != "code":
            return "unsupported_response_type"
        if client.grant_type != model.CODE or client.state != "active":
            return "unauthorized_client"
        if "code_challenge" in query and query.get("code_challenge_method", "plain") != "S256":
            return "invalid_request"  # S256 only (platform.md §1.1, code_challenge_methods_supported)
        org = self.sim.orgs[client.org_id]
        if self.sim.settings.deny_consent or org.test_user_id not in org.users:
            return "access_denied"
        target = query.get("target")
        if target and not may_act_in(self.sim, org, org.test_user_id or "", target):
            return "access_denied"
        return None
