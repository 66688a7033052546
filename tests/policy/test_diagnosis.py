"""diagnosis: each tenant state, and each finding with a fix a person can act on.

Covers: healthy, degraded (a planned re-grant, a re-mint for a role already held), remediating,
needs_attention (every refusal reason, unlicensed, policy, forbidden, grant type, 401s, wrong
org, missing scope awaiting re-consent, token failures), unreachable (only transport trouble),
rate-limited-alone keeping the previous state, wrong org overshadowing everything; an org trust
(a member lacking a trustor role, with and without what the admin identity read; the identity pair
a trust tenant accepts and each one it does not; the trustee's client's scopes); a Terraform-managed
client; a role that keeps disappearing; a known client state behind a refused token; the audit
trail's change carried by the findings it explains; and that every summary and fix is one
sentence naming the org and the client.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from grantwarden.policy import diagnosis, trust
from grantwarden.policy.diagnosis import Diagnosis
from grantwarden.policy.forbidden import Verdict
from grantwarden.policy.labels import ClientState, GrantType, ManagedBy, Outcome, RegrantMode, State
from grantwarden.policy.permissions import Requirement
from grantwarden.policy.planning import Refusal, RefusalReason, RoleDivision, RolePlan, ScopePlan
from grantwarden.policy.tokens import TokenProblem

ORG = "4b70ee8c-24d8-43ad-9464-520f6b20fa1f"
TRUSTEE = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
OTHER_ORG = "2a3a43e5-e89c-406e-badf-e79288bd4ab0"
CLIENT = "08a2a69c-1ed5-4719-9094-96a7d55ba07c"
HOME = "home-div"
MI = "messaging:integration:view"
WHO = f"OAuth client {CLIENT} in org {ORG}"
AUTHORIZE = "grantwarden authorize --config FILE --tenant acme-eu"

OK = Verdict(Outcome.OK, status=200)
MISSING = Verdict(
    Outcome.MISSING_PERMISSION, status=403, code="missing.permissions", permissions=(MI,), requirement=Requirement.ALL
)
MISSING_ANY = Verdict(
    Outcome.MISSING_PERMISSION,
    status=403,
    code="missing.any.permissions",
    permissions=("routing:queue:view", "routing:queue:edit"),
    requirement=Requirement.ANY,
)
DIVISION = Verdict(
    Outcome.MISSING_DIVISION_PERMISSION, status=403, permissions=(MI,), divisions=("d-1",), requirement=Requirement.ALL
)
SCOPE = Verdict(
    Outcome.MISSING_SCOPE,
    status=403,
    code="app.not.authorized.for.scope",
    scopes=("webdeployments", "webdeployments:readonly"),
)
PLAN = RolePlan(
    add=(RoleDivision("r-mv", HOME),), role_names=("Messaging Viewer",), covers=frozenset({MI}), division_id=HOME
)
TWO_ROLES = RolePlan(
    add=(RoleDivision("r-mv", HOME), RoleDivision("r-wd", HOME)),
    role_names=("Messaging Viewer", "Web Deployments Viewer"),
    covers=frozenset({MI}),
    division_id=HOME,
)


def refusal(reason: RefusalReason, roles: tuple[str, ...] = (), missing: tuple[str, ...] = (MI,)) -> Refusal:
    return Refusal(reason, "detail", roles=roles, missing=missing)


def verdict(outcome: Outcome, **fields: Any) -> Verdict:
    return Verdict(outcome, **fields)


def run(**overrides: Any) -> Diagnosis:
    kwargs: dict[str, Any] = {
        "tenant": "acme-eu",
        "org_id": ORG,
        "client_id": CLIENT,
        "grant_type": GrantType.CLIENT_CREDENTIALS,
        "mode": RegrantMode.REMEDIATE,
        "identity_org_id": ORG,
        "token_problem": None,
        "verdicts": {"organization": OK},
        "plans": {},
    }
    kwargs.update(overrides)
    return diagnosis.diagnose(**kwargs)


def probe(v: Verdict, plan: Any = None, **more: Any) -> dict[str, Any]:
    return {
        "verdicts": {"organization": OK, "messaging-integrations": v},
        "plans": {"messaging-integrations": plan} if plan else {},
        **more,
    }


TRUSTOR = Verdict(
    Outcome.MISSING_TRUSTOR_PERMISSION,
    status=403,
    code="missing.permissions",
    permissions=(MI,),
    requirement=Requirement.ALL,
)
MEMBER = trust.Member(
    ORG, TRUSTEE, "u-1", "Pat Partner", roles=("Web Deployments Viewer",), covering=("Messaging Viewer",)
)
THROUGH_TRUST = {"grant_type": GrantType.AUTHORIZATION_CODE, "home_org_id": TRUSTEE, "identity_home_org_id": TRUSTEE}
TERRAFORM_FIX = (
    'add roles { role_id = data.genesyscloud_auth_role.messaging_viewer.id, division_id = "home-div" } to its '
    'genesyscloud_oauth_client resource, with data "genesyscloud_auth_role" "messaging_viewer" '
    '{ name = "Messaging Viewer" }, then terraform apply'
)
TERRAFORM_COMMAND = "grantwarden plan --config FILE --tenant acme-eu --format terraform"
WRONG_ORG_TOKEN = {"token": Verdict(Outcome.WRONG_ORG, status=200)}

ROWS = [
    pytest.param({}, State.HEALTHY, [], id="healthy"),
    pytest.param(THROUGH_TRUST, State.HEALTHY, [], id="trust-tenant-healthy"),
    pytest.param(
        probe(TRUSTOR, refusal(RefusalReason.TRUSTOR_ROLE), member=MEMBER, **THROUGH_TRUST),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_TRUSTOR_PERMISSION, False, "give user Pat Partner (u-1) of org", None)],
        id="trust-member-lacks-a-named-role",
    ),
    pytest.param(
        probe(TRUSTOR, refusal(RefusalReason.TRUSTOR_ROLE), **THROUGH_TRUST),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_TRUSTOR_PERMISSION, False, f"a trustor role granting {MI} in the trust", None)],
        id="trust-member-unread",
    ),
    pytest.param(
        {**THROUGH_TRUST, "identity_org_id": TRUSTEE, "verdicts": WRONG_ORG_TOKEN},
        State.NEEDS_ATTENTION,
        [(Outcome.WRONG_ORG, False, f"which asks with target={ORG}", AUTHORIZE)],
        id="trust-tenant-acts-in-the-trustee-org",
    ),
    pytest.param(
        {**THROUGH_TRUST, "identity_home_org_id": OTHER_ORG, "verdicts": WRONG_ORG_TOKEN},
        State.NEEDS_ATTENTION,
        [(Outcome.WRONG_ORG, False, f"set credentials.trust.home_org_id of tenant acme-eu to {OTHER_ORG}", AUTHORIZE)],
        id="trust-tenant-user-of-another-org",
    ),
    pytest.param(
        {"grant_type": GrantType.AUTHORIZATION_CODE, "identity_home_org_id": TRUSTEE, "verdicts": WRONG_ORG_TOKEN},
        State.NEEDS_ATTENTION,
        [(Outcome.WRONG_ORG, False, f"set credentials.trust.home_org_id to {TRUSTEE}", AUTHORIZE)],
        id="trusted-users-token-without-a-trust",
    ),
    pytest.param(
        probe(SCOPE, refusal(RefusalReason.MISSING_SCOPE), **THROUGH_TRUST),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_SCOPE, False, f"Ask an admin of org {TRUSTEE}, which owns OAuth client", AUTHORIZE)],
        id="trust-tenant-scope-is-the-trustees",
    ),
    pytest.param(
        probe(MISSING, PLAN, managed_by=ManagedBy.TERRAFORM),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, TERRAFORM_FIX, TERRAFORM_COMMAND)],
        id="terraform-managed-role",
    ),
    pytest.param(
        probe(
            SCOPE,
            ScopePlan(add=("webdeployments:readonly",)),
            managed_by=ManagedBy.TERRAFORM,
            grant_type=GrantType.AUTHORIZATION_CODE,
        ),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_SCOPE, False, 'add "webdeployments:readonly" to the scopes of its', TERRAFORM_COMMAND)],
        id="terraform-managed-scope",
    ),
    pytest.param(
        probe(MISSING, refusal(RefusalReason.REMOVED_AGAIN, roles=("Messaging Viewer",))),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, "grantwarden added it and re-added it once", None)],
        id="removed-again",
    ),
    pytest.param(
        {
            "verdicts": {"token": Verdict(Outcome.UNAUTHORIZED, status=401, code="bad.credentials")},
            "client_state": ClientState.DISABLED,
        },
        State.NEEDS_ATTENTION,
        [(Outcome.UNAUTHORIZED, False, f"{WHO} is disabled", None)],
        id="bad-credentials-of-a-disabled-client",
    ),
    pytest.param({"verdicts": {}}, State.HEALTHY, [], id="no-probes-no-problems"),
    # degraded: grantwarden will fix it itself
    pytest.param(
        probe(MISSING, PLAN),
        State.DEGRADED,
        [
            (
                Outcome.MISSING_PERMISSION,
                True,
                f"grantwarden will add the allow-listed role 'Messaging Viewer' to {WHO} (division {HOME}).",
                None,
            )
        ],
        id="degraded-planned-role",
    ),
    pytest.param(
        probe(MISSING, TWO_ROLES),
        State.DEGRADED,
        [
            (
                Outcome.MISSING_PERMISSION,
                True,
                "allow-listed roles 'Messaging Viewer', 'Web Deployments Viewer' to",
                None,
            )
        ],
        id="degraded-two-roles",
    ),
    pytest.param(
        probe(DIVISION, PLAN),
        State.DEGRADED,
        [(Outcome.MISSING_DIVISION_PERMISSION, True, "grantwarden will add", None)],
        id="degraded-division",
    ),
    pytest.param(
        probe(MISSING, refusal(RefusalReason.ALREADY_GRANTED, roles=("Messaging Viewer",))),
        State.DEGRADED,
        [
            (
                Outcome.MISSING_PERMISSION,
                True,
                "already holds the role 'Messaging Viewer': grantwarden will mint a new token",
                None,
            )
        ],
        id="degraded-already-granted-re-mint",
    ),
    pytest.param(
        probe(MISSING, refusal(RefusalReason.ALREADY_GRANTED, roles=("Messaging Viewer",)), mode=RegrantMode.REISSUE),
        State.DEGRADED,
        [(Outcome.MISSING_PERMISSION, True, "grantwarden will mint a new token", None)],
        id="degraded-already-granted-reissue-mode",
    ),
    # remediating
    pytest.param(
        probe(MISSING, PLAN, regrant_in_progress=True),
        State.REMEDIATING,
        [(Outcome.MISSING_PERMISSION, True, "grantwarden will add", None)],
        id="remediating",
    ),
    pytest.param({"regrant_in_progress": True}, State.REMEDIATING, [], id="remediating-while-probes-pass"),
    # needs_attention: a person must act
    pytest.param(
        probe(MISSING, PLAN, mode=RegrantMode.OFF),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, "or set regrant.mode to remediate", None)],
        id="plan-but-mode-off",
    ),
    pytest.param(
        probe(MISSING, PLAN, mode=RegrantMode.REISSUE),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, "Add the allow-listed role 'Messaging Viewer' to", None)],
        id="plan-but-reissue-mode",
    ),
    pytest.param(
        probe(MISSING, PLAN, regrant_held=True),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, "grantwarden stopped retrying", None)],
        id="regrants-held-after-failures",
    ),
    pytest.param(
        probe(MISSING, refusal(RefusalReason.ALREADY_GRANTED, roles=("Messaging Viewer",)), mode=RegrantMode.OFF),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, "set regrant.mode to reissue so grantwarden mints a new token", None)],
        id="already-granted-mode-off",
    ),
    pytest.param(
        probe(MISSING, refusal(RefusalReason.ALREADY_GRANTED, roles=("Messaging Viewer",)), regrant_held=True),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, "still lack it", None)],
        id="already-granted-but-re-mints-stopped",
    ),
    pytest.param(
        probe(MISSING, refusal(RefusalReason.NOT_ALLOW_LISTED, roles=("Queue Viewer",))),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, "Allow-list 'Queue Viewer' in the blueprint's grants.roles", None)],
        id="refused-not-allow-listed",
    ),
    pytest.param(
        probe(DIVISION, refusal(RefusalReason.DIVISION_NOT_ALLOW_LISTED)),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_DIVISION_PERMISSION, False, "widen grants.division", None)],
        id="refused-division-not-allow-listed",
    ),
    pytest.param(
        probe(MISSING, refusal(RefusalReason.NO_ROLE_GRANTS)),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, f"Create a role granting {MI} in org {ORG}", None)],
        id="refused-no-role-grants",
    ),
    pytest.param(
        probe(MISSING, refusal(RefusalReason.UNLICENSED)),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, f"Ask Genesys to license {MI} for org {ORG}; no role can grant it", None)],
        id="refused-unlicensed",
    ),
    pytest.param(
        probe(MISSING, refusal(RefusalReason.ADMIN_LACKS_ROLE, roles=("Messaging Viewer",))),
        State.NEEDS_ATTENTION,
        [
            (
                Outcome.MISSING_PERMISSION,
                False,
                f"Give grantwarden's admin identity in org {ORG} the role 'Messaging Viewer': "
                f"it may edit OAuth client {CLIENT} only while it holds every role that client holds or is given",
                None,
            )
        ],
        id="refused-admin-lacks-role",
    ),
    pytest.param(
        probe(MISSING, refusal(RefusalReason.NO_ADMIN_CREDENTIALS, roles=("Messaging Viewer",))),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, "Add admin_credentials to tenant acme-eu", None)],
        id="refused-no-admin-credentials",
    ),
    pytest.param(
        probe(MISSING, refusal(RefusalReason.ADMIN_LACKS_ROLE, roles=("A", "B"))),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, "the roles 'A', 'B': it may edit OAuth client", None)],
        id="refused-admin-lacks-two-roles",
    ),
    pytest.param(
        probe(
            verdict(Outcome.MISSING_DIVISION_PERMISSION, status=403, divisions=("d-1",)),
            refusal(RefusalReason.NOTHING_NAMED, missing=()),
        ),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_DIVISION_PERMISSION, False, "the permission it names by hand", None)],
        id="refused-nothing-named",
    ),
    pytest.param(
        probe(MISSING, refusal(RefusalReason.USER_LACKS_PERMISSION), grant_type=GrantType.AUTHORIZATION_CODE),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, "Give the user who authorized", None)],
        id="user-lacks-permission",
    ),
    pytest.param(
        probe(MISSING_ANY),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_PERMISSION, False, "a role granting routing:queue:view, routing:queue:edit", None)],
        id="missing-without-plan",
    ),
    pytest.param(
        probe(verdict(Outcome.UNLICENSED, status=403, permissions=("journey:actionmap:view",))),
        State.NEEDS_ATTENTION,
        [
            (
                Outcome.UNLICENSED,
                False,
                f"Ask Genesys to license journey:actionmap:view for org {ORG}; no role can grant it",
                None,
            )
        ],
        id="unlicensed",
    ),
    pytest.param(
        probe(SCOPE, ScopePlan(add=("webdeployments:readonly",)), grant_type=GrantType.AUTHORIZATION_CODE),
        State.NEEDS_ATTENTION,
        [
            (
                Outcome.MISSING_SCOPE,
                False,
                f"grantwarden will add the allow-listed scope webdeployments:readonly to {WHO}; then approve",
                AUTHORIZE,
            )
        ],
        id="missing-scope-planned-awaits-re-consent",
    ),
    pytest.param(
        probe(
            SCOPE,
            ScopePlan(add=("webdeployments:readonly",)),
            grant_type=GrantType.AUTHORIZATION_CODE,
            mode=RegrantMode.OFF,
        ),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_SCOPE, False, "Add scope webdeployments:readonly to", AUTHORIZE)],
        id="missing-scope-mode-off",
    ),
    pytest.param(
        probe(SCOPE, refusal(RefusalReason.MISSING_SCOPE), grant_type=GrantType.AUTHORIZATION_CODE),
        State.NEEDS_ATTENTION,
        [
            (
                Outcome.MISSING_SCOPE,
                False,
                f"Approve the app's scopes [webdeployments, webdeployments:readonly] in org {ORG}: "
                f"Admin > Authorized Applications, then run `{AUTHORIZE}`",
                AUTHORIZE,
            )
        ],
        id="missing-scope-needs-approval",
    ),
    pytest.param(
        probe(SCOPE, refusal(RefusalReason.NOT_ALLOW_LISTED), grant_type=GrantType.AUTHORIZATION_CODE),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_SCOPE, False, "to the blueprint's grants.scopes", AUTHORIZE)],
        id="missing-scope-not-allow-listed",
    ),
    pytest.param(
        probe(SCOPE),
        State.NEEDS_ATTENTION,
        [(Outcome.MISSING_SCOPE, False, "Scopes do not apply to client-credentials clients", None)],
        id="missing-scope-on-client-credentials",
    ),
    pytest.param(
        probe(verdict(Outcome.POLICY_DENIED, status=403, code="authz.policy.denied")),
        State.NEEDS_ATTENTION,
        [(Outcome.POLICY_DENIED, False, f"Ask an admin of org {ORG} to review the security policy", None)],
        id="policy-denied",
    ),
    pytest.param(
        probe(verdict(Outcome.FORBIDDEN, status=403, code="not.authorized")),
        State.NEEDS_ATTENTION,
        [(Outcome.FORBIDDEN, False, "Look up the platform's refusal not.authorized", None)],
        id="forbidden",
    ),
    pytest.param(
        probe(verdict(Outcome.FORBIDDEN, status=403)),
        State.NEEDS_ATTENTION,
        [(Outcome.FORBIDDEN, False, "refusal HTTP 403", None)],
        id="forbidden-without-code",
    ),
    pytest.param(
        probe(verdict(Outcome.WRONG_GRANT_TYPE, status=400, code="not.a.user")),
        State.NEEDS_ATTENTION,
        [(Outcome.WRONG_GRANT_TYPE, False, "run it with a user-grant client", None)],
        id="wrong-grant-type-not-a-user",
    ),
    pytest.param(
        probe(verdict(Outcome.WRONG_GRANT_TYPE, status=400, code="not.a.client")),
        State.NEEDS_ATTENTION,
        [(Outcome.WRONG_GRANT_TYPE, False, "run it with a client-credentials client", None)],
        id="wrong-grant-type-not-a-client",
    ),
    pytest.param(
        probe(verdict(Outcome.UNAUTHORIZED, status=401, code="bad.credentials")),
        State.NEEDS_ATTENTION,
        [
            (
                Outcome.UNAUTHORIZED,
                False,
                "is active and that tenant acme-eu's api_base_url is in the org's region",
                None,
            )
        ],
        id="unauthorized-bad-credentials",
    ),
    pytest.param(
        probe(
            verdict(
                Outcome.IP_NOT_AUTHORIZED,
                status=401,
                code="ip.not.authorized",
                message="Requests originating from this IP address are not authorized: [203.0.113.9]",
            )
        ),
        State.NEEDS_ATTENTION,
        [(Outcome.IP_NOT_AUTHORIZED, False, "add 203.0.113.9 to the org's IP address allowlist", None)],
        id="ip-not-authorized",
    ),
    pytest.param(
        probe(verdict(Outcome.UNEXPECTED_STATUS, status=404, code="not.found")),
        State.NEEDS_ATTENTION,
        [(Outcome.UNEXPECTED_STATUS, False, "Check the probe's path", None)],
        id="unexpected-status",
    ),
    pytest.param(
        probe(verdict(Outcome.UNEXPECTED_STATUS)),
        State.NEEDS_ATTENTION,
        [(Outcome.UNEXPECTED_STATUS, False, "Check the probe's path", None)],
        id="unexpected-no-status",
    ),
    # wrong org
    pytest.param(
        {"identity_org_id": OTHER_ORG},
        State.NEEDS_ATTENTION,
        [
            (
                Outcome.WRONG_ORG,
                False,
                f"Use org {ORG}'s own OAuth client: these credentials (OAuth client {CLIENT}) act in org {OTHER_ORG}.",
                None,
            )
        ],
        id="wrong-org-from-identity",
    ),
    pytest.param(
        probe(MISSING, PLAN, identity_org_id=OTHER_ORG),
        State.NEEDS_ATTENTION,
        [
            (Outcome.WRONG_ORG, False, "these credentials", None),
            (Outcome.MISSING_PERMISSION, False, f"Use org {ORG}'s own OAuth client first", None),
        ],
        id="wrong-org-overshadows-a-planned-fix",
    ),
    pytest.param(
        {"identity_org_id": OTHER_ORG, "verdicts": {"token": verdict(Outcome.WRONG_ORG, status=200)}},
        State.NEEDS_ATTENTION,
        [(Outcome.WRONG_ORG, False, "these credentials", None)],
        id="wrong-org-reported-once",
    ),
    pytest.param(
        {"identity_org_id": None, "verdicts": {"token": verdict(Outcome.WRONG_ORG, status=200)}},
        State.NEEDS_ATTENTION,
        [(Outcome.WRONG_ORG, False, "act in another org", None)],
        id="wrong-org-from-probe",
    ),
    # unreachable: transport only
    pytest.param(
        probe(verdict(Outcome.SERVER_ERROR, status=502)),
        State.UNREACHABLE,
        [(Outcome.SERVER_ERROR, False, "grantwarden retries with backoff", None)],
        id="unreachable-5xx",
    ),
    pytest.param(
        probe(verdict(Outcome.TIMEOUT)),
        State.UNREACHABLE,
        [(Outcome.TIMEOUT, False, "retries", None)],
        id="unreachable-timeout",
    ),
    pytest.param(
        probe(verdict(Outcome.NETWORK_ERROR)),
        State.UNREACHABLE,
        [(Outcome.NETWORK_ERROR, False, "retries", None)],
        id="unreachable-network",
    ),
    pytest.param(
        {"verdicts": {"a": MISSING, "b": verdict(Outcome.TIMEOUT)}, "plans": {"a": PLAN}},
        State.DEGRADED,
        [(Outcome.MISSING_PERMISSION, True, "will add", None), (Outcome.TIMEOUT, False, "retries", None)],
        id="degraded-beats-unreachable",
    ),
    pytest.param(
        {"verdicts": {"a": verdict(Outcome.POLICY_DENIED), "b": verdict(Outcome.TIMEOUT)}},
        State.NEEDS_ATTENTION,
        [(Outcome.POLICY_DENIED, False, "security policy", None), (Outcome.TIMEOUT, False, "retries", None)],
        id="needs-attention-beats-unreachable",
    ),
    pytest.param(
        {"verdicts": {"a": verdict(Outcome.POLICY_DENIED)}, "regrant_in_progress": True},
        State.NEEDS_ATTENTION,
        [(Outcome.POLICY_DENIED, False, "security policy", None)],
        id="needs-attention-beats-remediating",
    ),
    # rate limited alone keeps the previous state
    pytest.param(
        probe(verdict(Outcome.RATE_LIMITED, status=429, retry_after=22.0), previous=State.HEALTHY),
        State.HEALTHY,
        [(Outcome.RATE_LIMITED, False, "waits out the Retry-After", None)],
        id="rate-limited-keeps-healthy",
    ),
    pytest.param(
        probe(verdict(Outcome.RATE_LIMITED, status=429), previous=State.NEEDS_ATTENTION),
        State.NEEDS_ATTENTION,
        [(Outcome.RATE_LIMITED, False, "Retry-After", None)],
        id="rate-limited-keeps-needs-attention",
    ),
    pytest.param(
        probe(verdict(Outcome.RATE_LIMITED, status=429)),
        State.STARTING,
        [(Outcome.RATE_LIMITED, False, "Retry-After", None)],
        id="rate-limited-keeps-starting",
    ),
    pytest.param(
        probe(verdict(Outcome.RATE_LIMITED, status=429), previous=State.REMEDIATING),
        State.DEGRADED,
        [(Outcome.RATE_LIMITED, False, "Retry-After", None)],
        id="rate-limited-after-remediating-is-degraded",
    ),
    pytest.param(
        {
            "verdicts": {"a": verdict(Outcome.RATE_LIMITED), "b": verdict(Outcome.SERVER_ERROR, status=503)},
            "previous": State.HEALTHY,
        },
        State.UNREACHABLE,
        [(Outcome.RATE_LIMITED, False, "Retry-After", None), (Outcome.SERVER_ERROR, False, "retries", None)],
        id="rate-limited-with-transport-is-unreachable",
    ),
    # token failures
    pytest.param(
        {"token_problem": TokenProblem.INVALID_CLIENT, "verdicts": {}},
        State.NEEDS_ATTENTION,
        [(Outcome.UNAUTHORIZED, False, f"Check the region first: OAuth client {CLIENT} is only known", None)],
        id="token-invalid-client-region-first",
    ),
    pytest.param(
        {"token_problem": TokenProblem.INVALID_CLIENT, "verdicts": {}, "client_state": ClientState.DISABLED},
        State.NEEDS_ATTENTION,
        [(Outcome.UNAUTHORIZED, False, f"{WHO} is disabled: access tokens created by the client are invalid", None)],
        id="token-invalid-client-disabled",
    ),
    pytest.param(
        {"token_problem": TokenProblem.INVALID_CLIENT, "verdicts": {}, "shared_with": ("acme-us",)},
        State.NEEDS_ATTENTION,
        [
            (
                Outcome.UNAUTHORIZED,
                False,
                f"leave its secret alone: tenant acme-us also uses OAuth client {CLIENT}",
                None,
            )
        ],
        id="token-invalid-client-shared",
    ),
    pytest.param(
        {"token_problem": TokenProblem.INVALID_GRANT, "verdicts": {}, "grant_type": GrantType.AUTHORIZATION_CODE},
        State.NEEDS_ATTENTION,
        [(Outcome.UNAUTHORIZED, False, f"run `{AUTHORIZE}`", AUTHORIZE)],
        id="token-invalid-grant",
    ),
    pytest.param(
        {"token_problem": TokenProblem.UNAUTHORIZED_CLIENT, "verdicts": {}},
        State.NEEDS_ATTENTION,
        [(Outcome.WRONG_GRANT_TYPE, False, "Set credentials.grant of tenant acme-eu", None)],
        id="token-unauthorized-client",
    ),
    pytest.param(
        {"token_problem": TokenProblem.UNEXPECTED, "verdicts": {}},
        State.NEEDS_ATTENTION,
        [(Outcome.UNEXPECTED_STATUS, False, "login_base_url", None)],
        id="token-unexpected",
    ),
    pytest.param(
        {"token_problem": TokenProblem.NETWORK_ERROR, "verdicts": {}},
        State.UNREACHABLE,
        [(Outcome.NETWORK_ERROR, False, "retries", None)],
        id="token-network",
    ),
    pytest.param(
        {"token_problem": TokenProblem.TIMEOUT, "verdicts": {}},
        State.UNREACHABLE,
        [(Outcome.TIMEOUT, False, "retries", None)],
        id="token-timeout",
    ),
    pytest.param(
        {"token_problem": TokenProblem.SERVER_ERROR, "verdicts": {}},
        State.UNREACHABLE,
        [(Outcome.SERVER_ERROR, False, "retries", None)],
        id="token-server-error",
    ),
    pytest.param(
        {"token_problem": TokenProblem.RATE_LIMITED, "verdicts": {}, "previous": State.DEGRADED},
        State.DEGRADED,
        [(Outcome.RATE_LIMITED, False, "Retry-After", None)],
        id="token-rate-limited-keeps-state",
    ),
]


@pytest.mark.parametrize(("overrides", "state", "expected"), ROWS)
def test_diagnose(
    overrides: dict[str, Any], state: State, expected: list[tuple[Outcome, bool, str, str | None]]
) -> None:
    result = run(**overrides)
    assert result.state is state
    got = [(f.outcome, f.fixable, f.command) for f in result.findings]
    assert got == [(outcome, fixable, command) for outcome, fixable, _, command in expected]
    for finding, (_, _, fix, _) in zip(result.findings, expected, strict=True):
        assert fix in finding.fix, finding.fix


@pytest.mark.parametrize(("overrides", "state", "expected"), ROWS)
def test_every_sentence_names_org_and_client(overrides: dict[str, Any], state: State, expected: list[Any]) -> None:
    for finding in run(**overrides).findings:
        assert (finding.org_id, finding.client_id) == (ORG, CLIENT)
        for sentence in (finding.summary, finding.fix):
            assert ORG in sentence, sentence
            assert CLIENT in sentence, sentence
            assert sentence.endswith("."), sentence
            assert "\n" not in sentence
            assert not re.search(r"\.\s+[A-Z]", sentence), f"more than one sentence: {sentence}"
            assert ".." not in sentence


def test_findings_name_the_probe_and_what_is_missing() -> None:
    result = run(**probe(DIVISION, PLAN))
    (finding,) = result.findings
    assert finding.probe == "messaging-integrations"
    assert finding.missing == (MI,)
    assert finding.summary == f"Probe 'messaging-integrations': {WHO} lacks {MI} in division(s) d-1."


def test_any_requirement_reads_as_any_one_of() -> None:
    (finding,) = run(**probe(MISSING_ANY)).findings
    assert "lacks any one of routing:queue:view, routing:queue:edit" in finding.summary


def test_config_path_appears_in_commands() -> None:
    (finding,) = run(token_problem=TokenProblem.INVALID_GRANT, verdicts={}, config_path="/etc/gw.yaml").findings
    assert finding.command == "grantwarden authorize --config /etc/gw.yaml --tenant acme-eu"


def test_state_of_is_exposed_for_callers_with_their_own_findings() -> None:
    findings = run(**probe(MISSING, PLAN)).findings
    assert diagnosis.state_of(findings, regrant_in_progress=False, previous=State.HEALTHY) is State.DEGRADED
    assert diagnosis.state_of((), regrant_in_progress=False, previous=State.DEGRADED) is State.HEALTHY


def test_a_change_from_the_audit_trail_rides_with_the_findings_it_explains() -> None:
    story = "the audit trail shows OAuthClient c updated at T by user Avery Agent (u-9)"
    result = run(**probe(MISSING, PLAN), changes={"messaging-integrations": story, "organization": "unused"})
    (finding,) = result.findings
    assert finding.change == story
    assert run(**probe(MISSING, PLAN)).findings[0].change is None


def test_a_role_removed_again_is_said_in_the_summary() -> None:
    result = run(**probe(MISSING, refusal(RefusalReason.REMOVED_AGAIN, roles=("Messaging Viewer",))))
    assert result.findings[0].summary == (
        f"Probe 'messaging-integrations': something keeps removing role 'Messaging Viewer' from {WHO}: "
        f"it lacks {MI} again."
    )
