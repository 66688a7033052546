"""permissions: reading roles from the platform's JSON, and matching permissions with wildcards.

Covers: exact policy matches, ``entityName`` "*", ``actionSet`` "*", general permissions,
domains that must match exactly, malformed permission strings; tolerant parsing of
``DomainOrganizationRole`` dicts and listings; licensed permissions from the permissions listing.
"""

from __future__ import annotations

from typing import Any

import pytest

from grantwarden.policy import permissions
from grantwarden.policy.permissions import PolicyFacts, RoleFacts


def role(*policies: tuple[str, str, set[str]], general: frozenset[str] = frozenset()) -> RoleFacts:
    return RoleFacts(
        id="r1",
        name="Role",
        permissions=general,
        policies=tuple(PolicyFacts(domain=d, entity_name=e, actions=frozenset(a)) for d, e, a in policies),
    )


@pytest.mark.parametrize(
    ("facts", "permission", "expected"),
    [
        pytest.param(role(("messaging", "integration", {"view"})), "messaging:integration:view", True, id="exact"),
        pytest.param(
            role(("messaging", "integration", {"view"})), "messaging:integration:add", False, id="other-action"
        ),
        pytest.param(role(("messaging", "integration", {"view"})), "messaging:setting:view", False, id="other-entity"),
        pytest.param(role(("messaging", "*", {"view"})), "messaging:supportedContent:view", True, id="entity-wildcard"),
        pytest.param(
            role(("messaging", "*", {"view"})), "messaging:integration:edit", False, id="entity-wildcard-not-action"
        ),
        pytest.param(role(("routing", "queue", {"*"})), "routing:queue:edit", True, id="action-wildcard"),
        pytest.param(role(("directory", "*", {"*"})), "directory:user:delete", True, id="both-wildcards"),
        pytest.param(
            role(("directory", "*", {"*"})), "messaging:integration:view", False, id="wildcards-stay-in-domain"
        ),
        pytest.param(role(("*", "*", {"*"})), "messaging:integration:view", False, id="no-domain-wildcard"),
        pytest.param(
            role(("webDeployments", "deployment", {"view"})),
            "webdeployments:deployment:view",
            False,
            id="case-sensitive",
        ),
        pytest.param(role(general=frozenset({"group_creation"})), "group_creation", True, id="general-permission"),
        pytest.param(role(("messaging", "integration", {"view"})), "messaging:integration", False, id="two-parts"),
        pytest.param(role(("messaging", "integration", {"view"})), "", False, id="empty"),
        pytest.param(role(), "messaging:integration:view", False, id="no-policies"),
    ],
)
def test_grants(facts: RoleFacts, permission: str, expected: bool) -> None:
    assert permissions.grants(facts, permission) is expected


def test_granted_by_returns_the_subset_the_role_grants() -> None:
    facts = role(("messaging", "*", {"view"}))
    wanted = {"messaging:integration:view", "messaging:setting:view", "routing:queue:view"}
    assert permissions.granted_by(facts, wanted) == {"messaging:integration:view", "messaging:setting:view"}


ROLE_JSON: dict[str, Any] = {
    "id": "0c1b-role",
    "name": "Messaging Viewer",
    "permissions": ["group_creation", 7],
    "permissionPolicies": [
        {"domain": "messaging", "entityName": "*", "actionSet": ["view"], "policyName": "x"},
        {"domain": "webDeployments", "entityName": "deployment", "actionSet": ["view", None]},
        {"domain": "broken"},
        "not a dict",
    ],
    "userCount": 3,
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            ROLE_JSON,
            RoleFacts(
                id="0c1b-role",
                name="Messaging Viewer",
                permissions=frozenset({"group_creation"}),
                policies=(
                    PolicyFacts("messaging", "*", frozenset({"view"})),
                    PolicyFacts("webDeployments", "deployment", frozenset({"view"})),
                ),
            ),
            id="full-role-with-junk",
        ),
        pytest.param({"id": "r2"}, RoleFacts(id="r2", name=""), id="only-id"),
        pytest.param(
            {"id": "r3", "name": 5, "permissionPolicies": {"x": 1}}, RoleFacts(id="r3", name=""), id="wrong-types"
        ),
        pytest.param(
            {"id": "r4", "permissionPolicies": [{"domain": "d", "entityName": "e", "actionSet": "view"}]},
            RoleFacts(id="r4", name="", policies=(PolicyFacts("d", "e", frozenset()),)),
            id="action-set-not-a-list",
        ),
        pytest.param({"name": "no id"}, None, id="no-id"),
        pytest.param({"id": ""}, None, id="empty-id"),
        pytest.param({"id": 12}, None, id="numeric-id"),
    ],
)
def test_role_from_json(data: dict[str, Any], expected: RoleFacts | None) -> None:
    assert permissions.role_from_json(data) == expected


@pytest.mark.parametrize(
    ("data", "ids"),
    [
        pytest.param({"entities": [ROLE_JSON, {"id": "r2"}, {"name": "x"}, 3]}, ["0c1b-role", "r2"], id="skips-bad"),
        pytest.param({"entities": None}, [], id="no-entities"),
        pytest.param({}, [], id="empty"),
    ],
)
def test_roles_from_listing(data: dict[str, Any], ids: list[str]) -> None:
    assert [r.id for r in permissions.roles_from_listing(data)] == ids


def test_licensed_from_listing_reads_permission_maps() -> None:
    page = {
        "entities": [
            {
                "id": "messaging",
                "domain": "messaging",
                "permissionMap": {
                    "integration": [
                        {"domain": "messaging", "entityType": "integration", "action": "view"},
                        {"domain": "messaging", "entityType": "integration", "action": "add"},
                    ],
                    "setting": [{"domain": "messaging", "entityType": "setting", "action": None}],
                    "junk": "not a list",
                },
            },
            {"id": "broken", "permissionMap": None},
            "junk",
        ],
        "pageCount": 1,
    }
    assert permissions.licensed_from_listing(page) == {"messaging:integration:view", "messaging:integration:add"}
    assert permissions.licensed_from_listing({"entities": "nope"}) == frozenset()
