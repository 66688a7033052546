"""Role facts shared by the planning, remediation and cover tests: a small, realistic org."""

from __future__ import annotations

from grantwarden.policy.permissions import PolicyFacts, RoleFacts

HOME = "home-div-0001"
OTHER = "other-div-0002"


def make_role(role_id: str, name: str, *policies: tuple[str, str, str]) -> RoleFacts:
    return RoleFacts(
        id=role_id,
        name=name,
        policies=tuple(PolicyFacts(domain=d, entity_name=e, actions=frozenset(a.split(","))) for d, e, a in policies),
    )


MESSAGING_VIEWER = make_role("r-mv", "Messaging Viewer", ("messaging", "*", "view"))
WEB_VIEWER = make_role(
    "r-wdv",
    "Web Deployments Viewer",
    ("webDeployments", "deployment", "view"),
    ("webDeployments", "configuration", "view"),
)
QUEUE_VIEWER = make_role("r-qv", "Queue Viewer", ("routing", "queue", "view"))
INTEGRATION_VIEWER = make_role("r-iv", "Integration Viewer", ("messaging", "integration", "view"))
EVERYTHING_VIEWER = make_role("r-ev", "Everything Viewer", ("messaging", "*", "view"), ("webDeployments", "*", "view"))
ADMIN = make_role("r-admin", "Admin", ("messaging", "*", "*"), ("webDeployments", "*", "*"), ("routing", "*", "*"))

ORG_ROLES = (MESSAGING_VIEWER, WEB_VIEWER, QUEUE_VIEWER, INTEGRATION_VIEWER, EVERYTHING_VIEWER, ADMIN)
ALL_ROLE_IDS = frozenset(r.id for r in ORG_ROLES)
