"""The code grant: /oauth/authorize, PKCE (S256), single-use codes, rotating refresh tokens.

Covers: auto-consent as the org's test user with a redirect carrying code and state; granted
scopes (requested ∩ the client's); redirect_uri validated against registeredRedirectUri (no
redirect to an unknown URI); the consent-denial knob (error=access_denied); unsupported
response types and non-S256 challenges; PKCE redemption without a secret and with a wrong or
missing verifier; codes work once and expire after 60 s; refresh returns a new refresh token
and the old one dies (at once, or after the configured grace); refresh needs the secret.
"""

from __future__ import annotations

import secrets
import urllib.parse

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import control, tokens

from .conftest import Api, Reply

REDIRECT = "http://127.0.0.1:8765/callback"


def params(reply: Reply) -> dict[str, str]:
    location = urllib.parse.urlsplit(reply.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return dict(urllib.parse.parse_qsl(location.query))


async def authorize(api: Api, **extra: str) -> Reply:
    desktop = api.sim.tenant("acme-agent-desktop")
    query = {"response_type": "code", "client_id": desktop.client_id, "redirect_uri": REDIRECT, "state": "xyz", **extra}
    return await api.call("GET", "/oauth/authorize", params=query)


async def redeem(api: Api, code: str, *, verifier: str | None = None, secret: bool = True) -> Reply:
    desktop = api.sim.tenant("acme-agent-desktop")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier is not None:
        form["code_verifier"] = verifier
    if not secret:
        form["client_id"] = desktop.client_id
        return await api.token_request(form)
    return await api.token_request(form, client_id=desktop.client_id, secret=api.sim.secret(desktop.client_id))


async def test_authorize_consents_as_the_test_user_and_redirects_with_code_and_state(api: Api) -> None:
    reply = await authorize(api)
    assert reply.status == 302
    assert set(params(reply)) == {"code", "state"}
    assert params(reply)["state"] == "xyz"


async def test_the_code_grant_returns_an_access_and_a_refresh_token_for_the_user(api: Api) -> None:
    code = params(await authorize(api))["code"]
    reply = await redeem(api, code)
    assert reply.status == 200
    assert set(reply.json) == {"access_token", "token_type", "expires_in", "refresh_token"}
    me = await api.get("/api/v2/users/me", reply.json["access_token"])
    assert (me.status, me.json["name"]) == (200, "Avery Agent")


async def test_the_token_gets_the_requested_scopes_the_client_has_and_no_others(api: Api) -> None:
    asked = "messaging:readonly webdeployments:readonly user-basic-info"
    token = (await redeem(api, params(await authorize(api, scope=asked))["code"])).json["access_token"]
    info = await api.get("/api/v2/tokens/me", token)
    assert info.json["authorizedScope"] == ["messaging:readonly", "user-basic-info"]


async def test_without_a_scope_parameter_the_token_gets_all_the_clients_scopes(api: Api) -> None:
    token = (await redeem(api, params(await authorize(api))["code"])).json["access_token"]
    info = await api.get("/api/v2/tokens/me", token)
    assert info.json["authorizedScope"] == ["messaging:readonly", "organization:readonly", "user-basic-info"]


async def test_an_unregistered_redirect_uri_is_refused_without_redirecting(api: Api) -> None:
    reply = await authorize(api, redirect_uri="http://evil.example/callback")
    assert (reply.status, reply.code) == (400, "invalid_request")
    assert "Location" not in reply.headers


async def test_the_denial_knob_redirects_with_access_denied(api: Api) -> None:
    control.set_consent_denied(api.sim.world, True)
    assert params(await authorize(api)) == {"error": "access_denied", "state": "xyz"}


async def test_only_response_type_code_and_s256_challenges_are_supported(api: Api) -> None:
    assert params(await authorize(api, response_type="token"))["error"] == "unsupported_response_type"
    plain = await authorize(api, code_challenge="abc", code_challenge_method="plain")
    assert params(plain)["error"] == "invalid_request"


async def test_a_client_credentials_client_cannot_authorize(api: Api) -> None:
    acme = api.sim.tenant("acme")
    api.sim.world.clients[acme.client_id].redirect_uris = (REDIRECT,)
    query = {"response_type": "code", "client_id": acme.client_id, "redirect_uri": REDIRECT}
    reply = await api.call("GET", "/oauth/authorize", params=query)
    assert params(reply)["error"] == "unauthorized_client"


async def test_pkce_redeems_with_the_verifier_and_no_secret(api: Api) -> None:
    verifier = secrets.token_urlsafe(48)
    code = params(await authorize(api, code_challenge=tokens.s256(verifier), code_challenge_method="S256"))["code"]
    reply = await redeem(api, code, verifier=verifier, secret=False)
    assert reply.status == 200
    assert "refresh_token" in reply.json


async def test_pkce_with_a_wrong_or_missing_verifier_is_refused(api: Api) -> None:
    verifier = secrets.token_urlsafe(48)
    challenge = {"code_challenge": tokens.s256(verifier), "code_challenge_method": "S256"}
    code = params(await authorize(api, **challenge))["code"]
    assert (await redeem(api, code, verifier=secrets.token_urlsafe(48), secret=False)).code == "invalid_grant"
    code = params(await authorize(api, **challenge))["code"]
    assert (await redeem(api, code, secret=True)).code == "invalid_grant"  # a secret does not replace the verifier
    code = params(await authorize(api, **challenge))["code"]
    assert (await redeem(api, code, secret=False)).code == "invalid_client"  # public, but no verifier at all


async def test_a_code_works_once(api: Api) -> None:
    code = params(await authorize(api))["code"]
    assert (await redeem(api, code)).status == 200
    again = await redeem(api, code)
    assert (again.status, again.code) == (400, "invalid_grant")


async def test_a_code_expires_after_sixty_seconds(api: Api, clock: ManualClock) -> None:
    fresh, stale = params(await authorize(api))["code"], params(await authorize(api))["code"]
    await clock.advance(59)
    assert (await redeem(api, fresh)).status == 200
    await clock.advance(1)
    assert (await redeem(api, stale)).code == "invalid_grant"


async def test_redeeming_needs_the_same_redirect_uri(api: Api) -> None:
    desktop = api.sim.tenant("acme-agent-desktop")
    code = params(await authorize(api))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1:9/other"}
    reply = await api.token_request(form, client_id=desktop.client_id, secret=api.sim.secret(desktop.client_id))
    assert reply.code == "invalid_grant"


async def refresh(api: Api, refresh_token: str) -> Reply:
    desktop = api.sim.tenant("acme-agent-desktop")
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await api.token_request(form, client_id=desktop.client_id, secret=api.sim.secret(desktop.client_id))


async def test_each_refresh_returns_a_new_refresh_token_and_the_old_one_stops_working(api: Api) -> None:
    first = (await redeem(api, params(await authorize(api))["code"])).json["refresh_token"]
    reply = await refresh(api, first)
    assert reply.status == 200
    second = reply.json["refresh_token"]
    assert second != first
    assert (await api.get("/api/v2/users/me", reply.json["access_token"])).status == 200
    assert (await refresh(api, first)).code == "invalid_grant"
    assert (await refresh(api, second)).status == 200


async def test_with_a_grace_the_old_refresh_token_works_until_the_grace_ends(api: Api, clock: ManualClock) -> None:
    control.set_refresh_grace(api.sim.world, 30)
    first = (await redeem(api, params(await authorize(api))["code"])).json["refresh_token"]
    assert (await refresh(api, first)).status == 200
    await clock.advance(30)
    assert (await refresh(api, first)).status == 200  # still within 30 s of its successor
    await clock.advance(1)
    assert (await refresh(api, first)).code == "invalid_grant"


async def test_refresh_needs_the_clients_secret(api: Api) -> None:
    desktop = api.sim.tenant("acme-agent-desktop")
    first = (await redeem(api, params(await authorize(api))["code"])).json["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": first, "client_id": desktop.client_id}
    assert (await api.token_request(form)).code == "invalid_client"


async def test_a_refresh_token_of_a_disabled_client_is_revoked(api: Api) -> None:
    desktop = api.sim.tenant("acme-agent-desktop")
    first = (await redeem(api, params(await authorize(api))["code"])).json["refresh_token"]
    control.set_client_state(api.sim.world, desktop.client_id, "disabled")
    control.set_client_state(api.sim.world, desktop.client_id, "active")
    assert (await refresh(api, first)).code == "invalid_grant"


async def test_a_rate_limited_refresh_keeps_the_refresh_token_usable(api: Api, clock: ManualClock) -> None:
    refresh = (await redeem(api, params(await authorize(api))["code"])).json["refresh_token"]
    control.set_rate_limits(api.sim.world, mints_per_client_per_minute=1)
    desktop = api.sim.tenant("acme-agent-desktop")
    form = {"grant_type": "refresh_token", "refresh_token": refresh}
    limited = await api.token_request(form, client_id=desktop.client_id, secret=api.sim.secret(desktop.client_id))
    assert limited.status == 429
    await clock.advance(61)
    again = await api.token_request(form, client_id=desktop.client_id, secret=api.sim.secret(desktop.client_id))
    assert again.status == 200, "a 429 must not have consumed the refresh token"


async def test_a_rate_limited_code_exchange_does_not_burn_the_code(api: Api) -> None:
    code = params(await authorize(api))["code"]
    control.set_rate_limits(api.sim.world, mints_per_client_per_minute=1)
    await redeem(api, params(await authorize(api))["code"])  # uses this minute's one mint
    assert (await redeem(api, code)).status == 429
    control.set_rate_limits(api.sim.world, mints_per_client_per_minute=100)
    assert (await redeem(api, code)).status == 200
