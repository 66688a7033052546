"""Plain data of the simulated platform: orgs, divisions, roles, OAuth clients, users, tokens.

Records only, no rules: who may do what lives in ``rights`` and ``permissions``, how grants
change over time in ``grants``, how tokens come and go in ``tokens``. Field names follow the
platform's JSON where one exists (platform.md §2.3, §3), so the routes that render them stay
short. Times are epoch seconds from the world's injected clock.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import Literal

from grantwarden.simulator import rights

# OAuthClient.authorizedGrantType (platform.md §1.2, SDK models/o_auth_client.py).
CLIENT_CREDENTIALS = "CLIENT-CREDENTIALS"
CODE = "CODE"
GRANT_TYPES = frozenset({CODE, "TOKEN", "SAML2-BEARER", "PASSWORD", CLIENT_CREDENTIALS})
CLIENT_STATES = ("active", "disabled", "inactive")
# accessTokenValiditySeconds (platform.md §1.4).
DEFAULT_VALIDITY_SECONDS = 86400
MIN_VALIDITY_SECONDS = 300
MAX_VALIDITY_SECONDS = 172800
# OAuthAuthorization.state (platform.md §2.1).
APP_AUTHORIZATION_STATES = ("Authorized", "Requested", "Revoked", "Unauthorized")
ALL_DIVISIONS = rights.ALL_DIVISIONS

TokenKind = Literal["client", "user"]

_NAMESPACE = uuid.UUID("8f1c2a52-4d5e-4bb7-9a51-6b0d1f3c9e21")


def stable_id(*parts: object) -> str:
    """A deterministic UUID for simulator entities, so a seed reproduces a world exactly."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(part) for part in parts)))


def touch(client: OAuthClient, now: float) -> None:
    """Mark a change: ``dateModified`` strictly grows, even for two changes in one millisecond,
    so a PUT carrying the ``dateModified`` it read can be told apart from a stale one."""
    client.date_modified = max(now, client.date_modified + 0.001)


def iso(epoch_seconds: float) -> str:
    """The platform's ISO-8601 form: ``2027-01-15T08:00:00.000Z``."""
    moment = datetime.datetime.fromtimestamp(epoch_seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclasses.dataclass(frozen=True, slots=True)
class Division:
    id: str
    name: str
    home: bool = False


@dataclasses.dataclass(slots=True)
class Role:
    """A role of one org; its rights are permission policies with wildcards (platform.md §10)."""

    id: str
    name: str
    policies: tuple[rights.Policy, ...]
    description: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class RoleDivision:
    role_id: str
    division_id: str


@dataclasses.dataclass(slots=True, eq=False)
class ClientGrants:
    """One version of what a client was granted; takes effect at ``effective_at`` (propagation)."""

    seq: int
    effective_at: float
    role_divisions: tuple[RoleDivision, ...]
    scope: tuple[str, ...]
    holdings: rights.Holdings | None = None  # computed once, on first use


@dataclasses.dataclass(slots=True, eq=False)
class OAuthClient:
    id: str
    org_id: str
    name: str
    secret: str
    grant_type: str
    versions: list[ClientGrants]  # grant history, oldest first; the last is what GET shows
    description: str = ""
    redirect_uris: tuple[str, ...] = ()
    validity_seconds: int = DEFAULT_VALIDITY_SECONDS
    state: str = "active"
    date_created: float = 0.0
    date_modified: float = 0.0
    created_by: dict[str, str] | None = None  # a DomainEntityRef of whoever created it
    modified_by: dict[str, str] | None = None  # ... and of whoever changed it last

    @property
    def configured(self) -> ClientGrants:
        """The grants as last written (what the client object shows), propagated or not."""
        return self.versions[-1]


@dataclasses.dataclass(slots=True, eq=False)
class User:
    """A person of one org; code-grant tokens act as this user (the scenario's test user)."""

    id: str
    org_id: str
    name: str
    email: str
    role_divisions: tuple[RoleDivision, ...]
    holdings: rights.Holdings | None = None


@dataclasses.dataclass(slots=True, eq=False)
class Group:
    """A group of one org; a trustee org's groups can be trust members (platform.md §13)."""

    id: str
    name: str
    member_ids: tuple[str, ...]


@dataclasses.dataclass(slots=True)
class AppAuthorization:
    """An org's approval of an external app (platform.md §2.1): only an org admin changes it."""

    state: str
    scopes: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class PolicyRule:
    """An org security policy that denies every request under ``path_prefix``."""

    path_prefix: str
    policy_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class Queue:
    id: str
    name: str
    division_id: str


@dataclasses.dataclass(slots=True, eq=False)
class Org:
    id: str
    name: str
    third_party_org_name: str
    region: str
    divisions: dict[str, Division]
    home_division_id: str
    licensed: frozenset[str]
    roles: dict[str, Role]
    users: dict[str, User] = dataclasses.field(default_factory=dict)
    groups: dict[str, Group] = dataclasses.field(default_factory=dict)
    test_user_id: str | None = None
    queues: tuple[Queue, ...] = ()
    token_requests_per_minute: int | None = None  # None: the world's default
    propagation_delay_seconds: float | None = None  # None: the world's default
    existing_tokens_see_grants: bool | None = None  # None: the world's default
    idle_timeout_seconds: float | None = None  # None: tokens never idle out
    enforce_app_authorization: bool = False
    app_authorizations: dict[str, AppAuthorization] = dataclasses.field(default_factory=dict)
    policies: list[PolicyRule] = dataclasses.field(default_factory=list)
    ip_allowlist: tuple[str, ...] = ()  # CIDRs; empty: every address may call (platform.md §15)
    auth_settings: dict[str, object] = dataclasses.field(default_factory=dict)  # the rest of OrgAuthSettings
    date_created: float = 0.0

    def role_named(self, name: str) -> Role | None:
        return next((role for role in self.roles.values() if role.name == name), None)


@dataclasses.dataclass(slots=True, eq=False)
class Token:
    """An opaque access token; the platform derives the org from it, never from the path."""

    value: str
    kind: TokenKind
    org_id: str
    client_id: str
    region: str
    issued_at: float
    expires_at: float
    last_used: float
    grants: ClientGrants | None  # client tokens: the grants in force when minted
    user_id: str | None = None
    scopes: tuple[str, ...] = ()
    home_org_id: str | None = None  # a trusted user's home (trustee) org; None: the token's own org

    @property
    def home(self) -> str:
        return self.home_org_id or self.org_id


@dataclasses.dataclass(slots=True, eq=False)
class AuthCode:
    value: str
    client_id: str
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    challenge: str | None
    expires_at: float
    used: bool = False
    target_org_id: str | None = None  # /oauth/authorize?target=: a trustor org to act in


@dataclasses.dataclass(slots=True, eq=False)
class RefreshToken:
    value: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    superseded_at: float | None = None  # set when a refresh returned its successor
    revoked: bool = False
    target_org_id: str | None = None  # the trustor org its access tokens act in
