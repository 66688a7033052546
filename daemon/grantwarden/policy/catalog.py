"""The probe catalog: what each built-in probe requests and what it needs (design.md §2.6).

A probe is one read-only GET that the integration needs to succeed. ``requires`` is what a
client-credentials client needs (permissions, ALL or ANY, platform.md §6); ``scopes`` is what a
user-grant client needs (any one of them, platform.md §2.2). The ``token`` probe is special: it
reads ``GET /api/v2/tokens/me`` and checks the org the token acts in, before any other probe runs.
Blueprints add custom probes of the same shape.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Requirement = Literal["all", "any"]

TOKEN = "token"


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeDef:
    name: str
    path: str
    method: str = "GET"
    requirement: Requirement = "all"
    permissions: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()


# platform.md §3.1, §3.2, §6: permissions and scopes of the probe endpoints.
BUILTIN: dict[str, ProbeDef] = {
    probe.name: probe
    for probe in (
        ProbeDef(TOKEN, "/api/v2/tokens/me?preserveIdleTTL=true", scopes=("user-basic-info",)),
        ProbeDef("organization", "/api/v2/organizations/me", scopes=("organization", "organization:readonly")),
        ProbeDef(
            "messaging-integrations",
            "/api/v2/conversations/messaging/integrations?pageSize=1",
            permissions=("messaging:integration:view",),
            scopes=("messaging", "messaging:readonly"),
        ),
        ProbeDef(
            "messaging-supported-content",
            "/api/v2/conversations/messaging/supportedcontent?pageSize=1",
            permissions=("messaging:supportedContent:view",),
            scopes=("messaging", "messaging:readonly"),
        ),
        ProbeDef(
            "messaging-settings",
            "/api/v2/conversations/messaging/settings",
            permissions=("messaging:setting:view",),
            scopes=("messaging", "messaging:readonly"),
        ),
        ProbeDef(
            "webdeployments-deployments",
            "/api/v2/webdeployments/deployments",
            permissions=("webDeployments:deployment:view",),
            scopes=("webdeployments", "webdeployments:readonly"),
        ),
        ProbeDef(
            "webdeployments-configurations",
            "/api/v2/webdeployments/configurations",
            permissions=("webDeployments:configuration:view",),
            scopes=("webdeployments", "webdeployments:readonly"),
        ),
        ProbeDef(
            "routing-queues",
            "/api/v2/routing/queues?pageSize=1",
            requirement="any",
            permissions=("routing:queue:view",),
            scopes=("routing", "routing:readonly"),
        ),
    )
}

DEFAULT_PROBES: tuple[str, ...] = (
    TOKEN,
    "organization",
    "messaging-integrations",
    "messaging-supported-content",
    "webdeployments-deployments",
    "webdeployments-configurations",
)
