"""inquiry: the facts a finding needs, asked only when an outcome raises the question.

Covers, against the in-memory tenant API: a healthy tenant asks nothing; a rejected client
(``invalid_client``, or a fresh token refused with 401) is looked up with the admin identity once
a cycle and read as its state, ``not_found`` for a 404 ``client.not.found``, nothing for a trust
tenant (the client is another org's) or without an admin identity; a trust member lacking a
trustor role is read once per set of missing permissions (who signed in, its trustor roles, the
role that would cover), and a 404 lists the trust's groups, a 403 names the permission that
would allow it; a probe that passed and now fails for a permission asks the audit trail once,
keeps the story until the probe passes, and says which permission would allow it when refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings
from grantwarden.policy import labels
from grantwarden.policy import tokens as token_policy
from grantwarden.policy.forbidden import Verdict
from grantwarden.remote import errors, models
from grantwarden.worker import inquiry, probing
from grantwarden.worker import status as health
from tests.worker import fakes

Outcome = labels.Outcome
TRUSTEE = "org-partner"
USER = {"id": "u-1", "name": "Pat Partner"}


def tenant_settings(*, trust: bool = False, admin: bool = True) -> settings.Tenant:
    credentials: dict[str, Any] = {"client_id": fakes.CLIENT, "client_secret": "s"}
    if trust:
        credentials |= {"grant": "authorization_code", "redirect_uri": "http://127.0.0.1:1/cb"}
        credentials["trust"] = {"home_org_id": TRUSTEE}
    return settings.Tenant.model_validate(
        {
            "name": "acme",
            "org_id": fakes.ORG,
            "region": "us-east-1",
            "blueprint": "b",
            "credentials": credentials,
            "admin_credentials": {"client_id": fakes.ADMIN_CLIENT, "client_secret": "s"} if admin else None,
            "probe_interval": 60,
            "probe_timeout": 10,
            "probe_concurrency": 4,
            "refresh": {},
            "regrant": {},
        }
    )


class Org:
    def __init__(self, *, trust: bool = False, admin: bool = True) -> None:
        self.clock = clock_mod.ManualClock(start=1_800_000_000.0)
        self.api = fakes.FakeApi(self.clock)
        self.admin = fakes.FakeApi(self.clock, client_id=fakes.ADMIN_CLIENT)
        self.status = health.TenantStatus("acme", fakes.ORG, fakes.CLIENT, labels.GrantType.CLIENT_CREDENTIALS)
        self.inquirer = inquiry.Inquirer(
            tenant=tenant_settings(trust=trust, admin=admin),
            allow_roles=["Messaging Viewer"],
            api=self.api,  # type: ignore[arg-type]  # the in-memory tenant API
            admin=self.admin if admin else None,  # type: ignore[arg-type]
            status=self.status,
            clock=self.clock,
        )

    def passed_before(self, *names: str) -> None:
        for name in names:
            self.status.probes[name] = health.ProbeRecord(name, Outcome.OK, 200, None, None, 0.1, self.clock.now())


def seen(token_problem: token_policy.TokenProblem | None = None, **verdicts: Verdict) -> probing.Pass:
    return probing.Pass(verdicts=dict(verdicts), token_problem=token_problem)


OK = Verdict(Outcome.OK, status=200)
LACKS = Verdict(Outcome.MISSING_PERMISSION, status=403, permissions=("messaging:integration:view",))
TRUSTOR = Verdict(Outcome.MISSING_TRUSTOR_PERMISSION, status=403, permissions=("messaging:integration:view",))
BAD_CREDENTIALS = Verdict(Outcome.UNAUTHORIZED, status=401, code="bad.credentials")
NOT_FOUND = errors.NotFound(fakes.reply(404, {"code": "client.not.found", "message": "Client was not found."}))
FORBIDDEN = errors.Forbidden(fakes.reply(403, {"code": "missing.permissions", "message": "Missing [a:b:c]"}))


async def test_a_healthy_tenant_asks_nothing() -> None:
    org = Org(trust=True)
    assert await org.inquirer.look(seen(token=OK, probe=OK)) is inquiry.NOTHING
    assert org.api.calls == org.admin.calls == []


@pytest.mark.parametrize(
    ("observed", "answer", "state"),
    [
        pytest.param(seen(token_policy.TokenProblem.INVALID_CLIENT), None, labels.ClientState.ACTIVE, id="active"),
        pytest.param(
            seen(token_policy.TokenProblem.INVALID_CLIENT), "disabled", labels.ClientState.DISABLED, id="disabled"
        ),
        pytest.param(seen(token=BAD_CREDENTIALS), "inactive", labels.ClientState.INACTIVE, id="bad-credentials"),
        pytest.param(seen(token=BAD_CREDENTIALS), "deleted", labels.ClientState.DELETED, id="deleted"),
        pytest.param(seen(token=BAD_CREDENTIALS), "outdated_sdk_version", None, id="a-state-outside-the-enum"),
        pytest.param(seen(token=BAD_CREDENTIALS), NOT_FOUND, labels.ClientState.NOT_FOUND, id="client-not-found"),
        pytest.param(seen(token=BAD_CREDENTIALS), fakes.server_error(), None, id="unreadable"),
        pytest.param(seen(token=OK, probe=LACKS), None, None, id="no-lookup-for-a-403"),
    ],
)
async def test_a_rejected_client_is_looked_up_once_and_read_as_its_state(
    observed: probing.Pass, answer: str | Exception | None, state: labels.ClientState | None
) -> None:
    org = Org()
    if isinstance(answer, Exception):
        org.admin.then("get_oauth_client", answer)
    elif answer is not None:
        org.admin.clients[fakes.CLIENT]["state"] = answer
    evidence = await org.inquirer.look(observed)
    assert evidence.client_state is state
    rejected = observed.token_problem is not None or observed.verdicts.get("token") == BAD_CREDENTIALS
    assert len(org.admin.called("get_oauth_client")) == (1 if rejected else 0)
    assert org.inquirer.evidence is evidence, "kept for the diagnosis after an attempt"


@pytest.mark.parametrize(("trust", "admin"), [(True, True), (False, False)], ids=["trust-tenant", "no-admin"])
async def test_no_client_lookup_through_a_trust_or_without_an_admin(trust: bool, admin: bool) -> None:
    org = Org(trust=trust, admin=admin)
    evidence = await org.inquirer.look(seen(token_policy.TokenProblem.INVALID_CLIENT))
    assert evidence.client_state is None
    assert org.admin.calls == []


def _authorization(roles: list[dict[str, str]]) -> models.UserAuthorization:
    return models.UserAuthorization.model_validate({"roles": roles})


class TrustApi(fakes.FakeApi):
    """The fake API with the trust reads (scripted per test)."""

    async def users_me(self) -> models.NamedEntity:
        self.calls.append(("users_me",))
        return self._scripted("users_me", lambda: models.NamedEntity.model_validate(USER))

    async def trustee_user_roles(self, trustee: str, user: str) -> models.UserAuthorization:
        self.calls.append(("trustee_user_roles", trustee, user))
        return self._scripted("trustee_user_roles", lambda: _authorization([]))

    async def trustee_groups(self, trustee: str) -> list[str]:
        self.calls.append(("trustee_groups", trustee))
        return self._scripted("trustee_groups", lambda: ["Partner support"])

    async def audit_query(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        self.calls.append(("audit_query", body))
        return self._scripted("audit_query", list)


def trust_org(*, admin: bool = True) -> Org:
    org = Org(trust=True, admin=admin)
    org.api, org.admin = TrustApi(org.clock), TrustApi(org.clock, client_id=fakes.ADMIN_CLIENT)
    org.inquirer = inquiry.Inquirer(
        tenant=tenant_settings(trust=True, admin=admin),
        allow_roles=["Messaging Viewer"],
        api=org.api,  # type: ignore[arg-type]
        admin=org.admin if admin else None,  # type: ignore[arg-type]
        status=org.status,
        clock=org.clock,
    )
    return org


async def test_a_trust_member_is_read_once_per_set_of_missing_permissions() -> None:
    org = trust_org()
    org.admin.then("trustee_user_roles", _authorization([{"id": "r-wdv", "name": "Web Deployments Viewer"}]))
    first = await org.inquirer.look(seen(token=OK, probe=TRUSTOR))
    again = await org.inquirer.look(seen(token=OK, probe=TRUSTOR))
    member = first.member
    assert member is not None
    assert (member.trustor_org_id, member.trustee_org_id, member.user_id, member.user_name) == (
        fakes.ORG,
        TRUSTEE,
        "u-1",
        "Pat Partner",
    )
    assert (member.roles, member.covering, member.unread) == (("Web Deployments Viewer",), ("Messaging Viewer",), None)
    assert again.member is member
    assert org.admin.called("trustee_user_roles") == [("trustee_user_roles", TRUSTEE, "u-1")]
    assert len(org.api.called("users_me")) == 1


@pytest.mark.parametrize(
    ("roles_answer", "groups_answer", "expect"),
    [
        pytest.param(NOT_FOUND, None, {"groups": ("Partner support",), "unread": None}, id="not-a-member-by-name"),
        pytest.param(
            NOT_FOUND, FORBIDDEN, {"groups": (), "unread": "authorization:orgTrusteeGroup:view"}, id="groups-refused"
        ),
        pytest.param(FORBIDDEN, None, {"groups": (), "unread": "authorization:orgTrusteeUser:view"}, id="refused"),
    ],
)
async def test_a_trust_member_that_cannot_be_read_by_name_says_why(
    roles_answer: Exception, groups_answer: Exception | None, expect: dict[str, Any]
) -> None:
    org = trust_org()
    org.admin.then("trustee_user_roles", roles_answer)
    if groups_answer is not None:
        org.admin.then("trustee_groups", groups_answer)
    member = (await org.inquirer.look(seen(token=OK, probe=TRUSTOR))).member
    assert member is not None
    assert member.roles is None
    assert member.groups == expect["groups"]
    if expect["unread"] is None:
        assert member.unread is None
    else:
        assert member.unread is not None
        assert f"{expect['unread']} would allow it" in member.unread
        assert f"OAuth client {fakes.ADMIN_CLIENT}" in member.unread
    assert member.covering == ("Messaging Viewer",), "the org's roles still name the role to give"


async def test_without_an_admin_identity_the_member_says_which_permission_would_read_it() -> None:
    org = trust_org(admin=False)
    member = (await org.inquirer.look(seen(token=OK, probe=TRUSTOR))).member
    assert member is not None
    assert member.user_id == "u-1"
    assert member.unread is not None
    assert "no admin_credentials" in member.unread
    assert "authorization:orgTrusteeUser:view" in member.unread


def audit_entry(**extra: Any) -> dict[str, Any]:
    return {
        "action": "Update",
        "entityType": "OAuthClient",
        "entity": {"id": fakes.CLIENT, "name": "the integration"},
        "eventDate": "2027-01-15T08:01:01.000Z",
        "user": {"id": "u-9", "name": "Avery Agent"},
        "client": {"id": ""},
        "remoteIp": ["198.51.100.7"],
        "userHomeOrgId": fakes.ORG,
        "propertyChanges": [
            {"property": "roleDivisions", "oldValues": ["r-mv:home-div", "r-x:home-div"], "newValues": ["r-x:home-div"]}
        ],
        **extra,
    }


async def test_a_regression_asks_the_audit_trail_once_and_keeps_the_story_until_the_probe_passes() -> None:
    org = trust_org()
    org.inquirer = inquiry.Inquirer(
        tenant=tenant_settings(),
        allow_roles=[],
        api=org.api,  # type: ignore[arg-type]
        admin=org.admin,  # type: ignore[arg-type]
        status=org.status,
        clock=org.clock,
    )
    org.passed_before("probe")
    org.admin.then("audit_query", [audit_entry()])
    with capture_logs() as logs:
        first = await org.inquirer.look(seen(token=OK, probe=LACKS))
    org.status.probes["probe"] = health.ProbeRecord("probe", Outcome.MISSING_PERMISSION, 403, None, None, 0.1, 0.0)
    second = await org.inquirer.look(seen(token=OK, probe=LACKS))
    story = first.changes["probe"]
    assert "OAuthClient client-1 (the integration) updated at 2027-01-15T08:01:01.000Z" in story
    assert "by user Avery Agent (u-9) from 198.51.100.7" in story
    assert "roleDivisions removed 'Messaging Viewer' in division home-div" in story
    assert second.changes == first.changes, "kept while the probe fails"
    (query,) = org.admin.called("audit_query")
    filters = query[1]["filters"]
    assert filters == [
        {"property": "EntityType", "value": "OAuthClient"},
        {"property": "EntityId", "value": fakes.CLIENT},
    ]
    assert [e["event"] for e in logs if e["event"].startswith("audit_")] == ["audit_change_found"]
    org.status.probes["probe"] = health.ProbeRecord("probe", Outcome.OK, 200, None, None, 0.1, 0.0)
    assert (await org.inquirer.look(seen(token=OK, probe=OK))).changes == {}


async def test_a_trust_regression_asks_about_the_trust_and_a_refusal_names_the_permission() -> None:
    org = trust_org()
    org.passed_before("probe")
    org.admin.then("trustee_user_roles", _authorization([]))
    org.admin.then("audit_query", FORBIDDEN)
    with capture_logs() as logs:
        evidence = await org.inquirer.look(seen(token=OK, probe=TRUSTOR))
    (query,) = org.admin.called("audit_query")
    assert query[1]["filters"][0] == {"property": "EntityType", "value": "OrganizationAuthorizationTrust"}
    assert query[1]["filters"][1] == {"property": "EntityId", "value": TRUSTEE}
    story = evidence.changes["probe"]
    assert story.startswith("the audit trail could not be read")
    assert "audits:audit:view (scope audits:readonly) would allow it" in story
    assert [e["event"] for e in logs if e["event"].startswith("audit_")] == ["audit_query_refused"]
