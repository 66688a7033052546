"""User-grant tokens: the scope check first, the org's app approval, then the user's permissions.

Covers: app.not.authorized.for.scope listing the operation's acceptable scopes; X:readonly
satisfies a read and not a write; an org that enforces app authorization intersects the
token's scopes with its approval, and a revoked approval refuses everything; a user without the
permission gets missing.permissions after the scope check passes; adding an allow-listed scope
to the CODE client (PUT by the admin) helps only after propagation and a new consent.
"""

from __future__ import annotations

import aiohttp

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import control, scenarios, testing

from .conftest import Api

REDIRECT = "http://127.0.0.1:8765/callback"


async def desktop_token(api: Api, scope: str | None = None) -> str:
    return await api.user_token(api.sim.tenant("acme-agent-desktop").client_id, REDIRECT, scope=scope)


async def test_a_missing_scope_is_app_not_authorized_for_scope_listing_the_acceptable_scopes(api: Api) -> None:
    token = await desktop_token(api)
    refused = await api.get("/api/v2/webdeployments/deployments", token)
    assert (refused.status, refused.code) == (403, "app.not.authorized.for.scope")
    assert refused.json["message"] == "App not authorized to use scope [webdeployments, webdeployments:readonly]"


async def test_a_readonly_scope_satisfies_a_read_but_not_a_write(api: Api) -> None:
    token = await desktop_token(api)
    assert (await api.get("/api/v2/conversations/messaging/integrations?pageSize=1", token)).status == 200
    assert (await api.get("/api/v2/organizations/me", token)).status == 200
    desktop = api.sim.tenant("acme-agent-desktop")
    write = await api.call("PUT", f"/api/v2/oauth/clients/{desktop.client_id}", token=token, json={"name": "x"})
    assert write.json["message"] == "App not authorized to use scope [oauth]"


async def test_an_enforcing_org_lets_the_app_use_only_the_approved_scopes(api: Api) -> None:
    desktop = api.sim.tenant("acme-agent-desktop")
    control.set_app_authorization(
        api.sim.world,
        desktop.org_id,
        desktop.client_id,
        state="Authorized",
        scopes=["messaging:readonly", "user-basic-info"],
        enforce=True,
    )
    token = await desktop_token(api)
    assert (await api.get("/api/v2/conversations/messaging/settings", token)).status == 200
    assert (await api.get("/api/v2/organizations/me", token)).code == "app.not.authorized.for.scope"
    info = (await api.get("/api/v2/tokens/me", token)).json
    assert info["authorizedScope"] == ["messaging:readonly", "user-basic-info"]


async def test_a_revoked_app_authorization_refuses_every_scope(api: Api) -> None:
    desktop = api.sim.tenant("acme-agent-desktop")
    token = await desktop_token(api)
    control.set_app_authorization(
        api.sim.world, desktop.org_id, desktop.client_id, state="Revoked", scopes=[], enforce=True
    )
    for path in ("/api/v2/tokens/me", "/api/v2/conversations/messaging/settings"):
        assert (await api.get(path, token)).code == "app.not.authorized.for.scope"


NO_ROLES = """
roles:
  Messaging Viewer: [messaging:integration:view]
orgs:
  solo:
    users:
      nobody: {name: No Roles}
    clients:
      app: {grant: CODE, scope: [messaging:readonly], redirect_uris: ["http://127.0.0.1:9/cb"]}
"""


async def test_after_the_scope_check_the_users_own_permissions_decide(clock: ManualClock) -> None:
    sim_world = scenarios.loads(NO_ROLES, source="inline", clock=clock)
    async with testing.running(sim_world) as sim, aiohttp.ClientSession() as session:
        api = Api(session, sim)
        client_id = next(iter(sim.world.clients))
        token = await api.user_token(client_id, "http://127.0.0.1:9/cb")
        refused = await api.get("/api/v2/conversations/messaging/integrations", token)
        assert (refused.status, refused.code) == (403, "missing.permissions")
        assert (await api.get("/api/v2/webdeployments/deployments", token)).code == "app.not.authorized.for.scope"


async def test_an_added_scope_needs_propagation_and_a_new_consent(api: Api, clock: ManualClock) -> None:
    desktop = api.sim.tenant("acme-agent-desktop")
    old = await desktop_token(api)
    admin = await api.mint(desktop.admin_client_id or "")
    client = (await api.get(f"/api/v2/oauth/clients/{desktop.client_id}", admin)).json
    client["scope"] = [*client["scope"], "webdeployments:readonly"]
    assert (await api.call("PUT", f"/api/v2/oauth/clients/{desktop.client_id}", token=admin, json=client)).status == 200
    assert (await api.get("/api/v2/webdeployments/deployments", await desktop_token(api))).status == 403  # not yet
    await clock.advance(5)  # the demo's propagation delay
    assert (await api.get("/api/v2/webdeployments/deployments", old)).status == 403  # consented before the change
    assert (await api.get("/api/v2/webdeployments/deployments", await desktop_token(api))).status == 200
