"""The OAuth client API: GET, PUT (full replace, the platform's refusals), secret regeneration.

Covers: listing and reading clients of the caller's org only (404 client.not.found for another
org's), never a secret; oauth:client:view/edit needed (missing.any.permissions); PUT replaces
the whole object (omitted fields reset); name required, grant.type.required, bad.grant.type,
bad.client.state, missing.client.roles, missing.client.scope, auth.invalid.scope; bad.client.role
for an unknown role or division, a role the caller does not hold, a newly added role with
unlicensed permissions; PUT to disabled revokes tokens; POST …/secret returns a new secret once,
the old one stops working, and needs the caller to hold the client's roles.
"""

from __future__ import annotations

from typing import Any

from grantwarden.simulator import control

from .conftest import Api, Reply


async def admin_of(api: Api, tenant: str) -> tuple[str, str]:
    spec = api.sim.tenant(tenant)
    return await api.mint(spec.admin_client_id or ""), spec.region


async def read(api: Api, tenant: str) -> tuple[str, str, dict[str, Any]]:
    token, region = await admin_of(api, tenant)
    client_id = api.sim.tenant(tenant).client_id
    return token, region, (await api.get(f"/api/v2/oauth/clients/{client_id}", token, region=region)).json


async def put(api: Api, tenant: str, token: str, region: str, body: Any) -> Reply:
    client_id = api.sim.tenant(tenant).client_id
    return await api.call("PUT", f"/api/v2/oauth/clients/{client_id}", token=token, region=region, json=body)


def role_id(api: Api, tenant: str, name: str) -> str:
    org = api.sim.world.orgs[api.sim.tenant(tenant).org_id]
    found = org.role_named(name)
    assert found is not None
    return found.id


async def test_the_client_list_holds_the_orgs_clients_without_secrets(api: Api) -> None:
    token, _ = await admin_of(api, "acme")
    listing = (await api.get("/api/v2/oauth/clients", token)).json
    assert len(listing["entities"]) == 3
    assert all("secret" not in client for client in listing["entities"])
    assert all(api.sim.secret(c["id"]) not in str(listing) for c in listing["entities"])


async def test_a_client_of_another_org_is_client_not_found(api: Api) -> None:
    token, _ = await admin_of(api, "acme")
    eu_client = api.sim.tenant("acme-eu").client_id
    reply = await api.get(f"/api/v2/oauth/clients/{eu_client}", token)
    assert (reply.status, reply.code) == (404, "client.not.found")


async def test_reading_clients_needs_oauth_client_view(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    reply = await api.get("/api/v2/oauth/clients", token)
    assert (reply.status, reply.code) == (403, "missing.any.permissions")
    assert reply.json["message"].endswith("[oauth:client:view]")


async def test_a_regrant_puts_the_full_object_with_the_added_role(api: Api) -> None:
    token, region, client = await read(api, "acme-eu")
    added = {
        "roleId": role_id(api, "acme-eu", "Messaging Viewer"),
        "divisionId": client["roleDivisions"][0]["divisionId"],
    }
    reply = await put(api, "acme-eu", token, region, {**client, "roleDivisions": [*client["roleDivisions"], added]})
    assert reply.status == 200
    assert added in reply.json["roleDivisions"]
    assert "secret" not in reply.json
    assert reply.json["modifiedBy"]["id"] == api.sim.tenant("acme-eu").admin_client_id


async def test_put_replaces_the_whole_client_so_omitted_fields_fall_back_to_defaults(api: Api) -> None:
    token, region, client = await read(api, "acme-eu")
    api.sim.world.clients[client["id"]].description = "was here"
    api.sim.world.clients[client["id"]].validity_seconds = 3600
    minimal = {
        "name": client["name"],
        "authorizedGrantType": "CLIENT-CREDENTIALS",
        "roleDivisions": client["roleDivisions"],
    }
    replaced = (await put(api, "acme-eu", token, region, minimal)).json
    assert (replaced["description"], replaced["accessTokenValiditySeconds"], replaced["state"]) == ("", 86400, "active")


async def test_put_refusals_carry_the_platform_codes(api: Api) -> None:
    token, region, client = await read(api, "acme-eu")
    cases = [
        ({**client, "name": ""}, "constraint.validation"),
        ({k: v for k, v in client.items() if k != "authorizedGrantType"}, "grant.type.required"),
        ({**client, "authorizedGrantType": "MAGIC"}, "bad.grant.type"),
        ({**client, "authorizedGrantType": "CODE"}, "bad.grant.type"),
        ({**client, "state": "paused"}, "bad.client.state"),
        ({**client, "roleDivisions": []}, "missing.client.roles"),
        ({**client, "roleDivisions": [{"roleId": "no-such-role"}]}, "bad.client.role"),
        ({**client, "roleDivisions": [{**client["roleDivisions"][0], "divisionId": "nowhere"}]}, "bad.client.role"),
        ({**client, "accessTokenValiditySeconds": 10}, "constraint.validation"),
        (["not", "an", "object"], "bad.request"),
    ]
    for body, code in cases:
        reply = await put(api, "acme-eu", token, region, body)
        assert (reply.status, reply.code) == (400, code), body


async def test_a_user_grant_client_needs_a_known_scope(api: Api) -> None:
    token, region, client = await read(api, "acme-agent-desktop")
    assert (await put(api, "acme-agent-desktop", token, region, {**client, "scope": []})).code == "missing.client.scope"
    unknown = await put(api, "acme-agent-desktop", token, region, {**client, "scope": ["telepathy:readonly"]})
    assert unknown.code == "auth.invalid.scope"


async def test_granting_a_role_the_caller_does_not_hold_is_bad_client_role(api: Api) -> None:
    token, region, client = await read(api, "acme-eu")
    queue_viewer = {"roleId": role_id(api, "acme-eu", "Queue Viewer"), "divisionId": "*"}
    reply = await put(
        api, "acme-eu", token, region, {**client, "roleDivisions": [*client["roleDivisions"], queue_viewer]}
    )
    assert (reply.status, reply.code) == (400, "bad.client.role")
    assert reply.json["details"][0]["entityName"] == "Queue Viewer"


async def test_granting_a_role_with_unlicensed_permissions_fails(api: Api) -> None:
    latam = api.sim.tenant("acme-latam")
    org = api.sim.world.orgs[latam.org_id]
    control.remove_role(api.sim.world, latam.client_id, "Web Deployments Viewer")
    token, region, client = await read(api, "acme-latam")
    regrant = {"roleId": role_id(api, "acme-latam", "Web Deployments Viewer"), "divisionId": org.home_division_id}
    reply = await put(
        api, "acme-latam", token, region, {**client, "roleDivisions": [*client["roleDivisions"], regrant]}
    )
    assert (reply.status, reply.code) == (400, "bad.client.role")


async def test_a_role_already_held_with_unlicensed_permissions_does_not_block_other_edits(api: Api) -> None:
    token, region, client = await read(api, "acme-latam")
    assert (await put(api, "acme-latam", token, region, {**client, "description": "edited"})).status == 200


async def test_putting_a_client_disabled_revokes_its_tokens(api: Api) -> None:
    eu = api.sim.tenant("acme-eu")
    victim = await api.mint(eu.client_id)
    token, region, client = await read(api, "acme-eu")
    assert (await put(api, "acme-eu", token, region, {**client, "state": "disabled"})).json["state"] == "disabled"
    assert (await api.get("/api/v2/tokens/me", victim, region=region)).code == "bad.credentials"


async def test_editing_a_client_needs_oauth_client_edit(api: Api) -> None:
    eu = api.sim.tenant("acme-eu")
    token = await api.mint(eu.client_id)
    reply = await api.call("PUT", f"/api/v2/oauth/clients/{eu.client_id}", token=token, region=eu.region, json={})
    assert (reply.status, reply.code) == (403, "missing.any.permissions")


async def test_a_regenerated_secret_is_returned_once_and_replaces_the_old_one(api: Api) -> None:
    eu = api.sim.tenant("acme-eu")
    old = api.sim.secret(eu.client_id)
    token, region = await admin_of(api, "acme-eu")
    reply = await api.call("POST", f"/api/v2/oauth/clients/{eu.client_id}/secret", token=token, region=region)
    new = reply.json["secret"]
    assert new != old
    form = {"grant_type": "client_credentials"}
    assert (await api.token_request(form, client_id=eu.client_id, secret=old, region=region)).code == "invalid_client"
    assert (await api.token_request(form, client_id=eu.client_id, secret=new, region=region)).status == 200
    assert "secret" not in (await api.get(f"/api/v2/oauth/clients/{eu.client_id}", token, region=region)).json


async def test_regenerating_a_secret_needs_every_role_of_the_client(api: Api) -> None:
    acme = api.sim.tenant("acme")
    control.remove_role(api.sim.world, acme.admin_client_id or "", "Queue Viewer")
    token, _ = await admin_of(api, "acme")
    reply = await api.call("POST", f"/api/v2/oauth/clients/{acme.client_id}/secret", token=token)
    assert (reply.code, reply.json["message"]) == (
        "bad.client.role",
        "The caller does not have all the roles assigned to this client.",
    )


async def test_roles_are_listed_by_name_with_policies_and_unused_permissions(api: Api) -> None:
    token, region = await admin_of(api, "acme-latam")
    listing = (await api.get("/api/v2/authorization/roles?name=viewer", token, region=region)).json
    assert [r["name"] for r in listing["entities"]] == ["Messaging Viewer", "Queue Viewer", "Web Deployments Viewer"]
    web = listing["entities"][2]
    policies = {(p["domain"], p["entityName"], tuple(p["actionSet"])) for p in web["permissionPolicies"]}
    assert policies == {("webDeployments", "deployment", ("view",)), ("webDeployments", "configuration", ("view",))}
    assert web["unusedPermissions"] == ["webDeployments:configuration:view"]
    paged = (await api.get("/api/v2/authorization/roles?pageSize=2&pageNumber=2", token, region=region)).json
    assert (paged["pageCount"], paged["total"], len(paged["entities"])) == (3, 5, 2)


async def test_the_home_division_is_the_orgs_first_division(api: Api) -> None:
    token, _ = await admin_of(api, "acme")
    home = (await api.get("/api/v2/authorization/divisions/home", token)).json
    org = api.sim.world.orgs[api.sim.tenant("acme").org_id]
    assert (home["id"], home["name"], home["homeDivision"]) == (org.home_division_id, "Home", True)
