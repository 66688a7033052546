"""The org-authorization read API: trustees, trustors, trust members and their trustor roles.

Covers: GET /orgauthorization/trustees (and one trustee) for the trustor org's admin, with the
trust's enabled flag, dates, creator and the trustee organization; GET …/trustees/{org}/users and
/groups (TrustUser with trustUserDetails, TrustGroup); …/users|groups/{id}/roles as a
UserAuthorization of trustor roles and permissions; GET /orgauthorization/trustors on the trustee
side; each with its permission (403 missing.any.permissions) and scope; the trustee-side member
lists answering 403 missing.trustor.permissions unless the caller's own trust grants
orgTrusteeUser:view in the trustor org (a client-credentials caller never has it); 404 for a
pairing that does not exist.
"""

from __future__ import annotations

from grantwarden.simulator import control_orgs

from .conftest import Api

VIA = "customer-via-partner"
BASE = "/api/v2/orgauthorization"


async def admin(api: Api) -> str:
    return await api.mint(api.sim.tenant("customer").admin_client_id or "")


def partner_id(api: Api) -> str:
    return api.sim.tenant(VIA).trust_home_org_id or ""


def customer_id(api: Api) -> str:
    return api.sim.tenant("customer").org_id


async def test_the_trustor_lists_its_trustees(trust_api: Api) -> None:
    listing = (await trust_api.get(f"{BASE}/trustees", await admin(trust_api))).json
    (trustee,) = listing["entities"]
    assert (trustee["id"], trustee["enabled"], trustee["organization"]["name"]) == (
        partner_id(trust_api),
        True,
        "Partner Services",
    )
    assert trustee["createdBy"]["name"] == "Organization Administrator"
    assert "dateExpired" not in trustee
    assert (listing["total"], listing["pageNumber"]) == (1, 1)
    one = await trust_api.get(f"{BASE}/trustees/{partner_id(trust_api)}", await admin(trust_api))
    assert one.json == trustee


async def test_a_disabled_trust_is_still_listed_as_disabled(trust_api: Api) -> None:
    control_orgs.set_trust_enabled(trust_api.sim.world, customer_id(trust_api), partner_id(trust_api), False)
    listing = (await trust_api.get(f"{BASE}/trustees", await admin(trust_api))).json
    assert [t["enabled"] for t in listing["entities"]] == [False]


async def test_the_trustor_reads_the_trust_members(trust_api: Api) -> None:
    token, partner = await admin(trust_api), partner_id(trust_api)
    users = (await trust_api.get(f"{BASE}/trustees/{partner}/users", token)).json["entities"]
    assert [(u["name"], u["email"]) for u in users] == [("Pat Partner", "consultant@partner-services.example")]
    assert users[0]["trustUserDetails"]["createdBy"]["id"]
    groups = (await trust_api.get(f"{BASE}/trustees/{partner}/groups", token)).json["entities"]
    assert [(g["name"], g["memberCount"]) for g in groups] == [("Partner support", 2)]


async def test_a_members_trustor_roles_come_as_a_user_authorization(trust_api: Api) -> None:
    token, partner = await admin(trust_api), partner_id(trust_api)
    user_id = (await trust_api.get(f"{BASE}/trustees/{partner}/users", token)).json["entities"][0]["id"]
    roles = (await trust_api.get(f"{BASE}/trustees/{partner}/users/{user_id}/roles", token)).json
    assert sorted(r["name"] for r in roles["roles"]) == ["Messaging Viewer", "Web Deployments Viewer"]
    assert "messaging:integration:view" in roles["permissions"]
    assert "routing:queue:view" not in roles["permissions"]  # that one comes through the group
    assert {p["domain"] for p in roles["permissionPolicies"]} == {"messaging", "webDeployments"}
    group_id = (await trust_api.get(f"{BASE}/trustees/{partner}/groups", token)).json["entities"][0]["id"]
    group_roles = (await trust_api.get(f"{BASE}/trustees/{partner}/groups/{group_id}/roles", token)).json
    assert [r["name"] for r in group_roles["roles"]] == ["Queue Viewer"]
    unknown = await trust_api.get(f"{BASE}/trustees/{partner}/users/{group_id}/roles", token)
    assert (unknown.status, unknown.code) == (404, "not.found")


async def test_the_trustee_lists_its_trustors(trust_api: Api) -> None:
    tenant = trust_api.sim.tenant(VIA)
    home = await trust_api.user_token(tenant.client_id, tenant.redirect_uri or "")  # the consultant, at home
    listing = (await trust_api.get(f"{BASE}/trustors", home)).json
    assert [(t["id"], t["organization"]["name"]) for t in listing["entities"]] == [
        (customer_id(trust_api), "Customer Co")
    ]
    assert (await trust_api.get(f"{BASE}/trustees", home)).json["entities"] == []  # the partner trusts nobody


async def test_reading_trusts_needs_the_org_trust_permissions(trust_api: Api) -> None:
    plain = await trust_api.mint(trust_api.sim.tenant("customer").client_id)  # no Trust Viewer
    reply = await trust_api.get(f"{BASE}/trustees", plain)
    assert (reply.status, reply.code) == (403, "missing.any.permissions")
    assert reply.json["message"].endswith("[authorization:orgTrustee:view]")
    members = await trust_api.get(f"{BASE}/trustees/{partner_id(trust_api)}/groups", plain)
    assert members.json["message"].endswith("[authorization:orgTrusteeGroup:view]")


async def test_an_unknown_pairing_is_not_found(trust_api: Api) -> None:
    reply = await trust_api.get(f"{BASE}/trustees/{customer_id(trust_api)}/users", await admin(trust_api))
    assert (reply.status, reply.code) == (404, "not.found")


async def test_the_trustee_side_member_list_needs_the_permission_in_the_trustor_org(trust_api: Api) -> None:
    tenant = trust_api.sim.tenant(VIA)
    home = await trust_api.user_token(tenant.client_id, tenant.redirect_uri or "")  # holds Trust Viewer at home
    path = f"{BASE}/trustors/{customer_id(trust_api)}/users"
    refused = await trust_api.get(path, home)
    assert refused.status == 403
    assert {k: refused.json[k] for k in ("code", "message", "status")} == {
        "code": "missing.trustor.permissions",
        "message": "Missing required permission(s)",
        "status": 403,
    }
    roles = ["Messaging Viewer", "Trust Viewer"]
    control_orgs.set_trust_member(
        trust_api.sim.world, customer_id(trust_api), partner_id(trust_api), "consultant", roles
    )
    allowed = await trust_api.get(path, home)
    assert [u["name"] for u in allowed.json["entities"]] == ["Pat Partner"]
    groups = await trust_api.get(f"{BASE}/trustors/{customer_id(trust_api)}/groups", home)
    assert [g["name"] for g in groups.json["entities"]] == ["Partner support"]


async def test_a_client_credentials_caller_never_has_trustor_permissions(trust_api: Api) -> None:
    world = trust_api.sim.world
    control_orgs.set_trust_member(world, customer_id(trust_api), partner_id(trust_api), "consultant", ["Trust Viewer"])
    token = await trust_api.mint(trust_api.sim.tenant("customer").admin_client_id or "")  # customer org CC
    reply = await trust_api.get(f"{BASE}/trustors/{partner_id(trust_api)}/users", token)
    assert (reply.status, reply.code) == (404, "not.found")  # the customer is nobody's trustee
    control_orgs.create_trust(world, partner_id(trust_api), customer_id(trust_api))
    reply = await trust_api.get(f"{BASE}/trustors/{partner_id(trust_api)}/users", token)
    assert (reply.status, reply.code) == (403, "missing.trustor.permissions")


async def test_a_user_token_needs_the_organization_authorization_scope(api: Api) -> None:
    desktop = api.sim.tenant("acme-agent-desktop")  # its client lacks organization-authorization scopes
    token = await api.user_token(desktop.client_id, desktop.redirect_uri or "")
    reply = await api.get(f"{BASE}/trustors", token)
    assert (reply.status, reply.code) == (403, "app.not.authorized.for.scope")
    assert reply.json["message"] == (
        "App not authorized to use scope [organization-authorization, organization-authorization:readonly]"
    )
