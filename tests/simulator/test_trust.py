"""Org trust: a trustee user's token acting in the trustor org (platform.md §7, platform.md §13).

Covers: /oauth/authorize?target=<trustor> with the trustee's own client yields a token whose
tokens/me has organization = trustor, homeOrganization = trustee and OAuthClient.organization =
the client's (trustee) org; the token reads the trustor org's estate with the trust member's
trustor roles (user roles in all divisions, group roles in one division) ∩ the client's scopes;
a removed trustor role gives the generic 403 missing.permissions; a disabled, expired or deleted
trust refuses the picker (access_denied) and kills the existing tokens (401 bad.credentials) and
refresh tokens (invalid_grant); a non-member, an unknown org and an untrusting org are
access_denied; users/me?expand=token,trustors; client credentials never reach the trustor org.
"""

from __future__ import annotations

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import control, control_orgs, model

from .conftest import Api

VIA = "customer-via-partner"
INTEGRATIONS = "/api/v2/conversations/messaging/integrations"


def trustee_of(api: Api) -> str:
    return api.sim.tenant(VIA).trust_home_org_id or ""


async def trusted_token(api: Api) -> str:
    tenant = api.sim.tenant(VIA)
    return await api.user_token(tenant.client_id, tenant.redirect_uri or "", target=tenant.org_id)


async def test_the_trusted_token_acts_in_the_trustor_org_and_names_its_home_org(trust_api: Api) -> None:
    tenant = trust_api.sim.tenant(VIA)
    info = (await trust_api.get("/api/v2/tokens/me", await trusted_token(trust_api))).json
    assert info["organization"] == {"id": tenant.org_id, "name": "Customer Co"}
    assert info["homeOrganization"] == {"id": trustee_of(trust_api), "name": "Partner Services"}
    assert info["OAuthClient"]["id"] == tenant.client_id
    assert info["OAuthClient"]["organization"]["id"] == trustee_of(trust_api)
    org = (await trust_api.get("/api/v2/organizations/me", await trusted_token(trust_api))).json
    assert org["id"] == tenant.org_id


async def test_without_a_target_the_same_login_acts_in_the_users_home_org(trust_api: Api) -> None:
    tenant = trust_api.sim.tenant(VIA)
    token = await trust_api.user_token(tenant.client_id, tenant.redirect_uri or "")
    info = (await trust_api.get("/api/v2/tokens/me", token)).json
    assert info["organization"] == info["homeOrganization"]
    assert info["organization"]["id"] == trustee_of(trust_api)


async def test_the_trusted_user_has_its_trustor_roles_there(trust_api: Api) -> None:
    token = await trusted_token(trust_api)
    assert (await trust_api.get(INTEGRATIONS, token)).status == 200  # Messaging Viewer (trust, all divisions)
    listing = (await trust_api.get(INTEGRATIONS, token)).json
    assert {e["name"] for e in listing["entities"]} >= {"Customer Co Web Messenger"}
    assert (await trust_api.get("/api/v2/webdeployments/deployments", token)).status == 200


async def test_the_trusted_user_is_also_limited_by_the_clients_scopes(trust_api: Api) -> None:
    token = await trusted_token(trust_api)  # the partner console has no oauth scope
    reply = await trust_api.get("/api/v2/oauth/clients", token)
    assert (reply.status, reply.code) == (403, "app.not.authorized.for.scope")


async def test_a_groups_trustor_role_applies_in_its_one_division(trust_api: Api) -> None:
    world = trust_api.sim.world
    tenant = trust_api.sim.tenant(VIA)
    token = await trusted_token(trust_api)
    queues = (await trust_api.get("/api/v2/routing/queues", token)).json["entities"]
    assert [q["division"]["name"] for q in queues] == ["Home"]  # Queue Viewer through the support group, Home only
    customer = world.orgs[tenant.org_id]
    emea = next(q for q in customer.queues if q.division_id != customer.home_division_id)
    refused = await trust_api.get(f"/api/v2/routing/queues/{emea.id}", token)
    assert (refused.status, refused.code) == (403, "missing.division.permission")


async def test_a_removed_trustor_role_is_the_generic_missing_permissions(trust_api: Api) -> None:
    tenant = trust_api.sim.tenant(VIA)
    token = await trusted_token(trust_api)
    control_orgs.remove_trust_role(
        trust_api.sim.world, tenant.org_id, trustee_of(trust_api), "consultant", "Messaging Viewer"
    )
    reply = await trust_api.get(INTEGRATIONS, token)
    assert (reply.status, reply.code) == (403, "missing.permissions")
    assert reply.json["message"] == (
        "Unable to perform the requested action. You are missing the following permission(s): "
        "[messaging:integration:view]"
    )
    assert (await trust_api.get("/api/v2/webdeployments/deployments", token)).status == 200


async def test_home_org_roles_do_not_travel_to_the_trustor_org(trust_api: Api) -> None:
    tenant = trust_api.sim.tenant(VIA)
    control_orgs.set_trust_member(trust_api.sim.world, tenant.org_id, trustee_of(trust_api), "consultant", [])
    control_orgs.remove_trust_member(trust_api.sim.world, tenant.org_id, trustee_of(trust_api), "support")
    token = await trusted_token(trust_api)  # still a member, with no trustor role at all
    assert (await trust_api.get(INTEGRATIONS, token)).code == "missing.permissions"
    assert (await trust_api.get("/api/v2/tokens/me", token)).status == 200


async def test_a_disabled_trust_refuses_the_picker_and_kills_existing_tokens(trust_api: Api) -> None:
    tenant = trust_api.sim.tenant(VIA)
    token = await trusted_token(trust_api)
    control_orgs.set_trust_enabled(trust_api.sim.world, tenant.org_id, trustee_of(trust_api), False)
    assert (await trust_api.get("/api/v2/tokens/me", token)).code == "bad.credentials"
    refused = await trust_api.authorize(tenant.client_id, tenant.redirect_uri or "", target=tenant.org_id, state="s")
    assert refused == {"error": "access_denied", "state": "s"}
    control_orgs.set_trust_enabled(trust_api.sim.world, tenant.org_id, trustee_of(trust_api), True)
    assert (await trust_api.get("/api/v2/tokens/me", token)).status == 200  # not revoked: the trust lets it in again


async def test_an_expired_or_deleted_trust_lets_nobody_in(trust_api: Api, clock: ManualClock) -> None:
    tenant = trust_api.sim.tenant(VIA)
    world = trust_api.sim.world
    token = await trusted_token(trust_api)
    control_orgs.set_trust_expiry(world, tenant.org_id, trustee_of(trust_api), clock.now() + 60)
    assert (await trust_api.get("/api/v2/tokens/me", token)).status == 200
    await clock.advance(60)
    assert (await trust_api.get("/api/v2/tokens/me", token)).code == "bad.credentials"
    control_orgs.set_trust_expiry(world, tenant.org_id, trustee_of(trust_api), None)
    control_orgs.delete_trust(world, tenant.org_id, trustee_of(trust_api))
    assert (await trust_api.get("/api/v2/tokens/me", token)).code == "bad.credentials"


async def test_the_refresh_token_keeps_the_trustor_org_until_the_trust_ends(trust_api: Api) -> None:
    tenant = trust_api.sim.tenant(VIA)
    granted = await trust_api.code_grant(tenant.client_id, tenant.redirect_uri or "", target=tenant.org_id)
    form = {"grant_type": "refresh_token", "refresh_token": granted["refresh_token"]}
    secret = trust_api.sim.secret(tenant.client_id)
    refreshed = await trust_api.token_request(form, client_id=tenant.client_id, secret=secret)
    info = (await trust_api.get("/api/v2/tokens/me", refreshed.json["access_token"])).json
    assert info["organization"]["id"] == tenant.org_id
    control_orgs.set_trust_enabled(trust_api.sim.world, tenant.org_id, trustee_of(trust_api), False)
    form["refresh_token"] = refreshed.json["refresh_token"]
    refused = await trust_api.token_request(form, client_id=tenant.client_id, secret=secret)
    assert (refused.status, refused.code) == (400, "invalid_grant")


async def test_targets_the_user_may_not_pick_are_access_denied(trust_api: Api) -> None:
    tenant = trust_api.sim.tenant(VIA)
    world = trust_api.sim.world
    uri = tenant.redirect_uri or ""
    assert (await trust_api.authorize(tenant.client_id, uri, target="no-such-org"))["error"] == "access_denied"
    control_orgs.remove_trust_member(world, tenant.org_id, trustee_of(trust_api), "consultant")
    control_orgs.remove_trust_member(world, tenant.org_id, trustee_of(trust_api), "support")
    assert (await trust_api.authorize(tenant.client_id, uri, target=tenant.org_id))["error"] == "access_denied"
    control_orgs.set_trust_member(world, tenant.org_id, trustee_of(trust_api), "support", ["Messaging Viewer"])
    assert "code" in await trust_api.authorize(tenant.client_id, uri, target=tenant.org_id)  # through its group


async def test_users_me_expands_the_token_and_the_trustors(trust_api: Api) -> None:
    tenant = trust_api.sim.tenant(VIA)
    home_token = await trust_api.user_token(tenant.client_id, tenant.redirect_uri or "")
    me = (await trust_api.get("/api/v2/users/me", home_token, params={"expand": "token,trustors"})).json
    assert me["name"] == "Pat Partner"
    assert me["token"]["homeOrganization"]["id"] == trustee_of(trust_api)
    (trustor,) = me["trustors"]
    assert (trustor["id"], trustor["enabled"], trustor["organization"]["name"]) == (tenant.org_id, True, "Customer Co")
    assert "messaging:integration:view" in trustor["authorization"]["permissions"]
    assert "routing:queue:view" in trustor["authorization"]["permissions"]  # through the group
    trusted = await trusted_token(trust_api)
    me_there = (await trust_api.get("/api/v2/users/me", trusted, params={"expand": "organization"})).json
    assert (me_there["id"], me_there["organization"]["id"]) == (me["id"], tenant.org_id)


async def test_client_credentials_cannot_reach_a_trustor_org(trust_api: Api) -> None:
    """No org parameter in the grant: a partner CC client's token acts in the partner org only."""
    world = trust_api.sim.world
    partner = world.orgs[trustee_of(trust_api)]
    client = world.add_client(
        model.OAuthClient(
            id="partner-cc",
            org_id=partner.id,
            name="partner automation",
            secret="s3cret-value",
            grant_type=model.CLIENT_CREDENTIALS,
            versions=[model.ClientGrants(0, float("-inf"), (model.RoleDivision(next(iter(partner.roles)), "*"),), ())],
        )
    )
    form = {"grant_type": "client_credentials", "target": trust_api.sim.tenant(VIA).org_id}
    reply = await trust_api.token_request(form, client_id=client.id, secret="s3cret-value")
    info = (await trust_api.get("/api/v2/tokens/me", reply.json["access_token"])).json
    assert info["organization"]["id"] == partner.id  # the unknown parameter is ignored


async def test_the_trust_changes_are_visible_in_the_control_state(trust_api: Api) -> None:
    state = control.snapshot(trust_api.sim.world)
    (entry,) = state["trusts"]
    assert (entry["trustor_org_id"], entry["trustee_org_id"]) == (
        trust_api.sim.tenant(VIA).org_id,
        trustee_of(trust_api),
    )
    assert {m["kind"] for m in entry["members"]} == {"user", "group"}
