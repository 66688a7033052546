"""Scenario keys of outside access: the trust world, trusts, groups, IP allow-lists, trust tenants.

Covers: worlds/trust.yaml (a trust with a user member in all divisions and a group member, a
trust tenant whose home org is its client's); every class of mistake in ``trusts`` (unknown org,
self trust, unknown member or role, bad expiry, cross-region), in ``tenants[].trust`` (no such
trust, not a code-grant client of another org), in ``groups`` and in ``ip_allowlist``, each
reported as ``FILE: path: problem``.
"""

from __future__ import annotations

import pytest

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import scenarios
from grantwarden.simulator.reading import ScenarioError


def test_the_trust_world_declares_a_trust_with_a_user_and_a_group() -> None:
    sim = scenarios.load("trust", clock=ManualClock())
    via = next(t for t in sim.tenants if t.name == "customer-via-partner")
    assert (via.grant, via.trust_home_org_id) == ("authorization_code", sim.clients[via.client_id].org_id)
    entry = sim.trusts.get(via.org_id, via.trust_home_org_id or "")
    assert entry is not None
    assert entry.enabled
    kinds = sorted((m.kind, len(m.configured.role_divisions)) for m in entry.members.values())
    assert kinds == [("group", 1), ("user", 2)]
    user = next(m for m in entry.members.values() if m.kind == "user")
    assert {rd.division_id for rd in user.configured.role_divisions} == {"*"}  # roleIds: all divisions
    assert "trust" in scenarios.builtin_names()


TRUSTING = """
roles: {R: [routing:queue:view]}
orgs:
  a: {users: {u: {}}, groups: {g: {members: [u]}}, clients: {c: {grant: CODE, scope: [routing], redirect_uris: [x]}}}
  b: {clients: {cc: {roles: [R]}}}
"""


@pytest.mark.parametrize(
    ("extra", "path", "problem"),
    [
        pytest.param("trusts: [{trustor: nowhere, trustee: a}]\n", "trusts[0].trustor", "unknown org", id="org"),
        pytest.param("trusts: [{trustor: a, trustee: a}]\n", "trusts[0].trustee", "cannot match", id="self"),
        pytest.param(
            "trusts: [{trustor: b, trustee: a, users: {v: [R]}}]\n", "trusts[0].users.v", "no user", id="user"
        ),
        pytest.param(
            "trusts: [{trustor: b, trustee: a, groups: {h: [R]}}]\n", "trusts[0].groups.h", "no group", id="group"
        ),
        pytest.param(
            "trusts: [{trustor: b, trustee: a, users: {u: [Nope]}}]\n",
            "trusts[0].users.u[0]",
            "unknown role",
            id="role",
        ),
        pytest.param(
            "trusts: [{trustor: b, trustee: a, date_expired: soon}]\n", "trusts[0].date_expired", "ISO", id="expiry"
        ),
        pytest.param(
            "tenants: [{name: t, org: b, client: c, trust: true}]\n", "tenants[0].trust", "does not trust", id="tenant"
        ),
        pytest.param(
            "trusts: [{trustor: b, trustee: a}]\ntenants: [{name: t, org: b, client: cc, trust: true}]\n",
            "tenants[0].trust",
            "authorization_code",
            id="tenant-cc",
        ),
    ],
)
def test_a_bad_trust_names_the_path_and_the_problem(extra: str, path: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenarios.loads(TRUSTING + extra, source="bad.yaml", clock=ManualClock())
    assert caught.value.path == path
    assert problem in caught.value.problem


def test_groups_and_ip_allow_lists_are_checked() -> None:
    with pytest.raises(ScenarioError, match=r"orgs.a.groups.g.members\[0\]: unknown user 'w'"):
        scenarios.loads(TRUSTING.replace("members: [u]", "members: [w]"), source="bad.yaml", clock=ManualClock())
    with pytest.raises(ScenarioError, match=r"orgs.b.ip_allowlist\[0\]: 'x.y' is not"):
        scenarios.loads(TRUSTING.replace("b: {", "b: {ip_allowlist: [x.y], "), source="bad.yaml", clock=ManualClock())
    sim = scenarios.loads(
        TRUSTING.replace("b: {", "b: {ip_allowlist: [203.0.113.0/24], "), source="ok", clock=ManualClock()
    )
    assert [o.ip_allowlist for o in sim.orgs.values()] == [(), ("203.0.113.0/24",)]


def test_a_cross_region_trust_is_refused() -> None:
    text = TRUSTING.replace("b: {", "b: {region: eu-west-1, ") + "trusts: [{trustor: b, trustee: a}]\n"
    with pytest.raises(ScenarioError, match="one region"):
        scenarios.loads(text, source="bad.yaml", clock=ManualClock())
