"""The typed calls of the client against the loopback platform.

Covers: ``tokens_me`` with ``preserveIdleTTL`` and the home division; the OAuth client read raw
and written back whole (PUT replaces), a secret in a response registered for redaction; licensed
permissions and roles read from every page, paging without ``pageCount``, and a listing of the wrong shape
refused rather than read as empty; the signed-in user, a trust member's trustor roles and the
trust's groups (every page), and the realtime audit query POSTed as JSON, its records returned raw.
"""

from __future__ import annotations

from typing import Any

import pytest

from grantwarden.base import redaction
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, transport
from grantwarden.remote import gate as remote_gate
from tests.remote.conftest import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    ORG_ID,
    Canned,
    FakePlatform,
    Seen,
    error_body,
)

TOKENS_ME = "/api/v2/tokens/me"
PERMISSIONS = "/api/v2/authorization/permissions"
ROLES = "/api/v2/authorization/roles"
CLIENT_PATH = f"/api/v2/oauth/clients/{CLIENT_ID}"


async def test_tokens_me_preserves_the_idle_ttl_and_reads_the_org(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    info = {
        "organization": {"id": ORG_ID, "name": "acme"},
        "homeOrganization": {"id": ORG_ID, "name": "acme"},
        "authorizedScope": [],
        "OAuthClient": {"id": CLIENT_ID, "name": "grantwarden", "organization": {"id": ORG_ID}},
    }
    platform.respond("GET", TOKENS_ME, Canned(json=info))
    token_info = await client.tokens_me(endpoints, ACCESS_TOKEN, gate=gate)
    assert token_info.organization.id == ORG_ID
    assert token_info.oauth_client is not None
    assert token_info.oauth_client.organization is not None
    assert token_info.oauth_client.organization.id == ORG_ID
    assert platform.seen[0].query == {"preserveIdleTTL": "true"}


async def test_the_home_division_is_read_raw(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    division = {"id": "div-home", "name": "Home", "homeDivision": True, "selfUri": "/x"}
    platform.respond("GET", "/api/v2/authorization/divisions/home", Canned(json=division))
    assert await client.home_division(endpoints, ACCESS_TOKEN, gate=gate) == division


OAUTH_CLIENT: dict[str, Any] = {
    "id": CLIENT_ID,
    "name": "grantwarden",
    "authorizedGrantType": "CLIENT-CREDENTIALS",
    "roleDivisions": [{"roleId": "role-1", "divisionId": "div-home"}],
    "accessTokenValiditySeconds": 86400,
    "description": "kept verbatim",
    "someFutureField": {"nested": [1, 2]},
    "state": "active",
}


async def test_the_oauth_client_is_returned_raw_and_put_back_whole(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    platform.respond("GET", CLIENT_PATH, Canned(json=OAUTH_CLIENT))
    platform.route("PUT", CLIENT_PATH, lambda seen: Canned(json=seen.json))
    model, raw = await client.get_oauth_client(endpoints, ACCESS_TOKEN, CLIENT_ID, gate=gate)
    assert raw == OAUTH_CLIENT
    assert model.role_divisions[0].role_id == "role-1"

    wanted = {**raw, "roleDivisions": [*raw["roleDivisions"], {"roleId": "role-2", "divisionId": "div-home"}]}
    updated, reply = await client.put_oauth_client(endpoints, ACCESS_TOKEN, CLIENT_ID, wanted, gate=gate)

    assert platform.seen[-1].json == wanted
    assert [rd.role_id for rd in updated.role_divisions] == ["role-1", "role-2"]
    assert reply.correlation_id == "corr-2"


async def test_a_client_secret_in_a_response_is_registered_for_redaction(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: remote_gate.Gate,
    platform: FakePlatform,
    redactor: redaction.Redactor,
) -> None:
    platform.respond("GET", CLIENT_PATH, Canned(json={**OAUTH_CLIENT, "secret": CLIENT_SECRET}))
    await client.get_oauth_client(endpoints, ACCESS_TOKEN, CLIENT_ID, gate=gate)
    assert CLIENT_SECRET in redactor


def permissions_page(seen: Seen) -> Canned:
    """Three pages; the permission that matters is on the last one."""
    number = int(seen.query["pageNumber"])
    actions = {1: ["view", "add"], 2: ["edit"], 3: ["delete"]}[number]
    collection = {
        "id": "messaging",
        "domain": "messaging",
        "permissionMap": {
            "integration": [{"domain": "messaging", "entityType": "integration", "action": a} for a in actions],
            "setting": [{"action": "view"}] if number == 3 else [],
        },
    }
    return Canned(json={"entities": [collection], "pageNumber": number, "pageSize": 100, "pageCount": 3, "total": 3})


async def test_licensed_permissions_are_read_from_every_page(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    platform.route("GET", PERMISSIONS, permissions_page)
    licensed = await client.licensed_permissions(endpoints, ACCESS_TOKEN, gate=gate)
    assert licensed == {
        "messaging:integration:view",
        "messaging:integration:add",
        "messaging:integration:edit",
        "messaging:integration:delete",
        "messaging:setting:view",
    }
    assert [seen.query["pageNumber"] for seen in platform.seen] == ["1", "2", "3"]


async def test_every_role_of_the_org_is_read_from_every_page_raw(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    viewer = {"id": "r-1", "name": "Messaging Viewer", "permissionPolicies": [], "someFutureField": 1}
    web = {"id": "r-2", "name": "Web Deployments Viewer", "permissionPolicies": []}

    def roles(seen: Seen) -> Canned:
        number = int(seen.query["pageNumber"])
        return Canned(json={"entities": [viewer] if number == 1 else [web], "pageNumber": number, "pageCount": 2})

    platform.route("GET", ROLES, roles)
    assert await client.all_roles(endpoints, ACCESS_TOKEN, gate=gate) == [viewer, web]
    assert [seen.query["pageNumber"] for seen in platform.seen] == ["1", "2"]


async def test_without_page_count_paging_stops_at_the_first_short_page(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    def page(seen: Seen) -> Canned:
        size = 100 if seen.query["pageNumber"] == "1" else 1
        entity = {
            "domain": "routing",
            "permissionMap": {"queue": [{"domain": "routing", "entityType": "queue", "action": "view"}]},
        }
        return Canned(json={"entities": [entity] * size, "pageSize": 100})

    platform.route("GET", PERMISSIONS, page)
    assert await client.licensed_permissions(endpoints, ACCESS_TOKEN, gate=gate) == {"routing:queue:view"}
    assert len(platform.seen) == 2


async def test_a_permissions_page_of_the_wrong_shape_is_malformed_not_empty(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    platform.respond("GET", PERMISSIONS, Canned(json={"entities": [{"permissionMap": ["not", "a", "map"]}]}))
    with pytest.raises(errors.MalformedResponse):
        await client.licensed_permissions(endpoints, ACCESS_TOKEN, gate=gate)


async def test_the_signed_in_user_and_a_trust_members_roles_are_read(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    platform.respond("GET", "/api/v2/users/me", Canned(json={"id": "u-1", "name": "Pat Partner", "state": "active"}))
    roles = "/api/v2/orgauthorization/trustees/org-partner/users/u-1/roles"
    platform.respond(
        "GET", roles, Canned(json={"roles": [{"id": "r-1", "name": "Messaging Viewer"}], "permissions": []})
    )
    groups = "/api/v2/orgauthorization/trustees/org-partner/groups"
    platform.respond(
        "GET", groups, Canned(json={"entities": [{"id": "g-1", "name": "Partner support"}], "pageCount": 1})
    )
    user = await client.users_me(endpoints, ACCESS_TOKEN, gate=gate)
    member = await client.trustee_user_roles(endpoints, ACCESS_TOKEN, "org-partner", "u-1", gate=gate)
    assert (user.id, user.name) == ("u-1", "Pat Partner")
    assert [(r.id, r.name) for r in member.roles] == [("r-1", "Messaging Viewer")]
    assert await client.trustee_groups(endpoints, ACCESS_TOKEN, "org-partner", gate=gate) == ["Partner support"]


async def test_the_audit_query_is_posted_as_json_and_its_records_come_back_raw(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    entry = {"id": "a-1", "action": "Update", "entityType": "OAuthClient", "propertyChanges": []}
    platform.respond("POST", "/api/v2/audits/query/realtime", Canned(json={"entities": [entry], "pageCount": 1}))
    body = {"interval": "2027-01-01T00:00:00Z/2027-01-15T00:00:00Z", "serviceName": "PeoplePermissions"}
    assert await client.audit_query(endpoints, ACCESS_TOKEN, body, gate=gate) == [entry]
    (seen,) = platform.seen
    assert (seen.method, seen.json) == ("POST", body)


async def test_an_ip_refusal_is_its_own_error(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    message = "Requests originating from this IP address are not authorized: [203.0.113.9]"
    platform.respond("GET", "/api/v2/users/me", Canned(status=401, json=error_body(401, "ip.not.authorized", message)))
    with pytest.raises(errors.IpNotAuthorized) as refused:
        await client.users_me(endpoints, ACCESS_TOKEN, gate=gate)
    assert refused.value.reply.facts.message == message
