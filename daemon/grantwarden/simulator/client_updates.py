"""Validation of ``POST`` and ``PUT /api/v2/oauth/clients[/{id}]``, with the platform's refusals.

PUT replaces the whole client (platform.md §2.3, §2.4, §17.10): what the body omits falls back
to the defaults (no description, no redirect URIs, 86400 s, state active, no roles, no scope).
POST validates the same body for a new client, which "can only have an active state".
Refusals, all 400: ``constraint.validation`` (name), ``grant.type.required``, ``bad.grant.type``
(unknown, or a different type than the client has), ``bad.client.state``, ``missing.client.roles``
(client credentials without roles), ``missing.client.scope`` (user grants without scope),
``auth.invalid.scope``, and ``bad.client.role`` for an unknown role or division, a role the
caller does not hold ("the same roles as the OAuth client you plan to edit"), or a newly
added role whose permissions the org is not licensed for. Pure: returns an ``Update``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Set
from typing import Any

from grantwarden.simulator import catalog, errors, model, permissions


@dataclasses.dataclass(frozen=True, slots=True)
class Update:
    name: str
    description: str
    grant_type: str
    redirect_uris: tuple[str, ...]
    validity_seconds: int
    state: str
    role_divisions: tuple[model.RoleDivision, ...]
    scope: tuple[str, ...]


def _bad_role(message: str, role_id: str, role_name: str | None = None) -> errors.PlatformError:
    detail = {"errorCode": "bad.client.role", "fieldName": "roleDivisions", "entityId": role_id}
    if role_name:
        detail["entityName"] = role_name
    return errors.PlatformError(400, "bad.client.role", message, details=[detail])


def _strings(body: Mapping[str, Any], field: str) -> tuple[str, ...]:
    value = body.get(field) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise errors.bad_request(f"{field} must be a list of strings", code="constraint.validation", field=field)
    return tuple(value)


def _role_divisions(org: model.Org, body: Mapping[str, Any]) -> tuple[model.RoleDivision, ...]:
    raw = body.get("roleDivisions")
    if raw is None:  # roleIds is deprecated; its roles apply in the home division
        return tuple(model.RoleDivision(r, org.home_division_id) for r in _strings(body, "roleIds"))
    if not isinstance(raw, list):
        raise errors.bad_request("roleDivisions must be a list", code="constraint.validation", field="roleDivisions")
    found: list[model.RoleDivision] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("roleId"), str):
            raise errors.bad_request("each roleDivision needs a roleId", code="constraint.validation")
        division = item.get("divisionId") or org.home_division_id
        if not isinstance(division, str):
            raise errors.bad_request("divisionId must be a string", code="constraint.validation")
        found.append(model.RoleDivision(item["roleId"], division))
    return tuple(dict.fromkeys(found))


def _basics(client: model.OAuthClient | None, body: Mapping[str, Any]) -> tuple[str, str, str, int]:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise errors.bad_request("name is required", code="constraint.validation", field="name")
    grant_type = body.get("authorizedGrantType")
    if grant_type is None:
        raise errors.bad_request("Grant type is required.", code="grant.type.required")
    if grant_type not in model.GRANT_TYPES or (client is not None and grant_type != client.grant_type):
        raise errors.bad_request("Invalid grant type.", code="bad.grant.type", field="authorizedGrantType")
    state = body.get("state") or "active"
    if state not in model.CLIENT_STATES:
        raise errors.bad_request("Client state is invalid.", code="bad.client.state", field="state")
    if client is None and state != "active":
        raise errors.bad_request("New clients can only have an active state", code="bad.client.state", field="state")
    validity = body.get("accessTokenValiditySeconds", model.DEFAULT_VALIDITY_SECONDS)
    if (
        not isinstance(validity, int)
        or isinstance(validity, bool)
        or not model.MIN_VALIDITY_SECONDS <= validity <= model.MAX_VALIDITY_SECONDS
    ):
        raise errors.bad_request(
            "accessTokenValiditySeconds must be between 300 and 172800",
            code="constraint.validation",
            field="accessTokenValiditySeconds",
        )
    return name, grant_type, state, validity


def _check_roles(
    org: model.Org,
    client: model.OAuthClient | None,
    role_divisions: tuple[model.RoleDivision, ...],
    caller_roles: Set[str],
) -> None:
    existing = {rd.role_id for rd in client.configured.role_divisions} if client is not None else set()
    for rd in role_divisions:
        role = org.roles.get(rd.role_id)
        if role is None:
            raise _bad_role("Client role is invalid.", rd.role_id)
        if rd.division_id != model.ALL_DIVISIONS and rd.division_id not in org.divisions:
            raise _bad_role("Client role is invalid.", rd.role_id, role.name)
        if rd.role_id not in caller_roles:
            raise _bad_role("Client role is invalid.", rd.role_id, role.name)
        if rd.role_id not in existing:
            unlicensed = [p for p in permissions.expand(role, catalog.ALL_PERMISSIONS) if p not in org.licensed]
            if unlicensed:
                raise _bad_role("Client role is invalid.", rd.role_id, role.name)


def validate(org: model.Org, client: model.OAuthClient | None, body: object, *, caller_roles: Set[str]) -> Update:
    """A PUT of ``client``, or a POST (``client`` None) of a new one."""
    if not isinstance(body, dict):
        raise errors.bad_request("The request could not be understood by the server due to malformed syntax.")
    name, grant_type, state, validity = _basics(client, body)
    role_divisions = _role_divisions(org, body)
    scope = _strings(body, "scope")
    if grant_type == model.CLIENT_CREDENTIALS:
        if not role_divisions:
            raise errors.bad_request("Client roles and divisions are missing.", code="missing.client.roles")
        _check_roles(org, client, role_divisions, caller_roles)
    else:
        if not scope:
            raise errors.bad_request("Client scope is missing.", code="missing.client.scope")
        if any(s not in catalog.SCOPES for s in scope):
            raise errors.bad_request("Client has invalid scope", code="auth.invalid.scope", field="scope")
    description = body.get("description") or ""
    if not isinstance(description, str):
        raise errors.bad_request("description must be a string", code="constraint.validation", field="description")
    return Update(
        name=name.strip(),
        description=description,
        grant_type=grant_type,
        redirect_uris=_strings(body, "registeredRedirectUri"),
        validity_seconds=validity,
        state=state,
        role_divisions=role_divisions,
        scope=tuple(dict.fromkeys(scope)),
    )
