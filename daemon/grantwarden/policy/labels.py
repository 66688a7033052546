"""The label vocabulary: outcomes, states and results, used verbatim everywhere.

These ``StrEnum`` values are the metric label values, log fields and ``/status`` values of
design.md §2.4–§2.6. Dashboards and alert rules match them as strings, so a value here changes
only together with README, deploy/ and tests.
"""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    """What one probe found (design.md §2.6)."""

    OK = "ok"
    MISSING_PERMISSION = "missing_permission"
    MISSING_DIVISION_PERMISSION = "missing_division_permission"
    MISSING_SCOPE = "missing_scope"
    MISSING_TRUSTOR_PERMISSION = "missing_trustor_permission"  # a trusted user lacks a trustor-org role
    UNLICENSED = "unlicensed"
    POLICY_DENIED = "policy_denied"
    FORBIDDEN = "forbidden"
    WRONG_GRANT_TYPE = "wrong_grant_type"
    UNAUTHORIZED = "unauthorized"
    IP_NOT_AUTHORIZED = "ip_not_authorized"  # 401 ip.not.authorized: the org's IP allowlist refuses the caller
    WRONG_ORG = "wrong_org"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    UNEXPECTED_STATUS = "unexpected_status"


class State(enum.StrEnum):
    """A tenant's state (design.md §2.4)."""

    STARTING = "starting"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    REMEDIATING = "remediating"
    NEEDS_ATTENTION = "needs_attention"
    UNREACHABLE = "unreachable"


class TokenResult(enum.StrEnum):
    """``grantwarden_token_requests_total{result}``."""

    OK = "ok"
    INVALID_CLIENT = "invalid_client"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"


class RegrantResult(enum.StrEnum):
    """``grantwarden_regrants_total{result}``."""

    PLANNED = "planned"
    APPLIED = "applied"
    VERIFIED = "verified"
    REFUSED = "refused"
    FAILED = "failed"


class ClientState(enum.StrEnum):
    """An OAuth client's ``state`` as its own org's admin identity reads it (platform.md §2.3, E2).

    ``active``, ``disabled`` and ``inactive`` are the SDK's enum; ``deleted`` is what Terraform
    sees while a deletion completes (a value outside that enum); ``not_found`` is a 404
    ``client.not.found``: the org has no such client (deleted, or another org's client).
    """

    ACTIVE = "active"
    DISABLED = "disabled"
    INACTIVE = "inactive"
    DELETED = "deleted"
    NOT_FOUND = "not_found"


class RegrantMode(enum.StrEnum):
    """``regrant.mode``: how far a tenant's re-grant may go."""

    OFF = "off"
    REISSUE = "reissue"  # only drop and re-mint the token
    REMEDIATE = "remediate"  # re-mint, and add allow-listed roles or scopes


class ManagedBy(enum.StrEnum):
    """``grants.managed_by``: who owns a tenant's OAuth client's roles and scopes."""

    GRANTWARDEN = "grantwarden"  # grantwarden may PUT the client (within regrant.mode)
    TERRAFORM = "terraform"  # CX as Code owns it: grantwarden never PUTs it, it says what to add


class GrantType(enum.StrEnum):
    """``credentials.grant``: how a tenant's token is obtained (platform.md §1.2)."""

    CLIENT_CREDENTIALS = "client_credentials"
    AUTHORIZATION_CODE = "authorization_code"
