"""The API gate: authentication, token lifetime, regions, idle timeout, per-token budgets.

Covers: 401 authentication.required without a bearer; 401 bad.credentials for an unknown,
expired, revoked (DELETE /tokens/me), disabled client's or foreign-region token; the ErrorBody
shape with contextId = ININ-Correlation-Id; HEAD /tokens/me; the org idle timeout and
preserveIdleTTL; the per-token budget (429 too.many.requests.retry.after, integer Retry-After,
limit object, recovery) with a per-org override (acme-ca: 8 per minute); one org per token.
"""

from __future__ import annotations

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import control

from .conftest import Api

ME = "/api/v2/tokens/me"


async def test_without_a_bearer_token_the_api_answers_authentication_required(api: Api) -> None:
    reply = await api.call("GET", ME)
    assert (reply.status, reply.code) == (401, "authentication.required")
    assert reply.json["message"] == "No authentication bearer token specified in authorization header."


async def test_an_unknown_token_is_bad_credentials_in_the_platform_error_body(api: Api) -> None:
    reply = await api.get(ME, "not-a-token")
    assert reply.status == 401
    assert reply.json == {
        "message": "Invalid login credentials.",
        "code": "bad.credentials",
        "status": 401,
        "messageParams": {},
        "contextId": reply.headers["ININ-Correlation-Id"],
        "details": [],
        "errors": [],
    }


async def test_every_response_carries_a_fresh_correlation_id(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    first, second = await api.get(ME, token), await api.get("/api/v2/nowhere", token)
    assert first.headers["ININ-Correlation-Id"] != second.headers["ININ-Correlation-Id"]
    assert (second.status, second.code) == (404, "not.found")


async def test_a_token_expires_after_its_validity(api: Api, clock: ManualClock) -> None:
    acme = api.sim.tenant("acme")
    api.sim.world.clients[acme.client_id].validity_seconds = 300
    token = await api.mint(acme.client_id)
    await clock.advance(299)
    assert (await api.get(ME, token)).status == 200
    await clock.advance(1)
    assert (await api.get(ME, token)).code == "bad.credentials"


async def test_a_token_is_unknown_in_another_region(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    assert (await api.get(ME, token)).status == 200
    foreign = await api.get(ME, token, region="eu-west-1")
    assert (foreign.status, foreign.code) == (401, "bad.credentials")


async def test_an_unknown_region_prefix_is_not_found(api: Api) -> None:
    reply = await api.call("GET", "/regions/xx-nowhere-1/api/v2/tokens/me")
    assert (reply.status, reply.code) == (404, "not.found")


async def test_tokens_of_a_disabled_client_answer_401(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await api.mint(acme.client_id)
    control.set_client_state(api.sim.world, acme.client_id, "disabled")
    assert (await api.get(ME, token)).code == "bad.credentials"
    control.set_client_state(api.sim.world, acme.client_id, "active")
    assert (await api.get(ME, token)).code == "bad.credentials"  # invalidated, not suspended


async def test_delete_tokens_me_revokes_the_presenting_token_only(api: Api) -> None:
    acme = api.sim.tenant("acme")
    doomed, kept = await api.mint(acme.client_id), await api.mint(acme.client_id)
    assert (await api.call("DELETE", ME, token=doomed)).status == 200
    assert (await api.get(ME, doomed)).code == "bad.credentials"
    assert (await api.get(ME, kept)).status == 200


async def test_head_tokens_me_checks_validity_without_a_body(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    ok, bad = await api.call("HEAD", ME, token=token), await api.call("HEAD", ME, token="nope")
    assert (ok.status, ok.text, bad.status) == (200, "", 401)


async def test_tokens_me_describes_the_tokens_own_org_and_client(api: Api) -> None:
    acme = api.sim.tenant("acme")
    info = (await api.get(ME, await api.mint(acme.client_id))).json
    assert info["organization"] == {"id": acme.org_id, "name": "Acme"}
    assert info["homeOrganization"] == info["organization"]
    client = info["OAuthClient"]
    assert (client["id"], client["authorizedGrantType"], client["state"]) == (
        acme.client_id,
        "CLIENT-CREDENTIALS",
        "active",
    )
    assert client["organization"]["id"] == acme.org_id
    assert "dateTokenIdles" not in info  # no idle timeout in this org


async def test_the_primarys_credentials_act_in_the_primarys_org_whatever_the_tenant_expects(api: Api) -> None:
    apac = api.sim.tenant("acme-apac")
    token = await api.mint(apac.client_id, region=apac.region)
    org = (await api.get("/api/v2/organizations/me", token, region=apac.region)).json
    assert org["id"] != apac.org_id
    assert org["id"] == api.sim.tenant("acme").org_id


async def test_an_idle_token_dies_unless_tokens_me_preserves_the_idle_ttl(api: Api, clock: ManualClock) -> None:
    acme = api.sim.tenant("acme")
    control.set_idle_timeout(api.sim.world, acme.org_id, 600)
    token = await api.mint(acme.client_id)
    await clock.advance(500)
    info = await api.get(ME, token)  # a use: resets the idle timer
    assert info.json["dateTokenIdles"].startswith("2027-01-15T08:18:20")  # 500 s + 600 s after the start
    await clock.advance(500)
    assert (await api.get(ME, token, params={"preserveIdleTTL": "true"})).status == 200  # does not reset it
    await clock.advance(100)
    assert (await api.get(ME, token)).code == "bad.credentials"


async def test_a_token_over_its_budget_gets_429_with_retry_after_and_recovers(api: Api, clock: ManualClock) -> None:
    control.set_rate_limits(api.sim.world, token_requests_per_minute=3)
    token = await api.mint(api.sim.tenant("acme").client_id)
    assert [(await api.get(ME, token)).status for _ in range(3)] == [200, 200, 200]
    await clock.advance(20)
    limited = await api.get(ME, token)
    assert (limited.status, limited.headers["Retry-After"]) == (429, "40")
    assert limited.json["code"] == "too.many.requests.retry.after"
    assert limited.json["message"] == "Rate limit exceeded the maximum. Retry the request in [40] seconds"
    assert limited.json["limit"] == {"key": "token.rate.per.minute", "namespace": "platform.api", "value": 3}
    other = await api.mint(api.sim.tenant("acme").client_id)  # budgets are per token
    assert (await api.get(ME, other)).status == 200
    await clock.advance(40)
    assert (await api.get(ME, token)).status == 200


async def test_the_rate_limited_demo_org_allows_eight_requests_per_token_per_minute(
    api: Api, clock: ManualClock
) -> None:
    ca = api.sim.tenant("acme-ca")
    token = await api.mint(ca.client_id)
    statuses = [(await api.get(ME, token, region=ca.region)).status for _ in range(9)]
    assert statuses == [200] * 8 + [429]
    await clock.advance(60)
    assert (await api.get(ME, token, region=ca.region)).status == 200


async def test_aiohttps_own_refusals_come_in_the_platform_error_body(api: Api) -> None:
    wrong_method = await api.call("POST", ME)
    assert (wrong_method.status, wrong_method.code) == (405, "bad.request")
    assert wrong_method.json["contextId"] == wrong_method.headers["ININ-Correlation-Id"]
    too_big = await api.call(
        "POST", "/oauth/token", data={"grant_type": "client_credentials", "padding": "x" * 600_000}
    )
    assert (too_big.status, too_big.code) == (413, "request.entity.too.large")
