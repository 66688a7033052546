"""orgfacts: the planner's reads of the org, against the in-memory tenant API.

Covers: ``refine`` returns a new pass in which a missing permission the org is not licensed for
is ``unlicensed``, its record saying the same, and leaves the pass it was given as it was; a
licensed one, a passing pass and a user-grant tenant are left alone, without reading the licence
list; the licence list is read once an hour and its last known value kept when a read fails;
``plans`` asks the admin identity for the org's roles and the client, and turns each answer into
a plan or a refusal (no admin credentials, an admin that cannot read, an allow-listed role); a
tenant that acts through an org trust reads a missing permission as a missing trustor role and
plans nothing, its scope refusals too (the client is the trustee org's).
"""

from __future__ import annotations

import dataclasses

import pytest

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings
from grantwarden.policy import labels
from grantwarden.policy.forbidden import Verdict
from grantwarden.policy.planning import Refusal, RefusalReason, RoleDivision, RolePlan
from grantwarden.worker import orgfacts, probing
from grantwarden.worker import status as health
from tests.worker import fakes

Outcome = labels.Outcome
GRANTS = settings.Grants(roles=["Messaging Viewer"])


def lacking(*permissions: str) -> Verdict:
    return Verdict(outcome=Outcome.MISSING_PERMISSION, status=403, permissions=permissions)


def observed(**verdicts: Verdict) -> probing.Pass:
    records = {
        name: health.ProbeRecord(name, v.outcome, v.status, v.code, v.message, 0.1, 0.0) for name, v in verdicts.items()
    }
    return probing.Pass(verdicts=dict(verdicts), records=records, identity_org_id=fakes.ORG)


def planner(
    clock: clock_mod.Clock,
    tenant: fakes.FakeApi,
    admin: fakes.FakeApi | None,
    grant: labels.GrantType = labels.GrantType.CLIENT_CREDENTIALS,
) -> orgfacts.Planner:
    return orgfacts.Planner(
        grant_type=grant,
        client_id=fakes.CLIENT,
        grants=GRANTS,
        api=tenant,  # type: ignore[arg-type]  # the in-memory tenant API
        admin=admin,  # type: ignore[arg-type]
        clock=clock,
    )


CC, CODE = labels.GrantType.CLIENT_CREDENTIALS, labels.GrantType.AUTHORIZATION_CODE
UNLICENSED_PERMISSION, LICENSED_PERMISSION = "messaging:conversation:view", "messaging:integration:view"


@pytest.mark.parametrize(
    ("verdict", "grant", "refined", "licence_read"),
    [
        pytest.param(lacking(UNLICENSED_PERMISSION), CC, Outcome.UNLICENSED, True, id="unlicensed"),
        pytest.param(lacking(LICENSED_PERMISSION), CC, Outcome.MISSING_PERMISSION, True, id="licensed"),
        pytest.param(Verdict(outcome=Outcome.OK, status=200), CC, Outcome.OK, False, id="passing-no-read"),
        pytest.param(lacking(UNLICENSED_PERMISSION), CODE, Outcome.MISSING_PERMISSION, False, id="user-grant-no-read"),
    ],
)
async def test_refine_returns_a_new_pass_and_leaves_the_given_one_alone(
    verdict: Verdict, grant: labels.GrantType, refined: labels.Outcome, licence_read: bool
) -> None:
    clock = clock_mod.ManualClock()
    tenant = fakes.FakeApi(clock)
    given = observed(probe=verdict)
    kept = dataclasses.replace(given, verdicts=dict(given.verdicts), records=dict(given.records))
    result = await planner(clock, tenant, None, grant).refine(given)
    assert (result.verdicts["probe"].outcome, result.records["probe"].outcome) == (refined, refined)
    assert given == kept, "the pass handed in is never changed"
    assert bool(tenant.called("licensed_permissions")) is licence_read


async def test_the_licence_list_is_read_once_an_hour_and_kept_when_a_read_fails() -> None:
    clock = clock_mod.ManualClock()
    tenant = fakes.FakeApi(clock)
    plan = planner(clock, tenant, None)
    given = observed(probe=lacking("messaging:conversation:view"))
    await plan.refine(given)
    await clock.advance(3599)
    await plan.refine(given)
    assert len(tenant.called("licensed_permissions")) == 1
    await clock.advance(2)
    tenant.then("licensed_permissions", fakes.server_error())
    result = await plan.refine(given)
    assert len(tenant.called("licensed_permissions")) == 2
    assert result.verdicts["probe"].outcome is Outcome.UNLICENSED, "the last known list still answers"


async def test_a_missing_permission_an_allow_listed_role_grants_is_a_role_plan() -> None:
    clock = clock_mod.ManualClock()
    tenant, admin = fakes.FakeApi(clock), fakes.FakeApi(clock, client_id=fakes.ADMIN_CLIENT)
    plans = await planner(clock, tenant, admin).plans({"probe": lacking("messaging:integration:view")})
    assert plans == {
        "probe": RolePlan(
            add=(RoleDivision("r-mv", fakes.HOME),),
            role_names=("Messaging Viewer",),
            covers=frozenset({"messaging:integration:view"}),
            division_id=fakes.HOME,
            role_covers=(frozenset({"messaging:integration:view"}),),
        )
    }
    assert [call[0] for call in admin.calls] == ["all_roles", "get_oauth_client", "home_division", "tokens_me"]
    assert tenant.calls == [], "the org's roles and the client are the admin identity's to read"


@pytest.mark.parametrize(
    ("admin_answers", "reason"),
    [
        pytest.param(None, RefusalReason.NO_ADMIN_CREDENTIALS, id="no-admin-credentials"),
        pytest.param([fakes.server_error()], RefusalReason.NO_ADMIN_CREDENTIALS, id="admin-cannot-read"),
        pytest.param("holds-nothing", RefusalReason.ADMIN_LACKS_ROLE, id="admin-lacks-the-role"),
    ],
)
async def test_what_stops_a_plan_is_a_refusal(admin_answers: object, reason: RefusalReason) -> None:
    clock = clock_mod.ManualClock()
    tenant = fakes.FakeApi(clock)
    admin = None if admin_answers is None else fakes.FakeApi(clock, client_id=fakes.ADMIN_CLIENT)
    if isinstance(admin_answers, list) and admin is not None:
        admin.then("all_roles", *admin_answers)
    if admin_answers == "holds-nothing" and admin is not None:
        admin.held = []
    plans = await planner(clock, tenant, admin).plans({"probe": lacking("messaging:integration:view")})
    refusal = plans["probe"]
    assert isinstance(refusal, Refusal)
    assert refusal.reason is reason


async def test_a_trust_tenant_reads_missing_permissions_as_trustor_roles_and_plans_nothing() -> None:
    clock = clock_mod.ManualClock()
    tenant, admin = fakes.FakeApi(clock), fakes.FakeApi(clock, client_id=fakes.ADMIN_CLIENT)
    trusted = orgfacts.Planner(
        grant_type=CODE,
        client_id=fakes.CLIENT,
        grants=settings.Grants(roles=["Messaging Viewer"], scopes=["messaging:readonly"]),
        api=tenant,  # type: ignore[arg-type]
        admin=admin,  # type: ignore[arg-type]
        clock=clock,
        trusted=True,
    )
    scope = Verdict(outcome=Outcome.MISSING_SCOPE, status=403, scopes=("messaging:readonly",))
    refined = await trusted.refine(observed(a=lacking(LICENSED_PERMISSION), b=scope))
    assert refined.verdicts["a"].outcome is Outcome.MISSING_TRUSTOR_PERMISSION
    assert refined.records["a"].outcome is Outcome.MISSING_TRUSTOR_PERMISSION
    plans = await trusted.plans(refined.verdicts)
    assert {name: p.reason for name, p in plans.items() if isinstance(p, Refusal)} == {
        "a": RefusalReason.TRUSTOR_ROLE,
        "b": RefusalReason.MISSING_SCOPE,
    }
    assert admin.calls == [], "nothing is read to plan nothing"
    assert tenant.called("licensed_permissions") == []
