"""Generated worlds for benchmarks (``--tenants N``).

Covers: the same seed gives the same world (ids, secrets, problems); each problem gets its share
of tenants; each problem shows on the wire as the demo's tenant of the same kind does.
"""

from __future__ import annotations

import collections

import aiohttp

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import generator, testing
from grantwarden.simulator.generator import Problem

from .conftest import Api


def test_the_same_seed_gives_the_same_world() -> None:
    first = generator.generate(tenants=50, seed=9, fractions={Problem.WRONG_ORG: 0.1}, clock=ManualClock())
    second = generator.generate(tenants=50, seed=9, fractions={Problem.WRONG_ORG: 0.1}, clock=ManualClock())
    assert first.tenants == second.tenants
    assert [c.secret for c in first.clients.values()] == [c.secret for c in second.clients.values()]
    third = generator.generate(tenants=50, seed=10, fractions={Problem.WRONG_ORG: 0.1}, clock=ManualClock())
    assert [t.note for t in third.tenants] != [t.note for t in first.tenants]


def test_each_problem_gets_its_share_of_tenants() -> None:
    fractions = dict.fromkeys(Problem, 0.05)
    sim = generator.generate(tenants=2000, seed=1, fractions=fractions, clock=ManualClock())
    counts = collections.Counter(t.note for t in sim.tenants)
    expected: dict[str, int] = {"healthy": 1500, **dict.fromkeys(Problem, 100)}
    assert counts == expected
    assert len(sim.orgs) == 2000
    assert len(sim.regions) == 3


async def test_every_generated_problem_shows_on_the_wire(clock: ManualClock) -> None:
    sim_world = generator.generate(tenants=12, seed=4, fractions=dict.fromkeys(Problem, 1 / 6), clock=clock)
    async with testing.running(sim_world) as sim, aiohttp.ClientSession() as session:
        api = Api(session, sim)
        seen: dict[str, object] = {}
        for tenant in sim.world.tenants:
            form = {"grant_type": "client_credentials"}
            minted = await api.token_request(
                form, client_id=tenant.client_id, secret=sim.secret(tenant.client_id), region=tenant.region
            )
            if minted.status != 200:
                seen[tenant.note] = minted.code
                continue
            token = minted.json["access_token"]
            org = (await api.get("/api/v2/tokens/me", token, region=tenant.region)).json["organization"]["id"]
            statuses = [
                (await api.get(path, token, region=tenant.region)).status
                for path in ("/api/v2/conversations/messaging/settings", "/api/v2/webdeployments/configurations")
            ]
            seen[tenant.note] = "wrong org" if org != tenant.org_id else statuses
    assert seen == {
        "healthy": [200, 200],
        "missing_role": [403, 200],
        "unlicensed": [200, 403],
        "rate_limited": [200, 200],  # 3 of its 4 requests: the 5th would be 429
        "wrong_org": "wrong org",
        "disabled": "invalid_client",
    }
