"""The SAML2 bearer grant (platform.md §1.2, platform.md §14) and the simulator's assertion rule.

Covers: Basic auth + orgName (thirdPartyOrgName) + assertion (base64 of XML naming a user by
e-mail in NameID; URL-safe and unpadded accepted) yields a user token of that user with the
client's scopes and no refresh token; the token is a user grant (users/me works, scopes are
checked); refusals: a non-SAML2-BEARER client (unauthorized_client), another org's name, an
unknown e-mail, not base64, not XML, an expired NotOnOrAfter (invalid_grant), no orgName or
assertion (invalid_request), a wrong secret (invalid_client).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import model, saml, scenarios, testing

from .conftest import Api, Reply

WORLD = """
roles: {Viewer: [messaging:integration:view]}
orgs:
  sso:
    third_party_org_name: sso-org
    users:
      alice: {name: Alice Example, email: Alice@SSO.example, roles: [Viewer]}
    clients:
      idp: {id: idp-client, secret: idp-secret, grant: SAML2-BEARER, scope: [messaging:readonly, user-basic-info]}
      robot: {id: robot-client, secret: robot-secret, roles: [Viewer]}
  other:
    third_party_org_name: other-org
"""


@pytest.fixture
async def sso(clock: ManualClock) -> AsyncIterator[Api]:
    sim = scenarios.loads(WORLD, source="inline", clock=clock)
    async with testing.running(sim, clock=clock) as served, aiohttp.ClientSession() as session:
        yield Api(session, served)


async def bearer_grant(api: Api, *, org_name: str = "sso-org", assertion: str | None = None, **auth: str) -> Reply:
    form = {
        "grant_type": saml.GRANT_TYPE,
        "orgName": org_name,
        "assertion": assertion or saml.assertion_for("alice@sso.example"),
    }
    return await api.token_request(
        form, client_id=auth.get("client_id", "idp-client"), secret=auth.get("secret", "idp-secret")
    )


async def test_an_assertion_naming_a_user_yields_that_users_token(sso: Api) -> None:
    reply = await bearer_grant(sso)
    assert reply.status == 200, reply.text
    assert set(reply.json) == {"access_token", "token_type", "expires_in"}
    token = reply.json["access_token"]
    assert (await sso.get("/api/v2/users/me", token)).json["name"] == "Alice Example"
    info = (await sso.get("/api/v2/tokens/me", token)).json
    assert info["authorizedScope"] == ["messaging:readonly", "user-basic-info"]
    assert info["OAuthClient"]["authorizedGrantType"] == "SAML2-BEARER"
    assert (await sso.get("/api/v2/conversations/messaging/integrations", token)).status == 200
    assert (await sso.get("/api/v2/webdeployments/deployments", token)).code == "app.not.authorized.for.scope"


async def test_a_url_safe_unpadded_assertion_is_accepted(sso: Api) -> None:
    raw = base64.b64decode(saml.assertion_for("alice@sso.example"))
    url_safe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert (await bearer_grant(sso, assertion=url_safe)).status == 200


@pytest.mark.parametrize(
    ("assertion", "org_name", "code"),
    [
        pytest.param(None, "other-org", "invalid_grant", id="another-orgs-name"),
        pytest.param(saml.assertion_for("bob@sso.example"), "sso-org", "invalid_grant", id="unknown-user"),
        pytest.param("%%% not base64 %%%", "sso-org", "invalid_grant", id="not-base64"),
        pytest.param(base64.b64encode(b"<unclosed").decode(), "sso-org", "invalid_grant", id="not-xml"),
        pytest.param(base64.b64encode(b"<Assertion/>").decode(), "sso-org", "invalid_grant", id="no-name-id"),
        pytest.param(
            saml.assertion_for("alice@sso.example", not_on_or_after="2020-01-01T00:00:00Z"),
            "sso-org",
            "invalid_grant",
            id="expired",
        ),
        pytest.param(None, "", "invalid_request", id="no-org-name"),
    ],
)
async def test_a_bad_assertion_or_org_name_is_refused(
    sso: Api, assertion: str | None, org_name: str, code: str
) -> None:
    reply = await bearer_grant(sso, assertion=assertion, org_name=org_name)
    assert (reply.status, reply.code) == (400, code)
    assert set(reply.json) == {"error", "description", "error_description"}


async def test_only_a_saml2_bearer_client_with_its_secret_may_use_the_grant(sso: Api) -> None:
    robot = await bearer_grant(sso, client_id="robot-client", secret="robot-secret")
    assert (robot.status, robot.code) == (400, "unauthorized_client")
    wrong = await bearer_grant(sso, secret="not-it")
    assert (wrong.status, wrong.code) == (401, "invalid_client")


def test_the_assertion_rule_reads_the_name_id_in_any_namespace() -> None:
    xml = b'<a:Assertion xmlns:a="urn:x"><a:Subject><a:NameID> carol@x.example </a:NameID></a:Subject></a:Assertion>'
    assert saml.subject(base64.b64encode(xml).decode(), now=0.0) == "carol@x.example"
    future = saml.assertion_for("carol@x.example", not_on_or_after=model.iso(100.0))
    assert saml.subject(future, now=99.0) == "carol@x.example"
