"""POST /oauth/token, client credentials: request format, client authentication, regions, minting limits.

Covers: Basic and client_secret_post; the response shape (bearer, expires_in = the client's
validity, no refresh token, no-store); form-urlencoded only; missing and unsupported grant
types (password); invalid_client for a wrong secret, an unknown client, the wrong
region's login path, disabled and inactive clients; unauthorized_client for a CODE client;
the per-client minting limit and the global per-second cap (429 + Retry-After, then recovery).
"""

from __future__ import annotations

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import control, model, testing

from .conftest import Api

CC = {"grant_type": "client_credentials"}


async def test_client_credentials_with_basic_auth_returns_a_bearer_token_without_refresh_token(api: Api) -> None:
    acme = api.sim.tenant("acme")
    reply = await api.token_request(CC, client_id=acme.client_id, secret=api.sim.secret(acme.client_id))
    assert reply.status == 200
    assert set(reply.json) == {"access_token", "token_type", "expires_in"}
    assert reply.json["token_type"] == "bearer"
    assert reply.json["expires_in"] == model.DEFAULT_VALIDITY_SECONDS
    assert reply.headers["Cache-Control"] == "no-store"
    assert "ININ-Correlation-Id" in reply.headers


async def test_client_secret_post_is_accepted_too(api: Api) -> None:
    acme = api.sim.tenant("acme")
    form = {**CC, "client_id": acme.client_id, "client_secret": api.sim.secret(acme.client_id)}
    assert (await api.token_request(form)).status == 200


async def test_expires_in_is_the_clients_access_token_validity(api: Api) -> None:
    acme = api.sim.tenant("acme")
    api.sim.world.clients[acme.client_id].validity_seconds = 600
    reply = await api.token_request(CC, client_id=acme.client_id, secret=api.sim.secret(acme.client_id))
    assert reply.json["expires_in"] == 600


async def test_two_tokens_of_one_client_are_different_opaque_strings(api: Api) -> None:
    acme = api.sim.tenant("acme")
    first, second = await api.mint(acme.client_id), await api.mint(acme.client_id)
    assert first != second
    assert acme.client_id not in first  # opaque: nothing readable
    assert "." not in first  # and not a JWT


async def test_the_token_endpoint_accepts_form_urlencoded_only(api: Api) -> None:
    acme = api.sim.tenant("acme")
    reply = await api.call("POST", "/oauth/token", json=CC, headers={"Authorization": f"Basic {acme.client_id}"})
    assert (reply.status, reply.code) == (400, "invalid_request")
    assert set(reply.json) == {"error", "description", "error_description"}


async def test_a_wrong_secret_is_invalid_client_authentication_failed(api: Api) -> None:
    acme = api.sim.tenant("acme")
    reply = await api.token_request(CC, client_id=acme.client_id, secret="not-the-secret")
    assert reply.status == 401
    assert reply.json == {
        "error": "invalid_client",
        "description": "authentication failed",
        "error_description": "authentication failed",
    }


async def test_an_unknown_client_is_invalid_client(api: Api) -> None:
    reply = await api.token_request(CC, client_id="no-such-client", secret="x")
    assert reply.code == "invalid_client"


async def test_minting_at_another_regions_login_path_is_invalid_client(api: Api) -> None:
    eu = api.sim.tenant("acme-eu")  # an eu-west-1 org
    secret = api.sim.secret(eu.client_id)
    assert (await api.token_request(CC, client_id=eu.client_id, secret=secret, region="eu-west-1")).status == 200
    wrong = await api.token_request(CC, client_id=eu.client_id, secret=secret)  # the us-east-1 login host
    assert (wrong.status, wrong.json["description"]) == (401, "authentication failed")


async def test_disabled_and_inactive_clients_cannot_mint(api: Api) -> None:
    acme = api.sim.tenant("acme")
    secret = api.sim.secret(acme.client_id)
    for state in ("disabled", "inactive"):
        control.set_client_state(api.sim.world, acme.client_id, state)
        reply = await api.token_request(CC, client_id=acme.client_id, secret=secret)
        assert (reply.status, reply.code) == (401, "invalid_client"), state
    control.set_client_state(api.sim.world, acme.client_id, "active")
    assert (await api.token_request(CC, client_id=acme.client_id, secret=secret)).status == 200


async def test_a_code_client_cannot_use_client_credentials(api: Api) -> None:
    desktop = api.sim.tenant("acme-agent-desktop")
    reply = await api.token_request(CC, client_id=desktop.client_id, secret=api.sim.secret(desktop.client_id))
    assert (reply.status, reply.code) == (400, "unauthorized_client")


async def test_missing_grant_type_is_invalid_request(api: Api) -> None:
    acme = api.sim.tenant("acme")
    reply = await api.token_request({"scope": "x"}, client_id=acme.client_id, secret=api.sim.secret(acme.client_id))
    assert (reply.status, reply.code) == (400, "invalid_request")


async def test_the_password_grant_is_unsupported(api: Api) -> None:
    acme = api.sim.tenant("acme")
    secret = api.sim.secret(acme.client_id)
    reply = await api.token_request({"grant_type": "password"}, client_id=acme.client_id, secret=secret)
    assert (reply.status, reply.code) == (400, "unsupported_grant_type")


async def test_minting_too_often_for_one_client_is_429_with_retry_after_until_the_minute_ends(
    api: Api, clock: ManualClock
) -> None:
    control.set_rate_limits(api.sim.world, mints_per_client_per_minute=2)
    acme = api.sim.tenant("acme")
    secret = api.sim.secret(acme.client_id)
    assert [(await api.token_request(CC, client_id=acme.client_id, secret=secret)).status for _ in range(2)] == [
        200,
        200,
    ]
    await clock.advance(15)
    limited = await api.token_request(CC, client_id=acme.client_id, secret=secret)
    assert (limited.status, limited.code, limited.headers["Retry-After"]) == (
        429,
        "too.many.requests.retry.after",
        "45",
    )
    other = api.sim.tenant("acme-eu")  # another client is not affected
    assert (
        await api.token_request(
            CC, client_id=other.client_id, secret=api.sim.secret(other.client_id), region="eu-west-1"
        )
    ).status == 200
    await clock.advance(45)
    assert (await api.token_request(CC, client_id=acme.client_id, secret=secret)).status == 200


async def test_the_global_minting_cap_answers_429_for_the_rest_of_the_second(api: Api, clock: ManualClock) -> None:
    control.set_rate_limits(api.sim.world, mints_per_second=1)
    acme, eu = api.sim.tenant("acme"), api.sim.tenant("acme-eu")
    assert (await api.token_request(CC, client_id=acme.client_id, secret=api.sim.secret(acme.client_id))).status == 200
    eu_secret = api.sim.secret(eu.client_id)
    capped = await api.token_request(CC, client_id=eu.client_id, secret=eu_secret, region="eu-west-1")
    assert (capped.status, capped.headers["Retry-After"]) == (429, "1")
    await clock.advance(1)
    assert (await api.token_request(CC, client_id=eu.client_id, secret=eu_secret, region="eu-west-1")).status == 200


async def test_tokens_are_counted_in_the_state_and_forgotten_on_restart(api: Api) -> None:
    acme = api.sim.tenant("acme")
    token = await api.mint(acme.client_id)
    assert control.snapshot(api.sim.world)["tokens"]["access"] == 1
    control.restart(api.sim.world)
    assert (await api.get("/api/v2/tokens/me", token)).code == "bad.credentials"


async def test_the_platform_serves_every_orgs_region(platform: testing.Simulator) -> None:
    assert platform.world.regions == {"us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1", "ca-central-1"}
    assert platform.url("eu-west-1") == platform.base_url + "/regions/eu-west-1"
