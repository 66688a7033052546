"""Driving every route of the simulator once to a success and once to a refusal, recording each answer.

``serve`` runs a world with an outermost middleware that records every answer (method, route
template without the region prefix, status, body); ``Driver`` sends requests by name against one
served world; ``drive_demo`` and ``drive_trust`` are the scripts ``test_sdk_routes`` runs over
the demo and the trust worlds. Not a test module.
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from typing import Any

import aiohttp
from aiohttp import web

from grantwarden.simulator import app, control, control_orgs, saml, world

from .conftest import basic, bearer

OA = "/api/v2/orgauthorization"


@dataclasses.dataclass(frozen=True)
class Answer:
    method: str
    route: str
    status: int
    text: str


async def serve(sim: world.World, answers: list[Answer]) -> tuple[web.AppRunner, str]:
    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        route = request.match_info.route.resource
        canonical = route.canonical if route is not None else request.path
        canonical = re.sub(r"^/regions/\{region\}", "", canonical)
        body = response.body if isinstance(response, web.Response) else b""
        answers.append(Answer(request.method, canonical, response.status, bytes(body or b"").decode()))
        return response

    application = app.build(sim)
    application.middlewares.insert(0, record)
    runner = web.AppRunner(application, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


class Driver:
    """Requests against one served world, by name; every answer lands in ``answers``."""

    def __init__(self, session: aiohttp.ClientSession, sim: world.World, base: str) -> None:
        self.session, self.sim, self.base = session, sim, base

    def tenant(self, name: str) -> Any:
        return next(t for t in self.sim.tenants if t.name == name)

    async def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> tuple[int, Any]:
        headers = {**(bearer(token) if token else {}), **kw.pop("headers", {})}
        async with self.session.request(method, self.base + path, headers=headers, allow_redirects=False, **kw) as r:
            text = await r.text()
            return r.status, (json.loads(text) if text and r.content_type == "application/json" else r.headers)

    async def mint(self, client_id: str, region: str | None = None) -> str:
        prefix = "" if region in (None, self.sim.default_region) else f"/regions/{region}"
        form = {"grant_type": "client_credentials"}
        status, body = await self.call(
            "POST", prefix + "/oauth/token", headers=basic(client_id, self.sim.clients[client_id].secret), data=form
        )
        assert status == 200, body
        return str(body["access_token"])

    async def code_token(self, tenant: str, **extra: str) -> str:
        spec = self.tenant(tenant)
        query = {"response_type": "code", "client_id": spec.client_id, "redirect_uri": spec.redirect_uri, **extra}
        _, headers = await self.call("GET", "/oauth/authorize", params=query)
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["Location"]).query))["code"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": spec.redirect_uri}
        status, body = await self.call(
            "POST", "/oauth/token", headers=basic(spec.client_id, self.sim.clients[spec.client_id].secret), data=form
        )
        assert status == 200, body
        return str(body["access_token"])


async def drive_demo(d: Driver) -> None:
    acme, eu, desktop = d.tenant("acme"), d.tenant("acme-eu"), d.tenant("acme-agent-desktop")
    control.add_role(d.sim, acme.client_id, "Everything")
    full, weak = await d.mint(acme.client_id), await d.mint(eu.client_id, "eu-west-1")
    user = await d.code_token("acme-agent-desktop")
    await d.call(
        "POST", "/oauth/token", headers=basic(acme.client_id, "wrong"), data={"grant_type": "client_credentials"}
    )
    refused = {"response_type": "code", "client_id": desktop.client_id, "redirect_uri": "http://elsewhere.example/"}
    await d.call("GET", "/oauth/authorize", params=refused)
    for path in ("/api/v2/tokens/me", "/api/v2/organizations/me", "/api/v2/authorization/roles",
                 "/api/v2/authorization/permissions", "/api/v2/authorization/divisions/home"):  # fmt: skip
        await d.call("GET", path, full)
        await d.call("GET", path)
    await d.call("GET", "/api/v2/users/me", user, params={"expand": "organization,token,trustors"})
    await d.call("GET", "/api/v2/users/me", full)
    throwaway = await d.mint(acme.client_id)
    await d.call("DELETE", "/api/v2/tokens/me", throwaway)
    await d.call("DELETE", "/api/v2/tokens/me", throwaway)
    await d.call("GET", "/api/v2/conversations/messaging/facebook/app", full)
    await d.call("GET", "/regions/eu-west-1/api/v2/conversations/messaging/facebook/app", weak)
    send = {
        "fromAddress": "+13175550100",
        "toAddress": "+13175550199",
        "toAddressMessengerType": "sms",
        "textBody": "x",
    }
    await d.call("POST", "/api/v2/conversations/messages/agentless", full, json=send)
    await d.call("POST", "/api/v2/conversations/messages/agentless", user, json=send)
    for path in ("/api/v2/conversations/messaging/integrations", "/api/v2/conversations/messaging/supportedcontent",
                 "/api/v2/conversations/messaging/settings", "/api/v2/routing/message/recipients",
                 "/api/v2/webdeployments/deployments", "/api/v2/webdeployments/configurations",
                 "/api/v2/routing/queues"):  # fmt: skip
        await d.call("GET", path, full, params={"pageSize": "1"})
        await d.call("GET", "/regions/eu-west-1" + path, weak)
        await d.call("GET", path)
    org = d.sim.orgs[acme.org_id]
    await d.call("GET", f"/api/v2/routing/queues/{org.queues[0].id}", full)
    await d.call("GET", "/api/v2/routing/queues/no-such-queue", full)
    await drive_clients(d, full, weak)
    settings = "/api/v2/organizations/authentication/settings"
    await d.call("GET", settings, full)
    await d.call("GET", "/regions/eu-west-1" + settings, weak)  # no directory:organization:admin
    await d.call("PATCH", settings, full, json={"universalLogout": False})
    await d.call("PATCH", settings, full, json={"ipAddressAllowlist": ["10.0.0.0/8"]})
    await d.call("POST", "/api/v2/audits/query/realtime", full, json={"interval": "x"})
    await d.call("GET", "/api/v2/audits/query/realtime/servicemapping", full)
    control_orgs.set_ip_allowlist(d.sim, acme.org_id, ["203.0.113.0/24"])
    await d.call("GET", "/api/v2/organizations/me", full)
    control_orgs.set_ip_allowlist(d.sim, acme.org_id, [])
    control.set_rate_limits(d.sim, org_id=acme.org_id, token_requests_per_minute=1)
    limited = await d.mint(acme.client_id)
    await d.call("GET", "/api/v2/organizations/me", limited)
    await d.call("GET", "/api/v2/organizations/me", limited)  # 429 with its limit object


async def drive_clients(d: Driver, full: str, weak: str) -> None:
    acme = d.tenant("acme")
    viewer = d.sim.orgs[acme.org_id].role_named("Messaging Viewer")
    assert viewer is not None
    base = "/api/v2/oauth/clients"
    await d.call("GET", base, full)
    await d.call("GET", "/regions/eu-west-1" + base, weak)
    body = {
        "name": "route check",
        "authorizedGrantType": "CLIENT-CREDENTIALS",
        "roleDivisions": [{"roleId": viewer.id}],
    }
    _, made = await d.call("POST", base, full, json=body)
    await d.call("POST", base, full, json={**body, "state": "disabled"})
    one = f"{base}/{made['id']}"
    _, current = await d.call("GET", one, full)
    await d.call("GET", f"{base}/no-such-client", full)
    await d.call("PUT", one, full, json={**current, "description": "checked"})
    await d.call("PUT", one, full, json={**current, "roleDivisions": []})
    await d.call("POST", one + "/secret", full)
    await d.call("POST", f"{base}/no-such-client/secret", full)
    await d.call("DELETE", one, full)  # 400: still active
    _, current = await d.call("GET", one, full)
    await d.call("PUT", one, full, json={**current, "state": "inactive"})
    await d.call("DELETE", one, full)


async def drive_trust(t: Driver) -> None:
    customer, via = t.tenant("customer"), t.tenant("customer-via-partner")
    partner = via.trust_home_org_id
    admin = await t.mint(customer.admin_client_id)
    home_user = await t.code_token("customer-via-partner")
    trusted = await t.code_token("customer-via-partner", target=customer.org_id)
    await t.call("GET", "/api/v2/tokens/me", trusted)
    await t.call("GET", "/api/v2/users/me", trusted, params={"expand": "token,trustors,organization"})
    await t.call("GET", f"{OA}/trustees", admin)
    await t.call("GET", f"{OA}/trustees", await t.mint(customer.client_id))  # 403
    await t.call("GET", f"{OA}/trustees/{partner}", admin)
    await t.call("GET", f"{OA}/trustees/{customer.org_id}", admin)  # 404
    _, users = await t.call("GET", f"{OA}/trustees/{partner}/users", admin)
    _, groups = await t.call("GET", f"{OA}/trustees/{partner}/groups", admin)
    for kind, listing in (("users", users), ("groups", groups)):
        await t.call("GET", f"{OA}/trustees/{partner}/{kind}/{listing['entities'][0]['id']}/roles", admin)
        await t.call("GET", f"{OA}/trustees/{partner}/{kind}/nobody/roles", admin)
        await t.call("GET", f"{OA}/trustees/{customer.org_id}/{kind}", admin)
    await t.call("GET", f"{OA}/trustors", home_user)
    await t.call("GET", f"{OA}/trustors")
    for kind in ("users", "groups"):
        await t.call("GET", f"{OA}/trustors/{customer.org_id}/{kind}", home_user)  # 403 missing.trustor.permissions
    control_orgs.set_trust_member(t.sim, customer.org_id, partner, "consultant", ["Trust Viewer"])
    for kind in ("users", "groups"):
        await t.call("GET", f"{OA}/trustors/{customer.org_id}/{kind}", home_user)
    control.set_client_state(t.sim, customer.client_id, "inactive")
    control_orgs.set_trust_enabled(t.sim, customer.org_id, partner, True)
    control_orgs.remove_trust_role(t.sim, customer.org_id, partner, "support", "Queue Viewer")
    query = {
        "interval": "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z",
        "filters": [{"property": "EntityType", "value": "OAuthClient"}],
        "sort": [{"name": "Timestamp", "sortOrder": "descending"}],
    }
    await t.call("POST", "/api/v2/audits/query/realtime", admin, json=query)
    await t.call(
        "POST", "/api/v2/audits/query/realtime", admin, json={"interval": "2020-01-01T00:00:00Z/2100-01-01T00:00:00Z"}
    )
    await t.call("GET", "/api/v2/audits/query/realtime/servicemapping", admin)
    assertion = saml.assertion_for("nobody@partner-services.example")
    saml_form = {"grant_type": saml.GRANT_TYPE, "orgName": "partner-services", "assertion": assertion}
    await t.call(
        "POST", "/oauth/token", headers=basic(via.client_id, t.sim.clients[via.client_id].secret), data=saml_form
    )
