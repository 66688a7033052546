"""The /__sim/ knobs on orgs over HTTP (and their Python twins' refusals): trusts, allow-lists, roles.

Covers: create a trust, set a member's roles (names in all divisions or {role, division}), remove
one role, remove a member, disable/enable, expire, delete — each visible to a trusted user's
token and in the state; the IP allow-list and the pretend remote address; the UI person; a role
edit that every holder sees; the audit listing; 404 for unknown orgs or trusts, 400 for bad
bodies and actions.
"""

from __future__ import annotations

from typing import Any

import pytest

from grantwarden.simulator import control, control_orgs

from .conftest import Api, Reply

VIA = "customer-via-partner"
INTEGRATIONS = "/api/v2/conversations/messaging/integrations"


async def post(api: Api, path: str, body: dict[str, Any] | None = None) -> Reply:
    return await api.call("POST", f"/__sim{path}", json=body or {})


def ids(api: Api) -> tuple[str, str]:
    tenant = api.sim.tenant(VIA)
    return tenant.org_id, tenant.trust_home_org_id or ""


async def trusted(api: Api) -> str:
    tenant = api.sim.tenant(VIA)
    return await api.user_token(tenant.client_id, tenant.redirect_uri or "", target=tenant.org_id)


async def test_trust_members_and_roles_through_http(trust_api: Api) -> None:
    customer, partner = ids(trust_api)
    path = f"/trusts/{customer}/{partner}"
    token = await trusted(trust_api)
    assert (
        await post(trust_api, path, {"action": "remove_role", "member": "consultant", "role": "Messaging Viewer"})
    ).json == {"ok": True}
    assert (await trust_api.get(INTEGRATIONS, token)).code == "missing.permissions"
    roles = ["Messaging Viewer", {"role": "Web Deployments Viewer", "division": "Home"}]
    assert (await post(trust_api, path, {"action": "set_member", "member": "consultant", "roles": roles})).status == 200
    assert (await trust_api.get(INTEGRATIONS, token)).status == 200
    state = (await trust_api.call("GET", "/__sim/state")).json
    member = next(m for m in state["trusts"][0]["members"] if m["kind"] == "user")
    assert sorted(rd["division_id"] == "*" for rd in member["role_divisions"]) == [False, True]
    assert (await post(trust_api, path, {"action": "remove_member", "member": "support"})).status == 200
    assert (await post(trust_api, path, {"action": "disable"})).status == 200
    assert (await trust_api.get("/api/v2/tokens/me", token)).code == "bad.credentials"
    assert (await post(trust_api, path, {"action": "enable"})).status == 200
    assert (await post(trust_api, path, {"action": "expire", "date_expired": "2000-01-01T00:00:00Z"})).status == 200
    assert (await trust_api.get("/api/v2/tokens/me", token)).code == "bad.credentials"
    assert (await trust_api.call("DELETE", f"/__sim{path}")).status == 200
    assert (await trust_api.call("GET", "/__sim/state")).json["trusts"] == []


async def test_a_trust_is_created_through_http(trust_api: Api) -> None:
    customer, partner = ids(trust_api)
    made = await post(trust_api, "/trusts", {"trustor_org_id": partner, "trustee_org_id": customer, "enabled": False})
    assert made.status == 200
    assert trust_api.sim.world.trusts.get(partner, customer) is not None
    again = await post(trust_api, "/trusts", {"trustor_org_id": partner, "trustee_org_id": customer})
    assert (again.status, again.json["error"]) == (400, f"org {partner} trusts org {customer} already")
    selfish = await post(trust_api, "/trusts", {"trustor_org_id": partner, "trustee_org_id": partner})
    assert selfish.status == 400
    assert (await post(trust_api, "/trusts", {"trustor_org_id": "nowhere", "trustee_org_id": partner})).status == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"action": "explode"}, 400, id="unknown-action"),
        pytest.param({"action": "remove_role", "member": "consultant", "role": "Nope"}, 400, id="unknown-role"),
        pytest.param(
            {"action": "remove_role", "member": "nobody", "role": "Messaging Viewer"}, 400, id="unknown-member"
        ),
        pytest.param({"action": "set_member", "member": "consultant", "roles": "x"}, 400, id="roles-not-a-list"),
        pytest.param(
            {"action": "set_member", "member": "consultant", "roles": [{"role": "Queue Viewer", "division": "Attic"}]},
            400,
            id="division",
        ),
        pytest.param({"action": "remove_role", "member": "consultant"}, 400, id="missing-field"),
        pytest.param({"action": "expire", "date_expired": "soon"}, 400, id="bad-date"),
    ],
)
async def test_bad_trust_knobs_are_refused(trust_api: Api, body: dict[str, Any], status: int) -> None:
    customer, partner = ids(trust_api)
    assert (await post(trust_api, f"/trusts/{customer}/{partner}", body)).status == status


async def test_an_unknown_trust_is_not_found(trust_api: Api) -> None:
    customer, partner = ids(trust_api)
    reply = await post(trust_api, f"/trusts/{partner}/{customer}", {"action": "disable"})
    assert (reply.status, reply.json["error"]) == (
        404,
        f"unknown trust: org {partner!r} does not trust org {customer!r}",
    )


async def test_ip_allow_list_and_remote_address_through_http(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await api.mint(acme.client_id)
    assert (await post(api, f"/orgs/{acme.org_id}/ip-allowlist", {"cidrs": ["203.0.113.0/24"]})).status == 200
    assert (await api.get("/api/v2/organizations/me", token)).code == "ip.not.authorized"
    assert (await post(api, "/remote-address", {"address": "203.0.113.77"})).status == 200
    assert (await api.get("/api/v2/organizations/me", token)).status == 200
    assert (await post(api, "/remote-address", {"address": "not-an-ip"})).status == 400
    assert (await post(api, "/remote-address", {"address": None})).status == 200
    assert (await post(api, f"/orgs/{acme.org_id}/ip-allowlist", {"cidrs": ["nope"]})).status == 400
    assert (await post(api, f"/orgs/{acme.org_id}/ip-allowlist", {"cidrs": []})).status == 200
    assert (await api.get("/api/v2/organizations/me", token)).status == 200
    assert (await api.call("GET", "/__sim/state")).json["orgs"][0]["ip_allowlist"] == []
    assert (await post(api, "/orgs/nowhere/ip-allowlist", {"cidrs": []})).status == 404


async def test_the_ui_person_and_the_audit_listing_through_http(api: Api) -> None:
    acme = api.sim.tenant("acme")
    assert (await post(api, f"/orgs/{acme.org_id}/ui-user", {"user": "agent"})).status == 200
    control.set_client_state(api.sim.world, acme.client_id, "inactive")
    (entry,) = (await api.call("GET", f"/__sim/audits?org_id={acme.org_id}")).json
    assert (entry["user"]["name"], entry["entityType"], entry["action"]) == ("Avery Agent", "OAuthClient", "Update")
    assert (await post(api, f"/orgs/{acme.org_id}/ui-user", {"user": "Nobody"})).status == 400
    assert (await post(api, f"/orgs/{acme.org_id}/ui-user", {"user": None})).status == 200


async def test_a_role_edit_reaches_every_holder(api: Api) -> None:
    acme, eu = api.sim.tenant("acme"), api.sim.tenant("acme-eu")
    token = await api.mint(acme.client_id)
    assert (await api.get(INTEGRATIONS, token)).status == 200
    edit = {"remove": ["messaging:integration:view"]}
    assert (await post(api, f"/orgs/{acme.org_id}/roles/Messaging Viewer", edit)).status == 200
    assert (await api.get(INTEGRATIONS, token)).code == "missing.permissions"  # an existing token, memo dropped
    eu_admin = await api.mint(eu.admin_client_id or "")
    assert (await api.get(INTEGRATIONS, eu_admin, region=eu.region)).status == 200  # another org's role is its own
    assert (await post(api, f"/orgs/{acme.org_id}/roles/Messaging Viewer", {"remove": ["a:b:c"]})).status == 400
    assert (await post(api, f"/orgs/{acme.org_id}/roles/Messaging Viewer", {"add": ["telepathy:*:*"]})).status == 400
    assert (await post(api, f"/orgs/{acme.org_id}/roles/Nope", {"add": []})).status == 400


def test_python_knobs_refuse_unknown_orgs_and_members(api: Api) -> None:
    with pytest.raises(control.ControlError, match="unknown org"):
        control_orgs.set_ip_allowlist(api.sim.world, "nowhere", [])
    with pytest.raises(control.ControlError, match="unknown trust"):
        control_orgs.set_trust_enabled(api.sim.world, "a", "b", True)
