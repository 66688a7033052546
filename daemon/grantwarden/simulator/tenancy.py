"""How grantwarden is meant to be configured against a world: its tenants and blueprint.

A scenario (or the generator) describes not only the platform but also the integration's view
of it: which org each tenant expects, which client it logs in with (possibly the wrong one, on
purpose), which admin client may re-grant. ``emitting`` turns this into a grantwarden
configuration file (design.md §2.2). Nothing here is visible through the platform's API.
"""

from __future__ import annotations

import dataclasses

CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"

DEFAULT_PROBES = (
    "token",
    "organization",
    "messaging-integrations",
    "messaging-supported-content",
    "webdeployments-deployments",
    "webdeployments-configurations",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Blueprint:
    name: str = "messaging-core"
    probes: tuple[str, ...] = DEFAULT_PROBES
    roles: tuple[str, ...] = ("Messaging Viewer", "Web Deployments Viewer")
    division: str = "home"
    scopes: tuple[str, ...] = ("messaging:readonly", "webdeployments:readonly")


@dataclasses.dataclass(frozen=True, slots=True)
class TenantSpec:
    name: str
    org_id: str  # the org the tenant expects its token to act in
    client_id: str  # the client it logs in with (may belong to another org: wrong_org)
    region: str  # where its URLs point: usually the org's region
    admin_client_id: str | None = None
    grant: str = CLIENT_CREDENTIALS
    redirect_uri: str | None = None
    scopes: tuple[str, ...] = ()
    parent: str | None = None
    note: str = ""  # what the tenant demonstrates
    trust_home_org_id: str | None = None  # acts in org_id through a trust from this (trustee) org
