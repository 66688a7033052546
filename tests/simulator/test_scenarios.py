"""Scenario files: the demo world as documented, and one-line errors naming file and path.

Covers: demo.yaml's seven tenants, six orgs and what each is set up to demonstrate (the partner
org acting in acme through an org trust included); defaults
(derived ids and secrets, Home division, default queues); every class of mistake reported as
``FILE: path: problem`` (YAML syntax with line and column, unknown keys, types, regions, roles,
permissions, scopes, clients without roles or scopes, tenant references); determinism.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import model, scenarios, world
from grantwarden.simulator.reading import ScenarioError

from .conftest import DEMO


def load_demo() -> world.World:
    return scenarios.load(DEMO, clock=ManualClock())


def test_the_demo_has_seven_tenants_over_six_orgs() -> None:
    sim = load_demo()
    assert [t.name for t in sim.tenants] == [
        "acme",
        "acme-eu",
        "acme-apac",
        "acme-latam",
        "acme-ca",
        "acme-agent-desktop",
        "acme-via-partner",
    ]
    assert len(sim.orgs) == 6
    assert {o.region for o in sim.orgs.values()} == {
        "us-east-1",
        "eu-west-1",
        "ap-southeast-2",
        "sa-east-1",
        "ca-central-1",
    }
    assert sim.settings.propagation_delay_seconds == 5


def test_the_demo_sets_up_each_problem_it_documents() -> None:
    sim = load_demo()
    tenant = {t.name: t for t in sim.tenants}
    acme_org = sim.orgs[tenant["acme"].org_id]
    assert acme_org.id == "2a3a43e5-e89c-406e-badf-e79288bd4ab0"
    assert tenant["acme-eu"].org_id == "4b70ee8c-24d8-43ad-9464-520f6b20fa1f"
    eu_org = sim.orgs[tenant["acme-eu"].org_id]

    def role_names(client_id: str) -> set[str]:
        return {eu_org.roles[rd.role_id].name for rd in sim.clients[client_id].configured.role_divisions}

    assert role_names(tenant["acme-eu"].client_id) == {"Web Deployments Viewer"}
    assert {"Messaging Viewer", "OAuth Client Admin"} <= role_names(tenant["acme-eu"].admin_client_id or "")
    assert tenant["acme-apac"].client_id == tenant["acme"].client_id
    assert tenant["acme-apac"].org_id != tenant["acme"].org_id
    assert "webDeployments:configuration:view" not in sim.orgs[tenant["acme-latam"].org_id].licensed
    assert sim.orgs[tenant["acme-ca"].org_id].token_requests_per_minute == 8
    desktop = tenant["acme-agent-desktop"]
    assert (desktop.grant, desktop.org_id) == ("authorization_code", acme_org.id)
    assert "webdeployments:readonly" not in sim.clients[desktop.client_id].configured.scope
    assert "webdeployments:readonly" in desktop.scopes
    assert desktop.admin_client_id is not None
    partner = tenant["acme-via-partner"]
    partner_org = sim.orgs["5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"]
    assert (partner.grant, partner.org_id, partner.trust_home_org_id) == (
        "authorization_code",
        acme_org.id,
        partner_org.id,
    )
    assert sim.clients[partner.client_id].org_id == partner_org.id, "the trustee org's own code client"
    trust = sim.trusts.get(acme_org.id, partner_org.id)
    assert trust is not None
    assert trust.enabled
    (member,) = trust.members.values()
    held = {acme_org.roles[rd.role_id].name for rd in member.configured.role_divisions}
    assert held == {"Messaging Viewer", "Web Deployments Viewer"}


def test_a_scenario_reproduces_exactly() -> None:
    first, second = load_demo(), load_demo()
    assert [(c.id, c.secret) for c in first.clients.values()] == [(c.id, c.secret) for c in second.clients.values()]


def test_omitted_values_are_derived() -> None:
    text = "seed: 3\nroles: {R: [routing:queue:view]}\norgs:\n  o:\n    clients:\n      c: {roles: [R]}\n"
    sim = scenarios.loads(text, source="inline", clock=ManualClock())
    (org,) = sim.orgs.values()
    (client,) = sim.clients.values()
    assert (org.id, org.name, org.region) == (model.stable_id(3, "org", "o"), "o", "us-east-1")
    assert [d.name for d in org.divisions.values()] == ["Home"]
    assert [q.name for q in org.queues] == ["Support - Home"]
    assert client.secret
    assert (client.validity_seconds, client.state) == (86400, "active")


BASE = "roles: {R: [routing:queue:view]}\norgs:\n  o:\n    clients:\n      c: {roles: [R]}\n"


@pytest.mark.parametrize(
    ("text", "path", "problem"),
    [
        pytest.param("[]", "", "must be a mapping", id="top-not-mapping"),
        pytest.param("colour: red\n" + BASE, "colour", "unknown key", id="unknown-top-key"),
        pytest.param("seed: 1\n", "orgs", "at least one org", id="no-orgs"),
        pytest.param("seed: -1\n" + BASE, "seed", "whole number", id="negative-seed"),
        pytest.param(
            "platform: {propagation_delay_seconds: soon}\n" + BASE,
            "platform.propagation_delay_seconds",
            "number",
            id="platform-type",
        ),
        pytest.param("platform: {warp: 9}\n" + BASE, "platform.warp", "unknown key", id="platform-key"),
        pytest.param(
            "roles: {R: [messaging]}\norgs: {o: {}}\n", "roles.R[0]", "domain:entity:action", id="bad-pattern"
        ),
        pytest.param(
            "roles: {R: [telepathy:mind:read]}\norgs: {o: {}}\n",
            "roles.R[0]",
            "matches no permission",
            id="unknown-permission",
        ),
        pytest.param("orgs: {o: {region: mars-north-1}}\n", "orgs.o.region", "must be one of", id="bad-region"),
        pytest.param(
            "orgs: {o: {unlicensed: [a:b:c]}}\n", "orgs.o.unlicensed[0]", "unknown permission", id="unknown-unlicensed"
        ),
        pytest.param(
            "orgs: {o: {clients: {c: {roles: [Nope]}}}}\n",
            "orgs.o.clients.c.roles[0]",
            "unknown role",
            id="unknown-role",
        ),
        pytest.param(
            "orgs: {o: {clients: {c: {}}}}\n", "orgs.o.clients.c.roles", "missing.client.roles", id="cc-without-roles"
        ),
        pytest.param(
            "orgs: {o: {clients: {c: {grant: CODE}}}}\n",
            "orgs.o.clients.c.scope",
            "missing.client.scope",
            id="code-without-scope",
        ),
        pytest.param(
            "orgs: {o: {clients: {c: {grant: CODE, scope: [telepathy]}}}}\n",
            "orgs.o.clients.c.scope[0]",
            "unknown scope",
            id="unknown-scope",
        ),
        pytest.param(
            BASE.replace("roles: [R]", "roles: [{role: R, division: Attic}]"),
            "orgs.o.clients.c.roles[0].division",
            "unknown division",
            id="unknown-division",
        ),
        pytest.param(
            BASE + "tenants: [{name: t, org: nowhere, client: c}]\n", "tenants[0].org", "unknown org", id="tenant-org"
        ),
        pytest.param(
            BASE + "tenants: [{name: t, org: o, client: nobody}]\n",
            "tenants[0].client",
            "unknown client",
            id="tenant-client",
        ),
        pytest.param(
            BASE + "tenants: [{name: Bad_Name, org: o, client: c}]\n", "tenants[0].name", "lowercase", id="tenant-name"
        ),
        pytest.param(
            BASE + "tenants: [{name: t, org: o, client: c, parent: later}]\n",
            "tenants[0].parent",
            "unknown parent",
            id="tenant-parent",
        ),
        pytest.param(
            BASE + "tenants: [{name: t, org: o, client: c, grant: authorization_code}]\n",
            "tenants[0].redirect_uri",
            "redirect_uri",
            id="code-tenant-without-redirect",
        ),
    ],
)
def test_a_bad_scenario_names_the_path_and_the_problem(text: str, path: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenarios.loads(text, source="bad.yaml", clock=ManualClock())
    assert caught.value.path == path
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"bad.yaml: {path}: " if path else "bad.yaml: ")


def test_a_yaml_syntax_error_gives_line_and_column() -> None:
    with pytest.raises(ScenarioError, match=r"^bad.yaml: line 3, column 1: expected"):
        scenarios.loads("orgs:\n  o: {unclosed\n", source="bad.yaml", clock=ManualClock())


def test_a_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read the file"):
        scenarios.load(tmp_path / "absent.yaml", clock=ManualClock())
