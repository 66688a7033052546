"""The /__sim/ control API over HTTP, and the request log.

Covers: state (orgs, clients without secrets, roles, token counts); drift (remove_role, add_role,
disable, enable, deactivate, revoke_tokens) and its refusals (404 unknown client, 400 bad
action); faults set/list/clear; propagation and rate limits; restart; consent denial; app
authorization; security policies; idle timeout; the request log's fields (time on the
simulator's clock, kind, client id, grant type), its redaction of codes, and clearing it.
"""

from __future__ import annotations

from typing import Any

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import requestlog

from .conftest import Api, Reply


async def post(api: Api, path: str, body: dict[str, Any] | None = None) -> Reply:
    return await api.call("POST", f"/__sim{path}", json=body or {})


async def test_the_state_lists_orgs_roles_clients_and_token_counts_but_no_secret(api: Api) -> None:
    await api.mint(api.sim.tenant("acme").client_id)
    state = (await api.call("GET", "/__sim/state")).json
    assert len(state["orgs"]) == 6
    assert {r["name"] for r in state["orgs"][0]["roles"]} >= {"Messaging Viewer", "Web Deployments Viewer"}
    assert state["tokens"]["access"] == 1
    assert len(state["clients"]) == 10
    text = str(state)
    assert all(client.secret not in text for client in api.sim.world.clients.values())
    latam = next(o for o in state["orgs"] if o["name"] == "Acme Latin America")
    assert latam["unlicensed"] == ["webDeployments:configuration:view"]


async def test_drifting_a_client_through_http(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await api.mint(acme.client_id)
    probe = "/api/v2/conversations/messaging/settings"
    drift = f"/clients/{acme.client_id}/drift"
    assert (await post(api, drift, {"action": "remove_role", "role": "Messaging Viewer"})).json == {"ok": True}
    assert (await api.get(probe, token)).code == "missing.permissions"
    assert (
        await post(api, drift, {"action": "add_role", "role": "Messaging Viewer", "division": "home"})
    ).status == 200
    assert (await api.get(probe, token)).status == 200
    assert (await post(api, drift, {"action": "revoke_tokens"})).json == {"ok": True, "revoked": 1}
    assert (await api.get(probe, token)).code == "bad.credentials"
    assert (await post(api, drift, {"action": "disable"})).status == 200
    assert api.sim.world.clients[acme.client_id].state == "disabled"
    assert (await post(api, drift, {"action": "deactivate"})).status == 200
    assert api.sim.world.clients[acme.client_id].state == "inactive"
    assert (await post(api, drift, {"action": "enable"})).status == 200
    assert api.sim.world.clients[acme.client_id].state == "active"


async def test_drift_refuses_unknown_clients_roles_and_actions(api: Api) -> None:
    acme = api.sim.tenant("acme")
    unknown = await post(api, "/clients/nobody/drift", {"action": "disable"})
    assert (unknown.status, unknown.json["error"]) == (404, "unknown client 'nobody'")
    assert (await post(api, f"/clients/{acme.client_id}/drift", {"action": "explode"})).status == 400
    assert (
        await post(api, f"/clients/{acme.client_id}/drift", {"action": "remove_role", "role": "Nope"})
    ).status == 400
    assert (await post(api, f"/clients/{acme.client_id}/drift", {"action": "remove_role"})).status == 400
    assert (await api.call("POST", f"/__sim/clients/{acme.client_id}/drift", data="not json")).status == 400


async def test_faults_are_set_listed_and_cleared_through_http(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    fault = {"prefix": "/api/v2/organizations", "action": "status", "status": 503, "times": 5}
    assert (await post(api, "/faults", fault)).status == 200
    assert (await api.call("GET", "/__sim/faults")).json[0]["prefix"] == "/api/v2/organizations"
    assert (await api.get("/api/v2/organizations/me", token)).status == 503
    assert (await api.call("DELETE", "/__sim/faults")).status == 200
    assert (await api.get("/api/v2/organizations/me", token)).status == 200
    assert (await post(api, "/faults", {"prefix": "/", "action": "explode"})).status == 400
    assert (await post(api, "/faults", {"prefix": "/", "rate": 3})).status == 400


async def test_propagation_rate_limits_and_restart_through_http(api: Api) -> None:
    acme = api.sim.tenant("acme")
    assert (await post(api, "/propagation", {"delay_seconds": 42, "existing_tokens_see_grants": False})).status == 200
    assert (api.sim.world.settings.propagation_delay_seconds, api.sim.world.settings.existing_tokens_see_grants) == (
        42,
        False,
    )
    assert (await post(api, "/ratelimits", {"org_id": acme.org_id, "token_requests_per_minute": 1})).status == 200
    token = await api.mint(acme.client_id)
    assert [(await api.get("/api/v2/tokens/me", token)).status for _ in range(2)] == [200, 429]
    assert (await post(api, "/ratelimits", {"token_requests_per_minute": 0})).status == 400
    assert (await post(api, "/restart")).status == 200
    assert (await api.get("/api/v2/tokens/me", token)).code == "bad.credentials"


async def test_consent_app_authorization_policies_and_idle_timeout_through_http(api: Api) -> None:
    acme, desktop = api.sim.tenant("acme"), api.sim.tenant("acme-agent-desktop")
    assert (await post(api, "/consent", {"deny": True})).status == 200
    assert api.sim.world.settings.deny_consent
    approval = {"client_id": desktop.client_id, "state": "Requested", "scopes": [], "enforce": True}
    assert (await post(api, f"/orgs/{acme.org_id}/app-authorizations", approval)).status == 200
    assert api.sim.world.orgs[acme.org_id].app_authorizations[desktop.client_id].state == "Requested"
    assert (await post(api, f"/orgs/{acme.org_id}/app-authorizations", {**approval, "state": "Maybe"})).status == 400
    policy = {"path_prefix": "/api/v2/organizations", "policy_id": "p-1"}
    assert (await post(api, f"/orgs/{acme.org_id}/policies", policy)).status == 200
    token = await api.mint(acme.client_id)
    assert (await api.get("/api/v2/organizations/me", token)).code == "authz.policy.denied"
    assert (await api.call("DELETE", f"/__sim/orgs/{acme.org_id}/policies")).status == 200
    assert (await post(api, f"/orgs/{acme.org_id}/idle-timeout", {"seconds": 900})).status == 200
    assert "dateTokenIdles" in (await api.get("/api/v2/tokens/me", token)).json
    assert (await post(api, "/orgs/nowhere/idle-timeout", {"seconds": 900})).status == 404


async def test_the_request_log_records_each_request_without_secrets(api: Api, clock: ManualClock) -> None:
    acme, desktop = api.sim.tenant("acme"), api.sim.tenant("acme-agent-desktop")
    token = await api.mint(acme.client_id)
    await clock.advance(3)
    await api.get("/api/v2/organizations/me?x=1", token)
    await api.user_token(desktop.client_id, "http://127.0.0.1:8765/callback")
    log = (await api.call("GET", "/__sim/requests")).json
    minted, probed, authorized, redeemed = log[0], log[1], log[2], log[3]
    assert (minted["kind"], minted["grant_type"], minted["client_id"], minted["status"]) == (
        "token",
        "client_credentials",
        acme.client_id,
        200,
    )
    assert probed["time"] - minted["time"] == 3  # the simulator's clock
    assert (probed["kind"], probed["path"], probed["query"], probed["org_id"]) == (
        "api",
        "/api/v2/organizations/me",
        {"x": "1"},
        acme.org_id,
    )
    assert (authorized["path"], authorized["status"]) == ("/oauth/authorize", 302)
    assert redeemed["grant_type"] == "authorization_code"
    text = str(log)
    assert token not in text
    assert api.sim.secret(acme.client_id) not in text
    assert [e["kind"] for e in (await api.call("GET", "/__sim/requests?kind=control")).json] == ["control"]
    assert (await api.call("GET", "/__sim/requests?kind=bogus")).status == 400
    assert (await post(api, "/requests/clear")).status == 200
    after = (await api.call("GET", "/__sim/requests")).json
    assert [e["path"] for e in after] == ["/__sim/requests/clear"]  # a request is logged once answered


def test_the_request_log_is_bounded_and_redacts_codes() -> None:
    bounded = requestlog.RequestLog(size=3)
    for i in range(5):
        bounded.record(
            time=float(i),
            method="GET",
            path="/p",
            query={"code": "secret-code"},
            status=200,
            client_id=None,
            grant_type=None,
            org_id=None,
            correlation_id=None,
        )
    entries = bounded.entries()
    assert [e["time"] for e in entries] == [2.0, 3.0, 4.0]
    assert entries[0]["query"] == {"code": requestlog.REDACTED}
