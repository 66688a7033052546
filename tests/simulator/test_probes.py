"""The probe endpoints (design.md §2.6) and their refusals for client-credentials tokens.

Covers: the six default probes pass for the healthy tenant with SDK-shaped listings (paging
fields, nextUri); 403 missing.permissions with the exact message for the missing role; an
unlicensed permission's 403 is identical and the permission is absent from every page of
/authorization/permissions; queues (ANY, division-filtered listing, missing.division.permission
for one queue elsewhere, missing.any.division.permissions for a named division,
missing.any.permissions without the permission); authz.policy.denied; not.a.user; the odd
permissions (a GET needing "add", a GET needing "manage").
"""

from __future__ import annotations

from typing import Any

from grantwarden.simulator import control, model

from .conftest import Api

PROBES = (
    "/api/v2/tokens/me?preserveIdleTTL=true",
    "/api/v2/organizations/me",
    "/api/v2/conversations/messaging/integrations?pageSize=1",
    "/api/v2/conversations/messaging/supportedcontent?pageSize=1",
    "/api/v2/webdeployments/deployments",
    "/api/v2/webdeployments/configurations",
)
MISSING_VIEW = (
    "Unable to perform the requested action. You are missing the following permission(s): [messaging:integration:view]"
)


async def test_the_healthy_tenant_passes_all_six_default_probes(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    assert [(await api.get(path, token)).status for path in PROBES] == [200] * 6


async def test_a_paged_listing_has_the_sdk_paging_fields(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    listing = (await api.get("/api/v2/conversations/messaging/integrations?pageSize=1&pageNumber=2", token)).json
    assert (listing["pageSize"], listing["pageNumber"], listing["total"], listing["pageCount"]) == (1, 2, 3, 3)
    assert listing["nextUri"].endswith("pageSize=1&pageNumber=3")
    assert listing["previousUri"].endswith("pageSize=1&pageNumber=1")
    assert listing["entities"][0]["messengerType"] == "whatsapp"


async def test_a_bad_page_size_is_invalid_query_param_value(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    reply = await api.get("/api/v2/conversations/messaging/integrations?pageSize=lots", token)
    assert (reply.status, reply.code) == (400, "invalid.query.param.value")


async def test_the_secondary_without_its_role_gets_missing_permissions_on_messaging(api: Api) -> None:
    eu = api.sim.tenant("acme-eu")
    token = await api.mint(eu.client_id)
    refused = await api.get("/api/v2/conversations/messaging/integrations?pageSize=1", token, region=eu.region)
    assert (refused.status, refused.json["code"], refused.json["message"]) == (403, "missing.permissions", MISSING_VIEW)
    assert (await api.get("/api/v2/webdeployments/deployments", token, region=eu.region)).status == 200


async def all_permission_pages(api: Api, token: str, region: str) -> list[dict[str, Any]]:
    collections: list[dict[str, Any]] = []
    number = 1
    while True:
        page = (await api.get(f"/api/v2/authorization/permissions?pageNumber={number}", token, region=region)).json
        collections += page["entities"]
        if number >= page["pageCount"]:
            return collections
        number += 1


def names(collections: list[dict[str, Any]]) -> set[str]:
    return {
        f"{p['domain']}:{p['entityType']}:{p['action']}"
        for c in collections
        for e in c["permissionMap"].values()
        for p in e
    }


async def test_an_unlicensed_permission_looks_missing_and_is_absent_from_the_permission_list(api: Api) -> None:
    latam = api.sim.tenant("acme-latam")
    token = await api.mint(latam.client_id)
    refused = await api.get("/api/v2/webdeployments/configurations", token, region=latam.region)
    assert (refused.status, refused.code) == (403, "missing.permissions")
    assert refused.json["message"].endswith("[webDeployments:configuration:view]")
    admin = await api.mint(latam.admin_client_id or "")
    listed = names(await all_permission_pages(api, admin, latam.region))
    assert "webDeployments:configuration:view" not in listed
    assert "webDeployments:deployment:view" in listed  # on the second page: the listing is paged


async def test_the_permission_list_is_paged_by_domain(api: Api) -> None:
    admin = await api.mint(api.sim.tenant("acme").admin_client_id or "")
    first = (await api.get("/api/v2/authorization/permissions", admin)).json
    assert (first["pageSize"], first["pageNumber"], first["pageCount"]) == (25, 1, 2)
    assert "webDeployments" not in {c["domain"] for c in first["entities"]}
    queried = (await api.get("/api/v2/authorization/permissions?query=webDeployments", admin)).json
    assert [c["domain"] for c in queried["entities"]] == ["webDeployments"]


async def test_the_queue_listing_shows_only_divisions_where_the_permission_is_held(api: Api) -> None:
    acme = api.sim.tenant("acme")  # Queue Viewer in the home division only; acme has two divisions
    token = await api.mint(acme.client_id)
    listing = (await api.get("/api/v2/routing/queues", token)).json
    assert [q["name"] for q in listing["entities"]] == ["Support - Home"]
    assert listing["total"] == 1


async def test_a_queue_in_another_division_is_missing_division_permission(api: Api) -> None:
    acme = api.sim.tenant("acme")
    org = api.sim.world.orgs[acme.org_id]
    elsewhere = next(q for q in org.queues if q.division_id != org.home_division_id)
    token = await api.mint(acme.client_id)
    refused = await api.get(f"/api/v2/routing/queues/{elsewhere.id}", token)
    assert (refused.status, refused.code) == (403, "missing.division.permission")
    assert refused.json["message"] == (
        "Unable to perform the requested action. You are missing the following permission "
        "'routing:queue:view' in the provided division(s)."
    )
    home = next(q for q in org.queues if q.division_id == org.home_division_id)
    assert (await api.get(f"/api/v2/routing/queues/{home.id}", token)).json["id"] == home.id
    assert (await api.get("/api/v2/routing/queues/no-such-queue", token)).code == "not.found"


async def test_naming_a_division_without_the_permission_there_is_missing_any_division_permissions(api: Api) -> None:
    acme = api.sim.tenant("acme")
    org = api.sim.world.orgs[acme.org_id]
    emea = next(d.id for d in org.divisions.values() if not d.home)
    token = await api.mint(acme.client_id)
    refused = await api.get(f"/api/v2/routing/queues?divisionId={emea}", token)
    assert refused.code == "missing.any.division.permissions"
    assert refused.json["message"].endswith(
        f"assigned: [routing:queue:view] in at least one of the following division(s): [{emea}]"
    )


async def test_queues_without_the_permission_anywhere_are_missing_any_permissions(api: Api) -> None:
    eu = api.sim.tenant("acme-eu")
    token = await api.mint(eu.client_id)
    refused = await api.get("/api/v2/routing/queues?pageSize=1", token, region=eu.region)
    assert (refused.code, refused.json["message"]) == (
        "missing.any.permissions",
        "Unable to perform the requested action. You must have at least one of the following permissions "
        "assigned: [routing:queue:view]",
    )


async def test_an_org_security_policy_denies_with_its_policy_id(api: Api) -> None:
    acme = api.sim.tenant("acme")
    control.set_policy(api.sim.world, acme.org_id, "/api/v2/webdeployments", "policy-7")
    token = await api.mint(acme.client_id)
    denied = await api.get("/api/v2/webdeployments/deployments", token)
    assert (denied.status, denied.code) == (403, "authz.policy.denied")
    assert denied.json["message"].endswith("Policy ID(s): [policy-7]")
    assert (await api.get("/api/v2/conversations/messaging/settings", token)).status == 200
    control.clear_policies(api.sim.world, acme.org_id)
    assert (await api.get("/api/v2/webdeployments/deployments", token)).status == 200


async def test_users_me_with_client_credentials_is_400_not_a_user(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    reply = await api.get("/api/v2/users/me", token)
    assert (reply.status, reply.code) == (400, "not.a.user")


async def test_the_odd_gets_need_add_and_manage_permissions(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)  # holds messaging:*:view, not add or manage
    facebook = await api.get("/api/v2/conversations/messaging/facebook/app", token)
    assert facebook.json["message"].endswith("[messaging:integration:add]")
    recipients = await api.get("/api/v2/routing/message/recipients", token)
    assert recipients.json["message"].endswith("[routing:message:manage]")


async def test_a_role_with_wildcards_grants_the_odd_gets(api: Api) -> None:
    acme = api.sim.tenant("acme")
    org = api.sim.world.orgs[acme.org_id]
    control.add_role(api.sim.world, acme.client_id, "Everything", model.ALL_DIVISIONS)
    assert org.role_named("Everything") is not None
    token = await api.mint(acme.client_id)
    assert (await api.get("/api/v2/conversations/messaging/facebook/app", token)).status == 200
    assert (await api.get("/api/v2/routing/message/recipients", token)).json["total"] == 3
    assert (await api.get("/api/v2/routing/queues", token)).json["total"] == 2  # every division now
