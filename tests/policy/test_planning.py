"""planning: the smallest allow-listed role plan, the best scope plan, or a precise Refusal.

Covers: smallest covers and allow-list order, roles granting nothing missing are never added,
ANY needs one role, roles already held in the division (or in "*") are skipped and give
ALREADY_GRANTED, home / "*" / explicit divisions, division refusals about other divisions,
licensing (ALL and ANY), NOT_ALLOW_LISTED vs NO_ROLE_GRANTS, the admin identity's roles
(preferring a cover the admin can grant; refusing a plan when it lacks a role the client already
holds, since an editor needs all of them), ``editor_lacks`` and ``editor_refusal`` (what the
worker checks before a PUT), no admin credentials, nothing named; scope plans
(``:readonly`` first, never for scopes the client has); ``refuse_for`` and ``plannable``.
"""

from __future__ import annotations

from typing import Any

import pytest

from grantwarden.policy import planning
from grantwarden.policy.labels import GrantType, Outcome
from grantwarden.policy.permissions import Requirement
from grantwarden.policy.planning import Refusal, RefusalReason, RoleDivision, RolePlan, ScopePlan

from .roles import ALL_ROLE_IDS, HOME, ORG_ROLES, OTHER

MI = "messaging:integration:view"
MS = "messaging:setting:view"
WD = "webDeployments:deployment:view"
RQ = "routing:queue:view"
JA = "journey:actionmap:view"
ALLOW = ("Messaging Viewer", "Web Deployments Viewer")


def plan(**overrides: Any) -> RolePlan | Refusal:
    kwargs: dict[str, Any] = {
        "missing": frozenset({MI}),
        "requirement": Requirement.ALL,
        "allow_roles": ALLOW,
        "division": "home",
        "home_division_id": HOME,
        "org_roles": ORG_ROLES,
        "client_role_divisions": (),
        "licensed": None,
        "admin_role_ids": ALL_ROLE_IDS,
    }
    kwargs.update(overrides)
    kwargs["missing"] = frozenset(kwargs["missing"])
    return planning.plan_roles(**kwargs)


def adds(*pairs: tuple[str, str]) -> tuple[RoleDivision, ...]:
    return tuple(RoleDivision(role_id=r, division_id=d) for r, d in pairs)


@pytest.mark.parametrize(
    ("overrides", "expected_add", "expected_covers"),
    [
        pytest.param({}, adds(("r-mv", HOME)), {MI}, id="one-missing-one-role"),
        pytest.param({"missing": {MI, WD}}, adds(("r-mv", HOME), ("r-wdv", HOME)), {MI, WD}, id="two-roles"),
        pytest.param(
            {"missing": {MI, WD}, "allow_roles": ("Messaging Viewer", "Web Deployments Viewer", "Everything Viewer")},
            adds(("r-ev", HOME)),
            {MI, WD},
            id="smallest-set-wins",
        ),
        pytest.param(
            {"allow_roles": ("Integration Viewer", "Messaging Viewer")},
            adds(("r-iv", HOME)),
            {MI},
            id="tie-goes-to-allow-list-order",
        ),
        pytest.param(
            {"allow_roles": ("Queue Viewer", "Web Deployments Viewer", "Messaging Viewer")},
            adds(("r-mv", HOME)),
            {MI},
            id="roles-granting-nothing-missing-are-not-added",
        ),
        pytest.param(
            {"missing": {RQ, MI}, "requirement": Requirement.ANY, "allow_roles": ("Queue Viewer", "Messaging Viewer")},
            adds(("r-qv", HOME)),
            {RQ},
            id="any-needs-one-role",
        ),
        pytest.param({"division": "*"}, adds(("r-mv", "*")), {MI}, id="all-divisions"),
        pytest.param({"division": OTHER}, adds(("r-mv", OTHER)), {MI}, id="explicit-division"),
        pytest.param(
            {"client_role_divisions": adds(("r-mv", OTHER))},
            adds(("r-mv", HOME)),
            {MI},
            id="held-in-another-division-is-added-in-target",
        ),
        pytest.param(
            {"division": "*", "client_role_divisions": adds(("r-mv", HOME))},
            adds(("r-mv", "*")),
            {MI},
            id="held-in-home-is-not-held-in-all",
        ),
        pytest.param(
            {"missing": {MI, WD}, "client_role_divisions": adds(("r-mv", HOME))},
            adds(("r-wdv", HOME)),
            {WD},
            id="only-what-held-roles-do-not-grant",
        ),
        pytest.param(
            {"missing": {MI, WD}, "client_role_divisions": adds(("r-iv", "*"))},
            adds(("r-wdv", HOME)),
            {WD},
            id="non-allow-listed-held-role-counts",
        ),
        pytest.param(
            {"allow_roles": ("messaging VIEWER", "No Such Role")},
            adds(("r-mv", HOME)),
            {MI},
            id="names-case-insensitive-unknown-ignored",
        ),
        pytest.param(
            {"missing": {MI, JA}, "requirement": Requirement.ANY, "licensed": frozenset({MI, WD})},
            adds(("r-mv", HOME)),
            {MI},
            id="any-plans-the-licensed-one",
        ),
        pytest.param(
            {
                "missing": {MI, WD},
                "allow_roles": ("Everything Viewer", *ALLOW),
                "admin_role_ids": frozenset({"r-mv", "r-wdv"}),
            },
            adds(("r-mv", HOME), ("r-wdv", HOME)),
            {MI, WD},
            id="prefers-a-cover-the-admin-can-grant",
        ),
        pytest.param({"divisions": (HOME,)}, adds(("r-mv", HOME)), {MI}, id="division-refusal-about-target"),
        pytest.param(
            {"divisions": (OTHER,), "division": "*"}, adds(("r-mv", "*")), {MI}, id="star-covers-any-division"
        ),
    ],
)
def test_plan_roles_plans(
    overrides: dict[str, Any], expected_add: tuple[RoleDivision, ...], expected_covers: set[str]
) -> None:
    result = plan(**overrides)
    assert isinstance(result, RolePlan), result
    assert result.add == expected_add
    assert result.covers == expected_covers


@pytest.mark.parametrize(
    ("overrides", "reason", "roles", "missing"),
    [
        pytest.param({"missing": set()}, RefusalReason.NOTHING_NAMED, (), (), id="nothing-named"),
        pytest.param(
            {"missing": {RQ}}, RefusalReason.NOT_ALLOW_LISTED, ("Admin", "Queue Viewer"), (RQ,), id="not-allow-listed"
        ),
        pytest.param(
            {"missing": {MI, RQ}},
            RefusalReason.NOT_ALLOW_LISTED,
            ("Admin", "Queue Viewer"),
            (RQ,),
            id="partly-not-allow-listed",
        ),
        pytest.param({"missing": {JA}}, RefusalReason.NO_ROLE_GRANTS, (), (JA,), id="no-role-grants"),
        pytest.param({"missing": {MI, JA}}, RefusalReason.NO_ROLE_GRANTS, (), (JA,), id="partly-no-role-grants"),
        pytest.param(
            {"missing": {RQ, JA}, "requirement": Requirement.ANY},
            RefusalReason.NOT_ALLOW_LISTED,
            ("Admin", "Queue Viewer"),
            (RQ,),
            id="any-not-allow-listed-names-what-roles-grant",
        ),
        pytest.param(
            {"missing": {MI, JA}, "licensed": frozenset({MI})},
            RefusalReason.UNLICENSED,
            (),
            (JA,),
            id="all-with-one-unlicensed",
        ),
        pytest.param(
            {"missing": {JA}, "requirement": Requirement.ANY, "licensed": frozenset({MI})},
            RefusalReason.UNLICENSED,
            (),
            (JA,),
            id="any-with-none-licensed",
        ),
        pytest.param(
            {"client_role_divisions": adds(("r-mv", HOME))},
            RefusalReason.ALREADY_GRANTED,
            ("Messaging Viewer",),
            (MI,),
            id="already-held-in-division",
        ),
        pytest.param(
            {"client_role_divisions": adds(("r-iv", "*"))},
            RefusalReason.ALREADY_GRANTED,
            ("Integration Viewer",),
            (MI,),
            id="already-held-in-all-divisions",
        ),
        pytest.param(
            {"missing": {RQ, MI}, "requirement": Requirement.ANY, "client_role_divisions": adds(("r-qv", HOME))},
            RefusalReason.ALREADY_GRANTED,
            ("Queue Viewer",),
            (MI, RQ),
            id="any-already-held",
        ),
        pytest.param(
            {"admin_role_ids": frozenset({"r-wdv"})},
            RefusalReason.ADMIN_LACKS_ROLE,
            ("Messaging Viewer",),
            (MI,),
            id="admin-lacks-role",
        ),
        pytest.param(
            {"missing": {MI, WD}, "admin_role_ids": frozenset({"r-wdv"})},
            RefusalReason.ADMIN_LACKS_ROLE,
            ("Messaging Viewer",),
            (MI, WD),
            id="admin-lacks-one-of-two",
        ),
        pytest.param(
            {"client_role_divisions": adds(("r-qv", HOME)), "admin_role_ids": frozenset({"r-mv", "r-wdv"})},
            RefusalReason.ADMIN_LACKS_ROLE,
            ("Queue Viewer",),
            (MI,),
            id="admin-lacks-a-role-the-client-already-holds",
        ),
        pytest.param(
            {"client_role_divisions": adds(("r-qv", OTHER)), "admin_role_ids": frozenset({"r-wdv"})},
            RefusalReason.ADMIN_LACKS_ROLE,
            ("Queue Viewer", "Messaging Viewer"),
            (MI,),
            id="admin-lacks-held-and-added-roles",
        ),
        pytest.param(
            {"admin_role_ids": None},
            RefusalReason.NO_ADMIN_CREDENTIALS,
            ("Messaging Viewer",),
            (MI,),
            id="no-admin-credentials",
        ),
        pytest.param(
            {"divisions": (OTHER,)},
            RefusalReason.DIVISION_NOT_ALLOW_LISTED,
            (),
            (MI,),
            id="division-refusal-about-another-division",
        ),
        pytest.param(
            {"allow_roles": ()},
            RefusalReason.NOT_ALLOW_LISTED,
            ("Admin", "Everything Viewer", "Integration Viewer", "Messaging Viewer"),
            (MI,),
            id="empty-allow-list",
        ),
    ],
)
def test_plan_roles_refuses(
    overrides: dict[str, Any], reason: RefusalReason, roles: tuple[str, ...], missing: tuple[str, ...]
) -> None:
    result = plan(**overrides)
    assert isinstance(result, Refusal), result
    assert result.reason is reason
    assert result.roles == roles
    assert result.missing == missing
    assert result.detail
    assert "\n" not in result.detail


@pytest.mark.parametrize(
    ("acceptable", "allow", "client", "expected"),
    [
        pytest.param(
            ["messaging", "messaging:readonly"],
            ["messaging:readonly", "webdeployments:readonly"],
            [],
            ScopePlan(add=("messaging:readonly",)),
            id="allow-listed-readonly",
        ),
        pytest.param(
            ["messaging", "messaging:readonly"],
            ["messaging", "messaging:readonly"],
            ["organization:readonly"],
            ScopePlan(add=("messaging:readonly",)),
            id="readonly-preferred",
        ),
        pytest.param(
            ["messaging", "messaging:readonly"],
            ["messaging"],
            [],
            ScopePlan(add=("messaging",)),
            id="write-if-only-write",
        ),
        pytest.param(
            ["messaging", "messaging:readonly"],
            ["messaging:readonly"],
            ["messaging"],
            RefusalReason.MISSING_SCOPE,
            id="client-already-has-one-needs-approval",
        ),
        pytest.param(
            ["telephony", "telephony:readonly"],
            ["messaging:readonly"],
            [],
            RefusalReason.NOT_ALLOW_LISTED,
            id="none-allow-listed",
        ),
        pytest.param([], ["messaging:readonly"], [], RefusalReason.NOTHING_NAMED, id="nothing-named"),
    ],
)
def test_plan_scopes(
    acceptable: list[str], allow: list[str], client: list[str], expected: ScopePlan | RefusalReason
) -> None:
    result = planning.plan_scopes(acceptable=acceptable, allow_scopes=allow, client_scopes=client)
    if isinstance(expected, ScopePlan):
        assert result == expected
    else:
        assert isinstance(result, Refusal)
        assert result.reason is expected
        assert result.missing == tuple(acceptable)


CC = GrantType.CLIENT_CREDENTIALS
CODE = GrantType.AUTHORIZATION_CODE


@pytest.mark.parametrize(
    ("outcome", "grant", "reason"),
    [
        pytest.param(Outcome.WRONG_ORG, CC, RefusalReason.WRONG_ORG, id="wrong-org"),
        pytest.param(Outcome.UNLICENSED, CC, RefusalReason.UNLICENSED, id="unlicensed"),
        pytest.param(Outcome.POLICY_DENIED, CODE, RefusalReason.POLICY_DENIED, id="policy-denied"),
        pytest.param(Outcome.MISSING_SCOPE, CC, RefusalReason.MISSING_SCOPE, id="scope-on-client-credentials"),
        pytest.param(Outcome.MISSING_SCOPE, CODE, None, id="scope-on-user-grant-is-planned"),
        pytest.param(Outcome.MISSING_PERMISSION, CC, None, id="permission-on-client-credentials-is-planned"),
        pytest.param(
            Outcome.MISSING_PERMISSION, CODE, RefusalReason.USER_LACKS_PERMISSION, id="permission-on-user-grant"
        ),
        pytest.param(
            Outcome.MISSING_DIVISION_PERMISSION, CODE, RefusalReason.USER_LACKS_PERMISSION, id="division-on-user"
        ),
        pytest.param(Outcome.SERVER_ERROR, CC, None, id="not-a-regrant-matter"),
    ],
)
def test_refuse_for(outcome: Outcome, grant: GrantType, reason: RefusalReason | None) -> None:
    refusal = planning.refuse_for(outcome, grant_type=grant)
    assert (None if refusal is None else refusal.reason) is reason


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        pytest.param(Outcome.MISSING_TRUSTOR_PERMISSION, RefusalReason.TRUSTOR_ROLE, id="trustor-role"),
        pytest.param(Outcome.MISSING_SCOPE, RefusalReason.MISSING_SCOPE, id="scope-of-the-trustees-client"),
        pytest.param(Outcome.WRONG_ORG, RefusalReason.WRONG_ORG, id="wrong-org-as-ever"),
        pytest.param(Outcome.SERVER_ERROR, None, id="not-a-regrant-matter"),
    ],
)
def test_through_a_trust_nothing_is_planned(outcome: Outcome, reason: RefusalReason | None) -> None:
    refusal = planning.refuse_for(outcome, grant_type=CODE, trusted=True)
    assert (None if refusal is None else refusal.reason) is reason
    assert not planning.plannable(outcome, grant_type=CODE, trusted=True)


@pytest.mark.parametrize(
    ("outcome", "grant", "expected"),
    [
        pytest.param(Outcome.MISSING_PERMISSION, CC, True, id="cc-permission"),
        pytest.param(Outcome.MISSING_DIVISION_PERMISSION, CC, True, id="cc-division"),
        pytest.param(Outcome.MISSING_SCOPE, CC, False, id="cc-scope"),
        pytest.param(Outcome.MISSING_SCOPE, CODE, True, id="code-scope"),
        pytest.param(Outcome.MISSING_PERMISSION, CODE, False, id="code-permission"),
        pytest.param(Outcome.UNLICENSED, CC, False, id="unlicensed"),
    ],
)
def test_plannable(outcome: Outcome, grant: GrantType, expected: bool) -> None:
    assert planning.plannable(outcome, grant_type=grant) is expected


@pytest.mark.parametrize(
    ("admin", "client", "add", "expected"),
    [
        pytest.param({"r-mv", "r-qv"}, adds(("r-qv", HOME)), adds(("r-mv", HOME)), (), id="holds-everything"),
        pytest.param({"r-qv"}, adds(("r-qv", HOME)), adds(("r-mv", HOME)), ("r-mv",), id="lacks-the-addition"),
        pytest.param({"r-mv"}, adds(("r-qv", HOME)), adds(("r-mv", HOME)), ("r-qv",), id="lacks-a-held-role"),
        pytest.param(
            set(),
            adds(("r-qv", HOME), ("r-iv", "*"), ("r-qv", OTHER)),
            adds(("r-mv", HOME)),
            ("r-qv", "r-iv", "r-mv"),
            id="lacks-all-each-named-once-in-client-order",
        ),
        pytest.param({"r-mv"}, (), adds(("r-mv", OTHER)), (), id="divisions-are-not-compared"),
        pytest.param(set(), (), (), (), id="nothing-to-hold"),
    ],
)
def test_editor_lacks_compares_the_admins_roles_with_the_clients_and_the_additions(
    admin: set[str], client: tuple[RoleDivision, ...], add: tuple[RoleDivision, ...], expected: tuple[str, ...]
) -> None:
    assert planning.editor_lacks(admin_role_ids=frozenset(admin), client_role_divisions=client, add=add) == expected


def test_editor_refusal_names_the_roles_the_admin_lacks() -> None:
    refusal = planning.editor_refusal(("r-qv", "r-gone"), role_names={"r-qv": "Queue Viewer"}, missing=(MI,))
    assert refusal.reason is RefusalReason.ADMIN_LACKS_ROLE
    assert refusal.roles == ("Queue Viewer", "r-gone")  # a role the org no longer lists keeps its id
    assert refusal.missing == (MI,)
    assert refusal.detail == (
        "the admin identity does not hold 'Queue Viewer', 'r-gone', and an editor must hold every role of the client"
    )
