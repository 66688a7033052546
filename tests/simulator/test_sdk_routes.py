"""Every route the simulator serves, every body it answers, read strictly with the SDK's models.

``ROUTES`` maps each platform route to the SDK model of its 2xx body (``None``: no body; the
login host's two routes have no SDK model, their shapes are checked by hand). A test fails when
a route is served without an entry (or an entry names no served route), and when an entry
disagrees with the SDK's own ``response_type`` for that path. Then one session drives every
route at least once to a success and to a refusal, in the demo and the trust worlds, while a
middleware records every answer; each 2xx body must read as its model and each refusal as an
``ErrorBody`` with no unknown field, no wrong type and no enum value the SDK does not know
(``sdkshapes``). Covers the 429 ``limit`` object, trust, audit, allow-list and lifecycle bodies.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import re
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import PureCloudPlatformClientV2
import pytest
from aiohttp import web

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import app, control, control_orgs, saml, scenarios, world

from . import sdkshapes
from .conftest import basic, bearer

pytestmark = pytest.mark.e2e

TOKEN, REDIRECT = "login: token answer", "login: redirect"
OA = "/api/v2/orgauthorization"
ROUTES: dict[tuple[str, str], str | None] = {
    ("GET", "/api/v2/tokens/me"): "TokenInfo",
    ("DELETE", "/api/v2/tokens/me"): None,
    ("GET", "/api/v2/organizations/me"): "Organization",
    ("GET", "/api/v2/users/me"): "UserMe",
    ("GET", "/api/v2/conversations/messaging/facebook/app"): "FacebookAppCredentials",
    ("POST", "/api/v2/conversations/messages/agentless"): "SendAgentlessOutboundMessageResponse",
    ("GET", "/api/v2/routing/queues"): "QueueEntityListing",
    ("GET", "/api/v2/routing/queues/{queue_id}"): "Queue",
    ("GET", "/api/v2/conversations/messaging/integrations"): "MessagingIntegrationEntityListing",
    ("GET", "/api/v2/conversations/messaging/supportedcontent"): "SupportedContentListing",
    ("GET", "/api/v2/conversations/messaging/settings"): "MessagingConfigListing",
    ("GET", "/api/v2/routing/message/recipients"): "RecipientListing",
    ("GET", "/api/v2/webdeployments/deployments"): "ExpandableWebDeploymentEntityListing",
    ("GET", "/api/v2/webdeployments/configurations"): "WebDeploymentConfigurationVersionEntityListing",
    ("GET", "/api/v2/oauth/clients"): "OAuthClientEntityListing",
    ("POST", "/api/v2/oauth/clients"): "OAuthClient",
    ("GET", "/api/v2/oauth/clients/{client_id}"): "OAuthClient",
    ("PUT", "/api/v2/oauth/clients/{client_id}"): "OAuthClient",
    ("DELETE", "/api/v2/oauth/clients/{client_id}"): None,
    ("POST", "/api/v2/oauth/clients/{client_id}/secret"): "OAuthClient",
    ("GET", "/api/v2/authorization/roles"): "OrganizationRoleEntityListing",
    ("GET", "/api/v2/authorization/permissions"): "PermissionCollectionEntityListing",
    ("GET", "/api/v2/authorization/divisions/home"): "AuthzDivision",
    ("GET", OA + "/trustees"): "TrustEntityListing",
    ("GET", OA + "/trustees/{trustee_org_id}"): "Trustee",
    ("GET", OA + "/trustees/{trustee_org_id}/users"): "TrustUserEntityListing",
    ("GET", OA + "/trustees/{trustee_org_id}/groups"): "TrustGroupEntityListing",
    ("GET", OA + "/trustees/{trustee_org_id}/users/{member_id}/roles"): "UserAuthorization",
    ("GET", OA + "/trustees/{trustee_org_id}/groups/{member_id}/roles"): "UserAuthorization",
    ("GET", OA + "/trustors"): "TrustorEntityListing",
    ("GET", OA + "/trustors/{trustor_org_id}/users"): "TrustUserEntityListing",
    ("GET", OA + "/trustors/{trustor_org_id}/groups"): "TrustGroupEntityListing",
    ("POST", "/api/v2/audits/query/realtime"): "AuditRealtimeQueryResultsResponse",
    ("GET", "/api/v2/audits/query/realtime/servicemapping"): "AuditQueryServiceMapping",
    ("GET", "/api/v2/organizations/authentication/settings"): "OrgAuthSettings",
    ("PATCH", "/api/v2/organizations/authentication/settings"): "OrgAuthSettings",
    ("POST", "/oauth/token"): TOKEN,
    ("GET", "/oauth/authorize"): REDIRECT,
}


def served() -> set[tuple[str, str]]:
    sim = scenarios.load("demo", clock=ManualClock())
    return {(method, path) for method, path, _ in app.route_table(sim)}


def sdk_response_types() -> dict[tuple[str, str], str]:
    """(method, path with {} for parameters) → the SDK's response_type, read from its API modules."""
    found: dict[tuple[str, str], str] = {}
    apis = Path(PureCloudPlatformClientV2.__file__).parent / "apis"
    call = re.compile(r"resource_path = '([^']+)'.*?call_api\(resource_path, '(\w+)',.*?response_type=([^,]+),", re.S)
    for source in glob.glob(str(apis / "*.py")):
        for match in call.finditer(Path(source).read_text()):
            found[(match.group(2), re.sub(r"\{[^}]+\}", "{}", match.group(1)))] = match.group(3).strip("'")
    return found


def test_every_served_route_has_a_model_and_every_entry_is_served() -> None:
    assert set(ROUTES) == served()


def test_every_api_routes_model_is_the_sdks_response_type() -> None:
    sdk = sdk_response_types()
    for (method, path), model in ROUTES.items():
        if model in (TOKEN, REDIRECT):
            continue
        assert sdk[(method, re.sub(r"\{[^}]+\}", "{}", path))] == str(model), (method, path)


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


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[list[Answer], Driver, Driver]]:
    clock, answers = ManualClock(), []
    demo, trusting = scenarios.load("demo", clock=clock), scenarios.load("trust", clock=clock)
    runners = [await serve(demo, answers), await serve(trusting, answers)]
    try:
        async with aiohttp.ClientSession() as session:
            yield answers, Driver(session, demo, runners[0][1]), Driver(session, trusting, runners[1][1])
    finally:
        for runner, _ in runners:
            await runner.cleanup()


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


TOKEN_FIELDS = {"access_token": str, "token_type": str, "expires_in": int, "refresh_token": str}


def answer_problems(answer: Answer) -> list[str]:
    key = (answer.method, answer.route)
    if key not in ROUTES:
        return [f"{key}: answered {answer.status} but is not a route of the table"]
    model, where = ROUTES[key], f"{answer.method} {answer.route} {answer.status}"
    if model in (TOKEN, REDIRECT):
        if answer.status == 302 or not answer.text:
            return [] if model == REDIRECT and answer.status == 302 else [f"{where}: no body"]
        body = json.loads(answer.text)
        expected = (
            TOKEN_FIELDS if answer.status == 200 else dict.fromkeys(("error", "description", "error_description"), str)
        )
        wrong = [k for k in body if k not in expected or not isinstance(body[k], expected[k])]
        missing = [k for k in expected if k not in body and (answer.status != 200 or k != "refresh_token")]
        return [f"{where}: {k}" for k in (*wrong, *missing)]
    if answer.status >= 400:
        return [f"{where}: {p}" for p in sdkshapes.check(answer.text, "ErrorBody")]
    if model is None:
        return [] if not answer.text else [f"{where}: a body where none is declared"]
    return [f"{where}: {p}" for p in sdkshapes.check(answer.text, model)]


async def test_every_route_answers_what_the_sdk_reads_strictly(recorded: tuple[list[Answer], Driver, Driver]) -> None:
    answers, demo, trusting = recorded
    await drive_demo(demo)
    await drive_trust(trusting)
    succeeded = {(a.method, a.route) for a in answers if a.status < 400}
    refused = {(a.method, a.route) for a in answers if a.status >= 400}
    assert set(ROUTES) - succeeded == set(), "routes never driven to a success"
    assert set(ROUTES) - refused == set(), "routes never driven to a refusal"
    assert {a.status for a in answers} >= {200, 204, 302, 400, 401, 403, 404, 429}
    assert [p for a in answers for p in answer_problems(a)] == []


def test_the_strict_reading_catches_what_the_sdk_would_swallow() -> None:
    queue = {"id": "q", "name": "Q", "createdBy": {"id": "u"}}
    assert sdkshapes.problems(queue, "Queue") == ["$.createdBy: {'id': 'u'} is not a str"]
    assert sdkshapes.problems({"id": "x", "colour": "red"}, "Queue") == ["$.colour: not a field of Queue"]
    limited = {
        "message": "m",
        "code": "c",
        "status": 429,
        "limit": {"key": "k", "namespace": "platform-api", "value": 1},
    }
    assert sdkshapes.problems(limited, "ErrorBody") == [
        "$.limit.namespace: 'platform-api' is not a value the SDK's Limit knows"
    ]
    assert sdkshapes.problems({"dateCreated": "yesterday"}, "OAuthClient") == [
        "$.dateCreated: 'yesterday' is not a datetime"
    ]
    assert sdkshapes.problems({"total": True}, "QueueEntityListing") == ["$.total: True is not a int"]
