"""The audit trail and the realtime audit query (platform.md §11).

Covers: client PUT, create, delete and secret regeneration through the API recorded as
AuditLogMessages of service PeoplePermissions with the caller's client, user, home org and
address and the changed properties (never a secret); knob changes recorded as the org's UI person
(configurable; client id empty); trust and role changes; a trustee user's change in the trustor
org found by TrusteeOrganizationId; the query's filters (ANDed), sort, paging, 14-day look-back
whatever the interval, request validation (constraint.validation, invalid.date, invalid.value);
the permission (ALL audits:audit:view) and scope (audits:readonly); only the caller's org;
the service mapping.
"""

from __future__ import annotations

from typing import Any

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import control, control_orgs, grants, model

from .conftest import Api, Reply

QUERY = "/api/v2/audits/query/realtime"
VIA = "customer-via-partner"


def interval(clock: ManualClock, *, days_back: float = 1) -> str:
    return f"{model.iso(clock.now() - days_back * 86400)}/{model.iso(clock.now() + 60)}"


async def query(
    api: Api, clock: ManualClock, *filters: tuple[str, str], token: str | None = None, **extra: Any
) -> Reply:
    body: dict[str, Any] = {
        "interval": interval(clock),
        "serviceName": "PeoplePermissions",
        "filters": [{"property": p, "value": v} for p, v in filters],
        **extra,
    }
    token = token or await api.mint(api.sim.tenant("customer").admin_client_id or "")
    return await api.call("POST", QUERY, token=token, json=body)


async def put_client(api: Api, token: str, client_id: str, **changes: Any) -> Reply:
    current = (await api.get(f"/api/v2/oauth/clients/{client_id}", token)).json
    return await api.call("PUT", f"/api/v2/oauth/clients/{client_id}", token=token, json={**current, **changes})


async def test_a_put_by_a_client_is_audited_with_who_where_and_what(trust_api: Api, clock: ManualClock) -> None:
    customer = trust_api.sim.tenant("customer")
    admin = await trust_api.mint(customer.admin_client_id or "")
    current = (await trust_api.get(f"/api/v2/oauth/clients/{customer.client_id}", admin)).json
    reply = await put_client(
        trust_api, admin, customer.client_id, description="now audited", roleDivisions=current["roleDivisions"][:1]
    )
    assert reply.status == 200, reply.text
    found = (await query(trust_api, clock, ("EntityType", "OAuthClient"), ("EntityId", customer.client_id))).json
    (entry,) = found["entities"]
    assert {k: entry[k] for k in ("serviceName", "action", "entityType", "level", "status", "userHomeOrgId")} == {
        "serviceName": "PeoplePermissions",
        "action": "Update",
        "entityType": "OAuthClient",
        "level": "USER",
        "status": "SUCCESS",
        "userHomeOrgId": customer.org_id,
    }
    assert (entry["client"]["id"], entry["remoteIp"], "user" in entry) == (
        customer.admin_client_id,
        ["127.0.0.1"],
        False,
    )
    assert entry["entity"] == {"id": customer.client_id, "name": "Customer messaging integration"}
    changes = {c["property"]: c for c in entry["propertyChanges"]}
    assert set(changes) == {"description", "roleDivisions"}
    assert changes["description"] == {"property": "description", "oldValues": [""], "newValues": ["now audited"]}
    assert len(changes["roleDivisions"]["oldValues"]) == 2
    assert len(changes["roleDivisions"]["newValues"]) == 1


def role_id(api: Api, org_id: str, name: str) -> str:
    found = api.sim.world.orgs[org_id].role_named(name)
    assert found is not None
    return found.id


async def test_create_delete_and_secret_regeneration_are_audited_without_the_secret(
    trust_api: Api, clock: ManualClock
) -> None:
    customer = trust_api.sim.tenant("customer")
    control_orgs.edit_role(
        trust_api.sim.world, customer.org_id, "OAuth Client Admin", add=["oauth:client:add", "oauth:client:delete"]
    )
    admin = await trust_api.mint(customer.admin_client_id or "")
    body = {
        "name": "short-lived",
        "authorizedGrantType": "CLIENT-CREDENTIALS",
        "roleDivisions": [{"roleId": role_id(trust_api, customer.org_id, "Messaging Viewer")}],
    }
    made = await trust_api.call("POST", "/api/v2/oauth/clients", token=admin, json=body)
    assert made.status == 200, made.text
    secret, new_id = made.json["secret"], made.json["id"]
    regenerated = await trust_api.call("POST", f"/api/v2/oauth/clients/{new_id}/secret", token=admin)
    await put_client(trust_api, admin, new_id, state="inactive")
    assert (await trust_api.call("DELETE", f"/api/v2/oauth/clients/{new_id}", token=admin)).status == 204
    ascending = [{"name": "Timestamp", "sortOrder": "ascending"}]
    entries = (await query(trust_api, clock, ("EntityId", new_id), sort=ascending)).json["entities"]
    assert [e["action"] for e in entries] == ["Create", "Update", "Update", "Delete"]
    assert entries[1]["propertyChanges"] == [{"property": "secret", "oldValues": [], "newValues": []}]
    assert entries[2]["propertyChanges"] == [{"property": "state", "oldValues": ["active"], "newValues": ["inactive"]}]
    gone = {c["property"]: c for c in entries[3]["propertyChanges"]}
    assert gone["deleted_on"]["newValues"] == [model.iso(clock.now())]
    assert len(gone["roleDivisions"]["oldValues"]) == 1
    text = str(entries)
    assert secret not in text
    assert regenerated.json["secret"] not in text


async def test_knob_changes_are_audited_as_the_person_in_the_ui(trust_api: Api, clock: ManualClock) -> None:
    customer = trust_api.sim.tenant("customer")
    control.remove_role(trust_api.sim.world, customer.client_id, "Messaging Viewer")
    (entry,) = (await query(trust_api, clock, ("EntityId", customer.client_id))).json["entities"]
    assert entry["user"]["name"] == "Organization Administrator"
    assert (entry["client"], entry["remoteIp"]) == ({"id": ""}, ["198.51.100.7"])
    assert entry["propertyChanges"][0]["property"] == "roleDivisions"
    assert entry["message"]["message"] == "oauth client updated"


async def test_the_ui_person_is_configurable(trust_api: Api) -> None:
    world = trust_api.sim.world
    partner = trust_api.sim.tenant(VIA).trust_home_org_id or ""
    control_orgs.set_ui_user(world, partner, "lead")
    control.set_client_state(world, trust_api.sim.tenant(VIA).client_id, "inactive")
    (entry,) = world.audits.entries(partner)
    assert (entry.actor.user_name, entry.actor.home_org_id, entry.action) == ("Lee Lead", partner, "Update")
    control_orgs.set_ui_user(world, partner, None)
    control.set_client_state(world, trust_api.sim.tenant(VIA).client_id, "active")
    assert world.audits.entries(partner)[-1].actor.user_name == "Organization Administrator"


async def test_trust_and_role_changes_are_audited_in_the_trustor_org(trust_api: Api, clock: ManualClock) -> None:
    customer, partner = trust_api.sim.tenant("customer").org_id, trust_api.sim.tenant(VIA).trust_home_org_id or ""
    world = trust_api.sim.world
    control_orgs.set_trust_enabled(world, customer, partner, False)
    control_orgs.remove_trust_role(world, customer, partner, "consultant", "Web Deployments Viewer")
    control_orgs.edit_role(world, customer, "Queue Viewer", add=["routing:queue:edit"])
    entries = (await query(trust_api, clock, sort=[{"name": "Timestamp", "sortOrder": "ascending"}])).json["entities"]
    assert [(e["entityType"], e["action"]) for e in entries] == [
        ("OrganizationAuthorizationTrust", "Update"),
        ("OrganizationAuthorizationTrust", "MemberUpdate"),
        ("Role", "Update"),
    ]
    assert entries[0]["propertyChanges"] == [{"property": "enabled", "oldValues": ["true"], "newValues": ["false"]}]
    assert entries[1]["context"]["memberType"] == "User"
    assert entries[2]["propertyChanges"][0]["newValues"] == ["routing:queue:edit", "routing:queue:view"]
    actions = (await query(trust_api, clock, ("EntityType", "Role"), ("Action", "Update"))).json
    assert actions["total"] == 1


async def test_a_trustee_users_change_is_found_by_its_home_org(trust_api: Api, clock: ManualClock) -> None:
    tenant, customer = trust_api.sim.tenant(VIA), trust_api.sim.tenant("customer")
    world = trust_api.sim.world
    roles = ["OAuth Client Admin", "Messaging Viewer", "Web Deployments Viewer"]
    control_orgs.set_trust_member(world, tenant.org_id, tenant.trust_home_org_id or "", "consultant", roles)
    console = world.clients[tenant.client_id]
    grants.record(console, (), (*console.configured.scope, "oauth"), effective_at=clock.now())
    token = await trust_api.user_token(tenant.client_id, tenant.redirect_uri or "", target=tenant.org_id)
    assert (await put_client(trust_api, token, customer.client_id, description="by the partner")).status == 200
    (entry,) = (await query(trust_api, clock, ("TrusteeOrganizationId", tenant.trust_home_org_id or ""))).json[
        "entities"
    ]
    consultant = next(u for u in world.orgs[tenant.trust_home_org_id or ""].users.values() if u.name == "Pat Partner")
    assert (entry["userHomeOrgId"], entry["user"]["id"], entry["client"]["id"]) == (
        tenant.trust_home_org_id,
        consultant.id,
        tenant.client_id,
    )
    assert (await query(trust_api, clock, ("UserId", consultant.id))).json["total"] == 1
    assert (await query(trust_api, clock, ("ClientId", tenant.client_id))).json["total"] == 1
    assert (await query(trust_api, clock, ("ClientId", customer.client_id))).json["total"] == 0


async def test_the_query_sees_fourteen_days_whatever_the_interval(trust_api: Api, clock: ManualClock) -> None:
    customer = trust_api.sim.tenant("customer")
    control.set_client_state(trust_api.sim.world, customer.client_id, "inactive")
    await clock.advance(13 * 86400)
    control.set_client_state(trust_api.sim.world, customer.client_id, "active")
    wide = {"interval": interval(clock, days_back=30)}
    assert (await query(trust_api, clock, **wide)).json["total"] == 2
    await clock.advance(2 * 86400)  # the first change is now 15 days old
    found = (await query(trust_api, clock, **wide)).json["entities"]
    assert [c["newValues"] for e in found for c in e["propertyChanges"]] == [["active"]]


async def test_sorting_and_paging(trust_api: Api, clock: ManualClock) -> None:
    customer = trust_api.sim.tenant("customer")
    for state in ("inactive", "active", "inactive"):
        control.set_client_state(trust_api.sim.world, customer.client_id, state)
        await clock.advance(1)
    newest_first = [{"name": "Timestamp", "sortOrder": "descending"}]
    page = (await query(trust_api, clock, sort=newest_first, pageSize=2, pageNumber=1)).json
    assert (page["total"], page["pageCount"], page["pageSize"], len(page["entities"])) == (3, 2, 2, 2)
    assert page["entities"][0]["eventDate"] > page["entities"][1]["eventDate"]
    last = (await query(trust_api, clock, sort=newest_first, pageSize=2, pageNumber=2)).json
    assert [c["newValues"] for c in last["entities"][0]["propertyChanges"]] == [["inactive"]]


async def test_a_bad_query_is_refused_with_the_platforms_codes(trust_api: Api, clock: ManualClock) -> None:
    admin = await trust_api.mint(trust_api.sim.tenant("customer").admin_client_id or "")
    missing = await trust_api.call("POST", QUERY, token=admin, json={"serviceName": "PeoplePermissions"})
    assert (missing.status, missing.code) == (400, "constraint.validation")
    garbled = await trust_api.call("POST", QUERY, token=admin, json={"interval": "yesterday/today"})
    assert (garbled.status, garbled.code) == (400, "invalid.date")
    wrong = await query(trust_api, clock, ("Colour", "blue"))
    assert (wrong.status, wrong.code) == (400, "invalid.value")
    assert wrong.json["message"].startswith("Value [Colour] is not valid for field type [AuditQueryFilter.property]")
    sort = await query(trust_api, clock, sort=[{"name": "Size", "sortOrder": "ascending"}])
    assert (sort.status, sort.code) == (400, "invalid.value")


async def test_reading_audits_needs_audits_audit_view(trust_api: Api, clock: ManualClock) -> None:
    plain = await trust_api.mint(trust_api.sim.tenant("customer").client_id)
    reply = await query(trust_api, clock, token=plain)
    assert (reply.status, reply.code) == (403, "missing.permissions")
    assert reply.json["message"].endswith("You are missing the following permission(s): [audits:audit:view]")
    tenant = trust_api.sim.tenant(VIA)
    user = await trust_api.user_token(tenant.client_id, tenant.redirect_uri or "", target=tenant.org_id)
    scoped = await query(trust_api, clock, token=user)
    assert (scoped.status, scoped.json["message"]) == (403, "App not authorized to use scope [audits:readonly]")


async def test_an_org_sees_only_its_own_trail(trust_api: Api, clock: ManualClock) -> None:
    customer = trust_api.sim.tenant("customer")
    control.set_client_state(trust_api.sim.world, trust_api.sim.tenant(VIA).client_id, "inactive")  # a partner client
    assert (await query(trust_api, clock)).json["total"] == 0
    control.set_client_state(trust_api.sim.world, customer.client_id, "inactive")
    assert (await query(trust_api, clock)).json["total"] == 1


async def test_the_service_mapping_lists_what_is_recorded(trust_api: Api) -> None:
    admin = await trust_api.mint(trust_api.sim.tenant("customer").admin_client_id or "")
    mapping = (await trust_api.get(f"{QUERY}/servicemapping", admin)).json
    (service,) = mapping["services"]
    entities = {e["name"]: e["actions"] for e in service["entities"]}
    assert service["name"] == "PeoplePermissions"
    assert entities["OAuthClient"] == ["Create", "Update", "Delete"]
    assert "OrganizationAuthorizationTrust" in entities
