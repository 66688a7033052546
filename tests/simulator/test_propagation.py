"""Eventual consistency: a PUT's grants take effect after the propagation delay, in both modes.

Covers: the client object shows new grants at once, tokens only after the delay (world default
and a per-org override); existing_tokens_see_grants true (the old token picks the grant up) and
false (only tokens minted after the grant took effect have it; earlier tokens keep what they
had); tokens/me shows the grants the token acts with; drift from the control API is immediate.
"""

from __future__ import annotations

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import control

from .conftest import Api

PROBE = "/api/v2/conversations/messaging/integrations?pageSize=1"


async def regrant_messaging_viewer(api: Api) -> None:
    eu = api.sim.tenant("acme-eu")
    admin = await api.mint(eu.admin_client_id or "")
    path = f"/api/v2/oauth/clients/{eu.client_id}"
    client = (await api.get(path, admin, region=eu.region)).json
    role = api.sim.world.orgs[eu.org_id].role_named("Messaging Viewer")
    assert role is not None
    client["roleDivisions"].append({"roleId": role.id, "divisionId": "*"})
    assert (await api.call("PUT", path, token=admin, region=eu.region, json=client)).status == 200


async def probe(api: Api, token: str) -> int:
    return (await api.get(PROBE, token, region="eu-west-1")).status


async def test_the_client_shows_a_regrant_at_once_and_tokens_see_it_after_the_delay(
    api: Api, clock: ManualClock
) -> None:
    eu = api.sim.tenant("acme-eu")
    token = await api.mint(eu.client_id)
    await regrant_messaging_viewer(api)
    admin = await api.mint(eu.admin_client_id or "")
    shown = (await api.get(f"/api/v2/oauth/clients/{eu.client_id}", admin, region=eu.region)).json
    assert len(shown["roleDivisions"]) == 2
    info = (await api.get("/api/v2/tokens/me", token, region=eu.region)).json
    assert len(info["OAuthClient"]["roleDivisions"]) == 1  # the token still acts with the old grants
    await clock.advance(4.9)
    assert await probe(api, token) == 403
    await clock.advance(0.1)  # the demo's 5 s
    assert await probe(api, token) == 200
    assert len((await api.get("/api/v2/tokens/me", token, region=eu.region)).json["OAuthClient"]["roleDivisions"]) == 2


async def test_when_existing_tokens_do_not_see_grants_only_tokens_minted_after_the_delay_do(
    api: Api, clock: ManualClock
) -> None:
    control.set_propagation(api.sim.world, existing_tokens_see_grants=False)
    eu = api.sim.tenant("acme-eu")
    before = await api.mint(eu.client_id)
    await regrant_messaging_viewer(api)
    await clock.advance(1)
    during = await api.mint(eu.client_id)  # minted before the change took effect
    await clock.advance(60)
    after = await api.mint(eu.client_id)
    assert [await probe(api, t) for t in (before, during, after)] == [403, 403, 200]


async def test_an_org_may_propagate_slower_than_the_platform(api: Api, clock: ManualClock) -> None:
    eu = api.sim.tenant("acme-eu")
    control.set_propagation(api.sim.world, 30.0, org_id=eu.org_id)
    await regrant_messaging_viewer(api)
    token = await api.mint(eu.client_id)
    await clock.advance(29)
    assert await probe(api, token) == 403
    await clock.advance(1)
    assert await probe(api, token) == 200


async def test_without_a_delay_a_regrant_works_for_the_next_request(api: Api) -> None:
    control.set_propagation(api.sim.world, 0.0)
    token = await api.mint(api.sim.tenant("acme-eu").client_id)
    await regrant_messaging_viewer(api)
    assert await probe(api, token) == 200


async def test_drift_removes_a_role_immediately(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await api.mint(acme.client_id)
    assert (await api.get(PROBE, token)).status == 200
    control.remove_role(api.sim.world, acme.client_id, "Messaging Viewer")
    assert (await api.get(PROBE, token)).code == "missing.permissions"
    control.add_role(api.sim.world, acme.client_id, "Messaging Viewer")
    assert (await api.get(PROBE, token)).status == 200
