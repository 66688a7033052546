"""The token endpoint client (platform.md §1.2–§1.3).

Covers: the client-credentials request (form, Basic auth, no scope), the grant it returns and
its expiry arithmetic, the authorization-code and refresh grants (confidential and PKCE
public clients), each token error mapped to its own exception (``invalid_client`` distinct from
``invalid_grant``), 429 and 5xx from the token endpoint, malformed success bodies, and that
tokens and secrets never show in exceptions or reply snapshots.
"""

from __future__ import annotations

import base64

import pytest

from grantwarden.base import clock as clocks
from grantwarden.base import redaction
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, transport
from grantwarden.remote import gate as remote_gate
from tests.remote.conftest import ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, Canned, FakePlatform

TOKEN = "/oauth/token"
SECRETS = (CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN, redaction.basic_credentials(CLIENT_ID, CLIENT_SECRET))


def token_body(**extra: object) -> dict[str, object]:
    return {"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 86400, **extra}


async def mint(client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate) -> object:
    return await client.mint_client_credentials(endpoints, CLIENT_ID, CLIENT_SECRET, gate=gate)


def assert_no_secret(exc: BaseException) -> None:
    shown = [str(exc), repr(exc)]
    if isinstance(exc, errors.RemoteError) and exc.reply is not None:
        shown += [exc.reply.body_text, repr(exc.reply)]
    for secret in SECRETS:
        assert not any(secret in text for text in shown), secret


async def test_client_credentials_posts_a_form_with_basic_auth_and_returns_the_grant(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: remote_gate.Gate,
    platform: FakePlatform,
    clock: clocks.ManualClock,
) -> None:
    platform.respond("POST", TOKEN, Canned(json=token_body()))
    grant = await client.mint_client_credentials(endpoints, CLIENT_ID, CLIENT_SECRET, gate=gate)

    assert (grant.access_token, grant.token_type, grant.expires_in) == (ACCESS_TOKEN, "bearer", 86400)
    assert grant.refresh_token is None
    assert grant.received_at == clock.now()
    assert grant.expires_at == clock.now() + 86400
    (seen,) = platform.seen
    assert seen.form == {"grant_type": "client_credentials"}
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert seen.headers["Authorization"] == f"Basic {expected}"
    assert seen.headers["Content-Type"].startswith("application/x-www-form-urlencoded")


async def test_a_grant_never_shows_its_tokens_in_repr(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    platform.respond("POST", TOKEN, Canned(json=token_body(refresh_token=REFRESH_TOKEN)))
    grant = await client.mint_client_credentials(endpoints, CLIENT_ID, CLIENT_SECRET, gate=gate)
    assert ACCESS_TOKEN not in repr(grant)
    assert REFRESH_TOKEN not in repr(grant)


async def test_minting_registers_the_secret_its_basic_form_and_the_tokens(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: remote_gate.Gate,
    platform: FakePlatform,
    redactor: redaction.Redactor,
) -> None:
    platform.respond("POST", TOKEN, Canned(json=token_body(refresh_token=REFRESH_TOKEN)))
    await client.mint_client_credentials(endpoints, CLIENT_ID, CLIENT_SECRET, gate=gate)
    for secret in SECRETS:
        assert secret in redactor


async def test_refresh_sends_the_refresh_token_and_returns_the_rotated_one(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    platform.respond("POST", TOKEN, Canned(json=token_body(refresh_token="rt-rotated-0000000000")))
    grant = await client.refresh(endpoints, CLIENT_ID, CLIENT_SECRET, gate=gate, refresh_token=REFRESH_TOKEN)

    assert grant.refresh_token == "rt-rotated-0000000000"
    (seen,) = platform.seen
    assert seen.form == {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}
    assert seen.headers["Authorization"].startswith("Basic ")


async def test_a_confidential_code_exchange_uses_basic_auth_and_sends_the_verifier(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    platform.respond("POST", TOKEN, Canned(json=token_body(refresh_token=REFRESH_TOKEN)))
    grant = await client.exchange_code(
        endpoints,
        CLIENT_ID,
        CLIENT_SECRET,
        gate=gate,
        code="code-abcdef",
        redirect_uri="http://127.0.0.1:8765/callback",
        code_verifier="v" * 43,
    )
    assert grant.refresh_token == REFRESH_TOKEN
    (seen,) = platform.seen
    assert seen.form == {
        "grant_type": "authorization_code",
        "code": "code-abcdef",
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "code_verifier": "v" * 43,
    }
    assert seen.headers["Authorization"].startswith("Basic ")


async def test_a_public_pkce_client_sends_its_id_in_the_form_and_no_authorization(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    platform.respond("POST", TOKEN, Canned(json=token_body(refresh_token=REFRESH_TOKEN)))
    await client.exchange_code(
        endpoints, CLIENT_ID, None, gate=gate, code="code-abcdef", redirect_uri="http://x/cb", code_verifier="v" * 43
    )
    (seen,) = platform.seen
    assert seen.form["client_id"] == CLIENT_ID
    assert "Authorization" not in seen.headers


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        pytest.param(
            401,
            {
                "error": "invalid_client",
                "description": "authentication failed",
                "error_description": "authentication failed",
            },
            errors.InvalidClient,
            id="invalid-client-wrong-secret-or-region",
        ),
        pytest.param(
            400,
            {"error": "invalid_client", "description": "authentication failed"},
            errors.InvalidClient,
            id="invalid-client-400",
        ),
        pytest.param(
            400,
            {"error": "invalid_grant", "error_description": "refresh token revoked"},
            errors.InvalidGrant,
            id="invalid-grant",
        ),
        pytest.param(
            400,
            {"error": "unsupported_grant_type", "error_description": "no"},
            errors.TokenEndpointError,
            id="other-oauth-error",
        ),
        pytest.param(400, {"message": "bad", "code": "bad.request"}, errors.BadRequest, id="400-without-oauth-error"),
        pytest.param(503, {"error": "server_error"}, errors.ServerError, id="5xx-stays-server-error"),
    ],
)
async def test_token_errors_become_their_own_exceptions(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: remote_gate.Gate,
    platform: FakePlatform,
    status: int,
    body: dict[str, str],
    expected: type[errors.HttpError],
) -> None:
    platform.respond("POST", TOKEN, Canned(status, body))
    with pytest.raises(errors.HttpError) as caught:
        await mint(client, endpoints, gate)
    assert type(caught.value) is expected
    assert caught.value.reply.status == status
    assert caught.value.reply.path == TOKEN
    assert caught.value.reply.correlation_id is not None
    assert_no_secret(caught.value)


async def test_invalid_client_names_the_oauth_error_and_is_not_an_api_401(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    body = {
        "error": "invalid_client",
        "description": "authentication failed",
        "error_description": "authentication failed",
    }
    platform.respond("POST", TOKEN, Canned(401, body))
    with pytest.raises(errors.InvalidClient) as caught:
        await mint(client, endpoints, gate)
    assert not isinstance(caught.value, errors.Unauthorized)
    assert (caught.value.error, caught.value.error_description) == ("invalid_client", "authentication failed")
    assert "invalid_client: authentication failed" in str(caught.value)


async def test_a_429_from_the_token_endpoint_is_rate_limited_and_raises_the_gate(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: remote_gate.Gate,
    platform: FakePlatform,
    clock: clocks.ManualClock,
) -> None:
    body = {
        "message": "Rate limit exceeded the maximum. Retry the request in [30] seconds",
        "code": "too.many.requests.retry.after",
        "status": 429,
    }
    platform.respond("POST", TOKEN, Canned(429, body, headers={"Retry-After": "30"}))
    with pytest.raises(errors.RateLimited) as caught:
        await mint(client, endpoints, gate)
    assert caught.value.retry_after == 30
    assert gate.not_before == clock.now() + 30


@pytest.mark.parametrize(
    "canned",
    [
        pytest.param(Canned(json={"access_token": ACCESS_TOKEN, "token_type": "bearer"}), id="missing-expires-in"),
        pytest.param(Canned(json=token_body(expires_in="soon")), id="expires-in-not-a-number"),
        pytest.param(Canned(json=token_body(expires_in=0)), id="expires-in-zero"),
        pytest.param(Canned(json=token_body(expires_in=True)), id="expires-in-boolean"),
        pytest.param(Canned(json={"token_type": "bearer", "expires_in": 60}), id="missing-access-token"),
        pytest.param(Canned(json=[ACCESS_TOKEN]), id="not-an-object"),
        pytest.param(Canned(text=f"access_token={ACCESS_TOKEN}", content_type="text/plain"), id="not-json"),
        pytest.param(Canned(), id="empty-body"),
    ],
)
async def test_a_success_body_we_cannot_use_is_malformed_and_hides_the_token(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: remote_gate.Gate,
    platform: FakePlatform,
    canned: Canned,
) -> None:
    platform.respond("POST", TOKEN, canned)
    with pytest.raises(errors.MalformedResponse) as caught:
        await mint(client, endpoints, gate)
    assert caught.value.reply is not None
    assert caught.value.reply.status == 200
    assert_no_secret(caught.value)


async def test_an_error_body_echoing_the_secret_and_header_is_redacted_everywhere(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    basic = redaction.basic_credentials(CLIENT_ID, CLIENT_SECRET)
    body = {
        "error": "invalid_request",
        "error_description": f"client_secret {CLIENT_SECRET} rejected; header was Basic {basic}",
    }
    platform.respond("POST", TOKEN, Canned(400, body))
    with pytest.raises(errors.TokenEndpointError) as caught:
        await mint(client, endpoints, gate)
    assert_no_secret(caught.value)
    assert caught.value.error_description is not None
    assert CLIENT_SECRET not in caught.value.error_description
    assert redaction.REDACTED in caught.value.reply.body_text
