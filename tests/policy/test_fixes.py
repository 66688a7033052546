"""fixes: the fix sentence says what grantwarden will really do, and is safe for every tenant.

Covers: remediate says "will add" only without ``regrant.dry_run`` and while re-grants are not
held; a dry run says "would add" and how to apply (roles, scopes, a role already held); reissue
and off modes tell a person what to do, a dry run naming dry_run too; a held scope plan stops
promising; every sentence stays one sentence naming the org and the client; and ``diagnose``
carries ``dry_run`` through to the fix. ``invalid_client`` is explained by cause in order (the
region and its login host, the secret reference, the client's state when known), a new secret
is offered only for an unshared client (and then with "update every holder at once"), never
when another tenant uses it (the fix names them and the likely cause instead); an admin
identity lacking roles is named with both clients and the roles it lacks.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from grantwarden.policy import diagnosis, fixes, rejections
from grantwarden.policy.findings import Subject, Text
from grantwarden.policy.forbidden import Verdict
from grantwarden.policy.labels import ClientState, GrantType, Outcome, RegrantMode
from grantwarden.policy.permissions import Requirement
from grantwarden.policy.planning import Plan, Refusal, RefusalReason, RoleDivision, RolePlan, ScopePlan
from grantwarden.policy.tokens import TokenProblem

ORG = "4b70ee8c-24d8-43ad-9464-520f6b20fa1f"
CLIENT = "08a2a69c-1ed5-4719-9094-96a7d55ba07c"
MI = "messaging:integration:view"
MISSING = Verdict(Outcome.MISSING_PERMISSION, status=403, permissions=(MI,), requirement=Requirement.ALL)
SCOPE = Verdict(Outcome.MISSING_SCOPE, status=403, scopes=("webdeployments:readonly",))
ROLE = RolePlan(add=(RoleDivision("r-mv", "home"),), role_names=("Messaging Viewer",), covers=frozenset({MI}),
                division_id="home")  # fmt: skip
HELD_ROLE = Refusal(RefusalReason.ALREADY_GRANTED, "held", roles=("Messaging Viewer",), missing=(MI,))
ADD_SCOPE = ScopePlan(add=("webdeployments:readonly",))
APPLY = "(dry run: set regrant.dry_run to false to apply)"


def subject(mode: RegrantMode, *, dry_run: bool = False, held: bool = False, code: bool = False) -> Subject:
    grant = GrantType.AUTHORIZATION_CODE if code else GrantType.CLIENT_CREDENTIALS
    return Subject("acme-eu", ORG, CLIENT, grant, mode, "gw.yaml", regrant_held=held, dry_run=dry_run)


def fix_for(s: Subject, plan: Plan) -> Text:
    if isinstance(plan, ScopePlan):
        return fixes.scope_text(s, SCOPE, plan)
    return fixes.missing_text(s, MISSING, plan)


REMEDIATE, REISSUE, OFF = RegrantMode.REMEDIATE, RegrantMode.REISSUE, RegrantMode.OFF
ROWS = [
    pytest.param(subject(REMEDIATE), ROLE, "grantwarden will add the allow-listed role", True, id="remediate-role"),
    pytest.param(
        subject(REMEDIATE, dry_run=True),
        ROLE,
        f"grantwarden would add the allow-listed role 'Messaging Viewer' to OAuth client {CLIENT} in org {ORG} "
        f"(division home) {APPLY}.",
        True,
        id="dry-run-role",
    ),
    pytest.param(
        subject(REISSUE, dry_run=True),
        ROLE,
        "or set regrant.mode to remediate and regrant.dry_run to false so grantwarden does it.",
        False,
        id="dry-run-reissue-role",
    ),
    pytest.param(subject(REISSUE), ROLE, "or set regrant.mode to remediate so grantwarden", False, id="reissue-role"),
    pytest.param(subject(REMEDIATE, dry_run=True, held=True), ROLE, "grantwarden stopped retrying", False, id="held"),
    pytest.param(subject(REMEDIATE), HELD_ROLE, "grantwarden will mint a new token", True, id="remediate-held-role"),
    pytest.param(
        subject(REMEDIATE, dry_run=True),
        HELD_ROLE,
        f"the next scheduled token refresh picks it up; grantwarden would mint one sooner {APPLY}.",
        True,
        id="dry-run-held-role",
    ),
    pytest.param(subject(OFF, dry_run=True), HELD_ROLE, "set regrant.mode to reissue", False, id="off-held-role"),
    pytest.param(
        subject(REMEDIATE, code=True), ADD_SCOPE, "grantwarden will add the allow-listed scope", False, id="scope"
    ),
    pytest.param(
        subject(REMEDIATE, dry_run=True, code=True),
        ADD_SCOPE,
        f"grantwarden would add the allow-listed scope webdeployments:readonly to OAuth client {CLIENT} in org {ORG} "
        f"{APPLY}; then approve it",
        False,
        id="dry-run-scope",
    ),
    pytest.param(
        subject(REMEDIATE, held=True, code=True),
        ADD_SCOPE,
        "Add scope webdeployments:readonly to",
        False,
        id="held-scope",
    ),
]


@pytest.mark.parametrize(("s", "plan", "expected", "fixable"), ROWS)
def test_the_fix_says_what_grantwarden_really_does(s: Subject, plan: Plan, expected: str, fixable: bool) -> None:
    text = fix_for(s, plan)
    assert expected in text.fix, text.fix
    assert text.fixable is fixable
    if s.dry_run or s.regrant_held or s.mode is not RegrantMode.REMEDIATE:
        assert "grantwarden will" not in text.fix, "only an applied re-grant is promised"


@pytest.mark.parametrize(("s", "plan", "expected", "fixable"), ROWS)
def test_every_fix_is_one_sentence_naming_org_and_client(s: Subject, plan: Plan, expected: str, fixable: bool) -> None:
    fix = fix_for(s, plan).fix
    assert ORG in fix
    assert CLIENT in fix
    assert fix.endswith(".")
    assert not re.search(r"\.\s+[A-Z]", fix), f"more than one sentence: {fix}"


def test_diagnose_passes_dry_run_to_the_fix() -> None:
    result = diagnosis.diagnose(
        tenant="acme-eu",
        org_id=ORG,
        client_id=CLIENT,
        grant_type=GrantType.CLIENT_CREDENTIALS,
        mode=RegrantMode.REMEDIATE,
        identity_org_id=ORG,
        token_problem=None,
        verdicts={"messaging-integrations": MISSING},
        plans={"messaging-integrations": ROLE},
        dry_run=True,
    )
    (finding,) = result.findings
    assert finding.fix.startswith("grantwarden would add the allow-listed role 'Messaging Viewer'")
    assert finding.fix.endswith(f"{APPLY}.")


LOGIN = "https://login.mypurecloud.ie"
REGION = (
    f"Check the region first: OAuth client {CLIENT} is only known to its own region's login host, and tenant "
    f"acme-eu asks {LOGIN} (region eu-west-1), which must be org {ORG}'s region"
)
SECRET = (
    "check that the secret reference credentials.client_secret of tenant acme-eu in gw.yaml names the current "
    f"secret of OAuth client {CLIENT}, not one copied from another client or one replaced since"
)
NEW_SECRET = (
    f"only if that secret is lost, re-create it in Admin > OAuth of org {ORG} and update every holder of it at once "
    f"(no other tenant here uses OAuth client {CLIENT})"
)
SHARED = f"leave its secret alone: tenant acme-us also uses OAuth client {CLIENT}, and a new secret would break them"
OTHER_ORG = (
    "the likely cause is that tenant acme-eu is configured with another org's client, "
    f"so give it org {ORG}'s own OAuth client"
)
DISABLED = (
    f"OAuth client {CLIENT} in org {ORG} is disabled: access tokens created by the client are invalid and new ones "
    "cannot be created; re-activating it is a person's decision in Admin > OAuth"
)
INACTIVE = (
    f"OAuth client {CLIENT} in org {ORG} is inactive: it creates no tokens and is scheduled for deletion; "
    "restore it in Admin > OAuth while it is still listed, or create a new client and give it to tenant acme-eu"
)
DELETED = f"OAuth client {CLIENT} in org {ORG} has been deleted: create a new client in Admin > OAuth"
NOT_FOUND = (
    f"Org {ORG} has no OAuth client {CLIENT} (its admin identity was answered client.not.found): the client was "
    f"deleted or belongs to another org, so give tenant acme-eu org {ORG}'s own OAuth client"
)
REGENERATING = ("re-create", "regenerat", "new secret in", "rotate")  # advice to replace the secret


def rejected(
    state: ClientState | None = None,
    shared: tuple[str, ...] = (),
    login_url: str = LOGIN,
    region: str | None = "eu-west-1",
) -> tuple[str, str]:
    s = dataclasses.replace(
        subject(REMEDIATE), client_state=state, shared_with=shared, login_url=login_url, region=region
    )
    finding = rejections.invalid_client_finding(s)
    assert (finding.outcome, finding.fixable, finding.command, finding.probe) == (
        Outcome.UNAUTHORIZED, False, None, "token"
    )  # fmt: skip
    return finding.summary, finding.fix


INVALID_CLIENT_ROWS = [
    pytest.param(None, (), {}, [REGION, SECRET, NEW_SECRET], [SHARED], id="unknown-state-region-secret-then-new"),
    pytest.param(
        None,
        (),
        {"region": None, "login_url": "http://127.0.0.1:8080"},
        ["and tenant acme-eu asks http://127.0.0.1:8080 (its login_base_url)", SECRET, NEW_SECRET],
        ["(region"],
        id="unknown-state-own-login-host",
    ),
    pytest.param(None, ("acme-us",), {}, [REGION, SECRET, SHARED, OTHER_ORG], REGENERATING, id="shared-with-one"),
    pytest.param(
        None,
        ("acme-ca", "acme-us"),
        {},
        [REGION, SECRET, f"leave its secret alone: tenants acme-ca, acme-us also use OAuth client {CLIENT}", OTHER_ORG],
        REGENERATING,
        id="shared-with-two",
    ),
    pytest.param(
        ClientState.ACTIVE, (), {}, [SECRET[:1].upper() + SECRET[1:], NEW_SECRET], ["region"], id="active-secret-first"
    ),
    pytest.param(
        ClientState.ACTIVE, ("acme-us",), {}, [SECRET[1:], SHARED], [*REGENERATING, "another org"], id="active-shared"
    ),
    pytest.param(
        ClientState.DISABLED,
        (),
        {},
        [DISABLED, "else give tenant acme-eu another active client of org"],
        [*REGENERATING, "region", "secret reference"],
        id="disabled",
    ),
    pytest.param(ClientState.DISABLED, ("acme-us",), {}, [DISABLED, SHARED], REGENERATING, id="disabled-shared"),
    pytest.param(ClientState.INACTIVE, (), {}, [INACTIVE], [*REGENERATING, "region"], id="inactive"),
    pytest.param(ClientState.DELETED, (), {}, [DELETED], [*REGENERATING, "region"], id="deleted"),
    pytest.param(ClientState.NOT_FOUND, (), {}, [NOT_FOUND], [*REGENERATING, "region"], id="not-found"),
    pytest.param(
        ClientState.NOT_FOUND,
        ("acme-us",),
        {},
        [NOT_FOUND, SHARED],
        [*REGENERATING, "likely cause"],
        id="not-found-shared",
    ),
]


@pytest.mark.parametrize(("state", "shared", "hosts", "in_order", "never"), INVALID_CLIENT_ROWS)
def test_invalid_client_fix_gives_the_causes_in_order_and_only_safe_advice(
    state: ClientState | None, shared: tuple[str, ...], hosts: dict[str, Any], in_order: list[str], never: list[str]
) -> None:
    _, fix = rejected(state, shared, **hosts)
    positions = [fix.find(part) for part in in_order]
    assert -1 not in positions, fix
    assert positions == sorted(positions), f"causes out of order: {fix}"
    for word in never:
        assert word not in fix.lower(), fix
    assert fix.endswith(".")
    assert not re.search(r"\.\s+[A-Z]", fix), f"more than one sentence: {fix}"


@pytest.mark.parametrize("state", [None, *ClientState], ids=lambda state: str(state or "unknown"))
def test_a_shared_client_never_gets_secret_regeneration_advice(state: ClientState | None) -> None:
    _, fix = rejected(state, ("acme-us", "acme-ca"))
    assert not any(word in fix.lower() for word in REGENERATING), fix
    assert "tenants acme-us, acme-ca also use" in fix or "tenants acme-ca, acme-us also use" in fix


@pytest.mark.parametrize(
    ("state", "note"),
    [
        pytest.param(None, "", id="unknown"),
        pytest.param(ClientState.ACTIVE, "", id="active"),
        pytest.param(ClientState.DISABLED, "; the client is disabled", id="disabled"),
        pytest.param(ClientState.INACTIVE, "; the client is inactive", id="inactive"),
        pytest.param(ClientState.DELETED, "; the client has been deleted", id="deleted"),
        pytest.param(ClientState.NOT_FOUND, "; the org has no such client", id="not-found"),
    ],
)
def test_invalid_client_summary_names_the_state_when_known(state: ClientState | None, note: str) -> None:
    summary, _ = rejected(state)
    assert summary == (
        f"Tenant acme-eu: the token endpoint rejects OAuth client {CLIENT} in org {ORG} as invalid_client{note}."
    )


def test_diagnose_passes_the_client_facts_and_drops_the_tenant_itself_from_the_sharers() -> None:
    result = diagnosis.diagnose(
        tenant="acme-eu",
        org_id=ORG,
        client_id=CLIENT,
        grant_type=GrantType.CLIENT_CREDENTIALS,
        mode=RegrantMode.REMEDIATE,
        identity_org_id=None,
        token_problem=TokenProblem.INVALID_CLIENT,
        verdicts={},
        plans={},
        config_path="gw.yaml",
        login_url=LOGIN,
        region="eu-west-1",
        shared_with=["acme-us", "acme-eu", "acme-us"],
    )
    (finding,) = result.findings
    assert finding.fix.startswith(REGION)
    assert SHARED in finding.fix
    assert "re-create" not in finding.fix


ADMIN = "a1d2m3i4-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        pytest.param(
            ("Messaging Viewer",),
            f"Give grantwarden's admin identity (OAuth client {ADMIN}) in org {ORG} the role 'Messaging Viewer': "
            f"it may edit OAuth client {CLIENT} only while it holds every role that client holds or is given "
            "(else 400 bad.client.role).",
            id="one-role",
        ),
        pytest.param(
            ("Messaging Viewer", "Queue Viewer"),
            f"Give grantwarden's admin identity (OAuth client {ADMIN}) in org {ORG} the roles 'Messaging Viewer', "
            f"'Queue Viewer': it may edit OAuth client {CLIENT} only while",
            id="two-roles",
        ),
        pytest.param(
            (),
            f"Give grantwarden's admin identity (OAuth client {ADMIN}) in org {ORG} every role that OAuth client "
            f"{CLIENT} holds or is given: the platform refused the edit with 400 bad.client.role",
            id="platform-refusal-naming-no-role",
        ),
    ],
)
def test_an_admin_lacking_roles_is_told_which_and_both_clients_are_named(roles: tuple[str, ...], expected: str) -> None:
    s = dataclasses.replace(subject(REMEDIATE), admin_client_id=ADMIN)
    refusal = Refusal(RefusalReason.ADMIN_LACKS_ROLE, "detail", roles=roles, missing=(MI,))
    text = fixes.missing_text(s, MISSING, refusal)
    assert expected in text.fix, text.fix
    assert text.fixable is False
    assert not re.search(r"\.\s+[A-Z]", text.fix), f"more than one sentence: {text.fix}"


def test_without_a_known_admin_client_the_fix_still_names_the_edited_client() -> None:
    refusal = Refusal(RefusalReason.ADMIN_LACKS_ROLE, "detail", roles=("Messaging Viewer",), missing=(MI,))
    fix = fixes.missing_text(subject(REMEDIATE), MISSING, refusal).fix
    assert fix.startswith(f"Give grantwarden's admin identity in org {ORG} the role 'Messaging Viewer': ")
    assert f"it may edit OAuth client {CLIENT} only while" in fix


@pytest.mark.parametrize(
    ("address", "named"),
    [
        pytest.param("203.0.113.9", "add 203.0.113.9 to the org's IP address allowlist", id="named"),
        pytest.param(None, "add grantwarden's egress address (the message did not name it)", id="unnamed"),
    ],
)
def test_an_ip_refusal_names_the_address_and_the_org_setting(address: str | None, named: str) -> None:
    fix = rejections.ip_fix(subject(REMEDIATE), address)
    assert named in fix
    assert "Admin > Organization settings > IP address allowlist" in fix
    assert "PATCH /api/v2/organizations/authentication/settings ipAddressAllowlist" in fix
    assert "does not mint a new token" in fix


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(None, None, id="unknown"),
        pytest.param(ClientState.ACTIVE, None, id="active"),
        pytest.param(ClientState.DISABLED, "is disabled", id="disabled"),
        pytest.param(ClientState.INACTIVE, "is inactive", id="inactive"),
        pytest.param(ClientState.DELETED, "has been deleted", id="deleted"),
        pytest.param(ClientState.NOT_FOUND, "client.not.found", id="not-found"),
    ],
)
def test_a_known_client_state_is_the_fix_of_a_refused_token(state: ClientState | None, expected: str | None) -> None:
    s = dataclasses.replace(subject(REMEDIATE), client_state=state)
    fix = rejections.state_fix(s)
    assert (fix is None) is (expected is None)
    if expected is not None:
        assert fix is not None
        assert expected in fix
        assert fix[0].isupper()
