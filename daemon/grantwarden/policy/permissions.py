"""Roles as facts, and the one rule that says whether a role grants a permission.

A role's rights live mostly in ``permissionPolicies`` whose ``entityName`` and ``actionSet`` may
hold ``"*"``; plain ``permissions`` holds the general ones (platform.md §10). Planning a
re-grant asks "which roles grant what is missing" many times, so the platform's JSON is read once
into small frozen facts here, tolerating missing or mistyped fields instead of failing a tenant.
Conditional policies (``allowConditions``) are treated as granting: the platform's own 403 says
what is missing, and a verified re-grant, not this guess, is what proves a fix. Callers: the
remediation shell (building facts from GET responses) and ``planning``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from typing import Any


class Requirement(enum.StrEnum):
    """How an operation's permission list is checked (platform.md §4.2, PYDOCS "ANY"/"ALL")."""

    ALL = "all"
    ANY = "any"


@dataclasses.dataclass(frozen=True, slots=True)
class PolicyFacts:
    """One ``DomainPermissionPolicy``: domain, entity (or "*") and actions (may hold "*")."""

    domain: str
    entity_name: str
    actions: frozenset[str]


@dataclasses.dataclass(frozen=True, slots=True)
class RoleFacts:
    """One ``DomainOrganizationRole`` reduced to what matching needs."""

    id: str
    name: str
    permissions: frozenset[str] = frozenset()  # general permissions, matched verbatim
    policies: tuple[PolicyFacts, ...] = ()


def grants(role: RoleFacts, permission: str) -> bool:
    """Whether ``role`` grants ``permission`` ("domain:entity:action", platform.md §10)."""
    if permission in role.permissions:
        return True
    parts = permission.split(":")
    if len(parts) != 3:
        return False
    domain, entity, action = parts
    return any(
        policy.domain == domain
        and policy.entity_name in (entity, "*")
        and (action in policy.actions or "*" in policy.actions)
        for policy in role.policies
    )


def granted_by(role: RoleFacts, wanted: Iterable[str]) -> frozenset[str]:
    """The subset of ``wanted`` that ``role`` grants."""
    return frozenset(p for p in wanted if grants(role, p))


def role_from_json(data: Mapping[str, Any]) -> RoleFacts | None:
    """RoleFacts from a ``DomainOrganizationRole`` dict; None when it has no usable id."""
    role_id = data.get("id")
    if not isinstance(role_id, str) or not role_id:
        return None
    name = data.get("name")
    return RoleFacts(
        id=role_id,
        name=name if isinstance(name, str) else "",
        permissions=frozenset(_strings(data.get("permissions"))),
        policies=tuple(_policies(data.get("permissionPolicies"))),
    )


def roles_from_listing(data: Mapping[str, Any]) -> tuple[RoleFacts, ...]:
    """Roles from one page of ``OrganizationRoleEntityListing`` (``GET /api/v2/authorization/roles``)."""
    entities = data.get("entities")
    if not isinstance(entities, list):
        return ()
    roles = (role_from_json(item) for item in entities if isinstance(item, dict))
    return tuple(role for role in roles if role is not None)


def licensed_from_listing(data: Mapping[str, Any]) -> frozenset[str]:
    """Permissions named by one page of ``GET /api/v2/authorization/permissions``.

    Each entity is a ``DomainPermissionCollection`` whose ``permissionMap`` maps an entity type
    to ``DomainPermission{domain, entityType, action}`` items (platform.md §10). The listing
    is paged: the caller unions every page before judging a permission unlicensed.
    """
    entities = data.get("entities")
    found: set[str] = set()
    for collection in entities if isinstance(entities, list) else ():
        mapping = collection.get("permissionMap") if isinstance(collection, dict) else None
        for items in mapping.values() if isinstance(mapping, dict) else ():
            found.update(_permission_names(items))
    return frozenset(found)


def _permission_names(items: object) -> Iterable[str]:
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        parts = (item.get("domain"), item.get("entityType"), item.get("action"))
        if all(isinstance(part, str) and part for part in parts):
            yield ":".join(str(part) for part in parts)


def _policies(value: object) -> Iterable[PolicyFacts]:
    for item in value if isinstance(value, list) else ():
        if not isinstance(item, dict):
            continue
        domain, entity = item.get("domain"), item.get("entityName")
        if isinstance(domain, str) and isinstance(entity, str):
            yield PolicyFacts(domain=domain, entity_name=entity, actions=frozenset(_strings(item.get("actionSet"))))


def _strings(value: object) -> Iterable[str]:
    return (item for item in value if isinstance(item, str)) if isinstance(value, list) else ()
