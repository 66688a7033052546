"""Pydantic models of the platform payloads the daemon reads, under the platform's field names.

Aliases are the platform's JSON names (platform.md §1.3, §2.3, §3, §10); attributes are
snake_case. Unknown fields are ignored, so a platform that adds fields breaks nothing, while a
missing field we rely on fails validation, which the client turns into ``MalformedResponse``.
Models are frozen facts; where a payload must be sent back verbatim (the OAuth client for a
re-grant PUT, which replaces the whole object) the client also returns the raw dict.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TokenResponse(_Payload):
    """``POST /oauth/token`` success (platform.md §1.3); ``refresh_token`` only for code grants."""

    access_token: str = Field(min_length=1)
    token_type: str = "bearer"
    expires_in: int = Field(gt=0, strict=True)  # seconds; the refresh schedule is built on it
    refresh_token: str | None = None


class NamedEntity(_Payload):
    id: str = Field(min_length=1)
    name: str | None = None


class RoleDivision(_Payload):
    """One grant of an OAuth client: a role in a division (``"*"`` = all divisions)."""

    role_id: str = Field(alias="roleId")
    division_id: str = Field(alias="divisionId")


class OrgOAuthClient(_Payload):
    """``TokenInfo.OAuthClient``: the client that minted the token, with its owning org."""

    id: str
    name: str | None = None
    organization: NamedEntity | None = None
    authorized_grant_type: str | None = Field(default=None, alias="authorizedGrantType")
    role_divisions: tuple[RoleDivision, ...] = Field(default=(), alias="roleDivisions")
    scope: tuple[str, ...] = ()
    state: str | None = None


class TokenInfo(_Payload):
    """``GET /api/v2/tokens/me`` (platform.md §3.1): the one org this token acts in."""

    organization: NamedEntity
    home_organization: NamedEntity | None = Field(default=None, alias="homeOrganization")
    oauth_client: OrgOAuthClient | None = Field(default=None, alias="OAuthClient")
    authorized_scope: tuple[str, ...] = Field(default=(), alias="authorizedScope")
    date_token_idles: str | None = Field(default=None, alias="dateTokenIdles")


class OAuthClient(_Payload):
    """``GET/PUT /api/v2/oauth/clients/{id}`` (platform.md §2.3). Never carries a secret since 2025."""

    id: str = Field(min_length=1)
    name: str
    authorized_grant_type: str = Field(alias="authorizedGrantType")
    role_divisions: tuple[RoleDivision, ...] = Field(default=(), alias="roleDivisions")
    scope: tuple[str, ...] = ()
    state: str | None = None
    access_token_validity_seconds: int | None = Field(default=None, alias="accessTokenValiditySeconds")
    registered_redirect_uri: tuple[str, ...] = Field(default=(), alias="registeredRedirectUri")


class UserAuthorization(_Payload):
    """A trust member's trustor roles (``GET /api/v2/orgauthorization/trustees/{trusteeOrgId}/users/
    {userId}/roles``, platform.md §13); only the role names are read."""

    roles: tuple[NamedEntity, ...] = ()


class Division(_Payload):
    """``AuthzDivision`` (``GET /api/v2/authorization/divisions/home``)."""

    id: str = Field(min_length=1)
    name: str | None = None
    home_division: bool = Field(default=False, alias="homeDivision")


class Role(_Payload):
    """``DomainOrganizationRole``: what role listings must at least carry to be usable.

    Wildcard matching over ``permissionPolicies`` is ``policy.permissions``' job, on the raw dict.
    """

    id: str = Field(min_length=1)
    name: str


class DomainPermission(_Payload):
    """One licensed permission, ``domain:entityType:action`` (platform.md §10)."""

    domain: str | None = None
    entity_type: str | None = Field(default=None, alias="entityType")
    action: str = Field(min_length=1)

    def name(self, domain: str | None, entity_type: str) -> str:
        """The permission string; domain and entity type default to the enclosing collection's."""
        return f"{self.domain or domain}:{self.entity_type or entity_type}:{self.action}"


class PermissionCollection(_Payload):
    """``DomainPermissionCollection``: ``permissionMap`` maps entity types to permissions.

    Validated strictly because a silently empty listing would make every permission look
    unlicensed, and ``unlicensed`` stops remediation.
    """

    domain: str | None = None
    permission_map: dict[str, tuple[DomainPermission, ...]] = Field(default_factory=dict, alias="permissionMap")


class Page(_Payload):
    """The envelope of a paged listing (``…EntityListing``): entities plus page counters.

    ``page_count`` may be absent on some listings; the pager then stops on a short page.
    """

    entities: list[dict[str, Any]] = Field(default_factory=list)
    page_size: int | None = Field(default=None, alias="pageSize")
    page_number: int | None = Field(default=None, alias="pageNumber")
    page_count: int | None = Field(default=None, alias="pageCount")
    total: int | None = None
