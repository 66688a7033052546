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

import glob
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import PureCloudPlatformClientV2
import pytest

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import app, scenarios

from . import sdkshapes
from .routedrive import OA, Answer, Driver, drive_demo, drive_trust, serve

pytestmark = pytest.mark.e2e

TOKEN, REDIRECT = "login: token answer", "login: redirect"
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
