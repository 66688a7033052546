"""Generated worlds of N tenants (``--tenants 10000``) for benchmarks and scale tests.

Each tenant is its own org with a healthy client-credentials client (Messaging Viewer, Web
Deployments Viewer) and an admin client; orgs are spread over a few regions. A configurable
fraction of tenants gets each problem the demo shows one of: a missing role (repairable), the
credentials of another org (wrong_org), an unlicensed permission, a tiny rate budget, a
disabled client. Everything derives from ``seed``: the same arguments give the same world,
ids and secrets included.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping, Sequence

from grantwarden.base.clock import Clock
from grantwarden.simulator import catalog, grants, listings, model, rights, tenancy, world
from grantwarden.simulator.scenario_orgs import CREATED, derived_secret

DEFAULT_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
_ROLES = {
    "Messaging Viewer": ("messaging:integration:view", "messaging:supportedContent:view", "messaging:setting:view"),
    "Web Deployments Viewer": ("webDeployments:deployment:view", "webDeployments:configuration:view"),
    "OAuth Client Admin": ("oauth:client:view", "oauth:client:edit", "authorization:role:view"),
}
HEALTHY_ROLES = ("Messaging Viewer", "Web Deployments Viewer")  # a missing-role tenant lacks the first
_POLICIES = {name: rights.policies_from(perms) for name, perms in _ROLES.items()}


class Problem(enum.StrEnum):
    MISSING_ROLE = "missing_role"
    WRONG_ORG = "wrong_org"
    UNLICENSED = "unlicensed"
    RATE_LIMITED = "rate_limited"
    DISABLED = "disabled"


def assign(count: int, fractions: Mapping[Problem, float], rng: random.Random) -> dict[int, Problem]:
    """Which tenant index gets which problem: ``round(count * fraction)`` each, disjoint."""
    order = list(range(count))
    rng.shuffle(order)
    chosen: dict[int, Problem] = {}
    start = 0
    for problem in Problem:
        share = round(count * fractions.get(problem, 0.0))
        for index in order[start : start + share]:
            chosen[index] = problem
        start += share
    return chosen


def _org(sim: world.World, index: int, region: str, problem: Problem | None) -> model.Org:
    org_id = model.stable_id(sim.seed, "generated-org", index)
    home = model.Division(model.stable_id(org_id, "division", "Home"), "Home", home=True)
    roles = [model.Role(model.stable_id(org_id, "role", name), name, policies) for name, policies in _POLICIES.items()]
    unlicensed = {"webDeployments:configuration:view"} if problem is Problem.UNLICENSED else set()
    org = model.Org(
        id=org_id,
        name=f"Tenant {index:05d}",
        third_party_org_name=f"tenant-{index:05d}",
        region=region,
        divisions={home.id: home},
        home_division_id=home.id,
        licensed=catalog.ALL_PERMISSIONS - unlicensed,
        roles={role.id: role for role in roles},
        queues=listings.default_queues(org_id, [home]),
        token_requests_per_minute=4 if problem is Problem.RATE_LIMITED else None,
        date_created=CREATED,
    )
    return sim.add_org(org)


def _client(sim: world.World, org: model.Org, key: str, role_names: Sequence[str], state: str) -> model.OAuthClient:
    pairs = [model.RoleDivision(r.id, org.home_division_id) for n in role_names if (r := org.role_named(n))]
    return sim.add_client(
        model.OAuthClient(
            id=model.stable_id(sim.seed, "generated-client", key),
            org_id=org.id,
            name=key,
            secret=derived_secret(sim.seed, key),
            grant_type=model.CLIENT_CREDENTIALS,
            versions=grants.initial(pairs, ()),
            state=state,
            date_created=CREATED,
            date_modified=CREATED,
        )
    )


def generate(
    *,
    tenants: int,
    clock: Clock,
    seed: int = 0,
    fractions: Mapping[Problem, float] | None = None,
    regions: Sequence[str] = DEFAULT_REGIONS,
    settings: world.Settings | None = None,
) -> world.World:
    if tenants < 1:
        raise ValueError("tenants is at least 1")
    if sum((fractions or {}).values()) > 1.0:
        raise ValueError("the problem fractions add up to more than 1")
    sim = world.World(clock=clock, seed=seed, default_region=regions[0], settings=settings)
    problems = assign(tenants, fractions or {}, random.Random(seed))
    integration: list[model.OAuthClient] = []
    for index in range(tenants):
        problem = problems.get(index)
        org = _org(sim, index, regions[index % len(regions)], problem)
        roles = HEALTHY_ROLES[1:] if problem is Problem.MISSING_ROLE else HEALTHY_ROLES
        state = "disabled" if problem is Problem.DISABLED else "active"
        integration.append(_client(sim, org, f"tenant-{index:05d}-integration", roles, state))
        _client(sim, org, f"tenant-{index:05d}-admin", [*_ROLES], "active")
    for index in range(tenants):
        org_id = model.stable_id(seed, "generated-org", index)
        client = integration[index]
        if problems.get(index) is Problem.WRONG_ORG and tenants > 1:
            client = integration[(index + 1) % tenants]  # another org's credentials
        sim.tenants.append(
            tenancy.TenantSpec(
                name=f"tenant-{index:05d}",
                org_id=org_id,
                client_id=client.id,
                region=sim.orgs[client.org_id].region,
                admin_client_id=model.stable_id(seed, "generated-client", f"tenant-{index:05d}-admin"),
                note=str(problems.get(index) or "healthy"),
            )
        )
    return sim
