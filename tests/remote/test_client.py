"""The generic bearer-token GET against the loopback platform, and how failures come back.

Covers: the bearer header, parsed data and a Reply with correlation id; each error status as
its own exception with a full snapshot (status, code, messageParams, contextId, correlation id,
Retry-After); HTML error pages and malformed JSON; bodies echoing secrets; redirects not
followed; the Retry-After floor shared by every call of a tenant (and only that tenant).
The typed calls (tokens/me, OAuth client, roles, permissions) are in ``test_client_calls``.
"""

from __future__ import annotations

import asyncio

import pytest

from grantwarden.base import clock as clocks
from grantwarden.base import redaction
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, transport
from grantwarden.remote import gate as remote_gate
from tests.remote.conftest import ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, ORG_ID, Canned, FakePlatform, error_body

ORG = "/api/v2/organizations/me"
TOKENS_ME = "/api/v2/tokens/me"


async def get_org(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate
) -> remote_client.ApiReply:
    return await client.get(endpoints, ORG, ACCESS_TOKEN, gate=gate, timeout_s=5.0)


async def test_get_sends_the_bearer_token_and_returns_data_and_a_reply(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    platform.respond("GET", ORG, Canned(json={"id": ORG_ID, "name": "acme"}))
    answer = await client.get(endpoints, ORG, ACCESS_TOKEN, gate=gate, timeout_s=5.0, params={"pageSize": "1"})

    assert answer.status == 200
    assert answer.data == {"id": ORG_ID, "name": "acme"}
    assert (answer.reply.method, answer.reply.path, answer.reply.status) == ("GET", ORG, 200)
    assert answer.reply.correlation_id == "corr-1"
    (seen,) = platform.seen
    assert seen.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert seen.headers["Accept"] == "application/json"
    assert seen.query == {"pageSize": "1"}


async def test_an_empty_2xx_body_is_data_none(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    platform.respond("GET", ORG, Canned(204))
    answer = await get_org(client, endpoints, gate)
    assert (answer.status, answer.data) == (204, None)


MISSING = (
    "Unable to perform the requested action. You are missing the following permission(s): [messaging:integration:view]"
)


@pytest.mark.parametrize(
    ("canned", "expected", "code"),
    [
        pytest.param(
            Canned(400, error_body(400, "not.a.user", "This request requires a user context.")),
            errors.BadRequest,
            "not.a.user",
            id="400-not-a-user",
        ),
        pytest.param(
            Canned(401, error_body(401, "bad.credentials", "Invalid login credentials.")),
            errors.Unauthorized,
            "bad.credentials",
            id="401-bad-credentials",
        ),
        pytest.param(
            Canned(
                403,
                error_body(
                    403, "missing.permissions", MISSING, messageParams={"permissions": "messaging:integration:view"}
                ),
            ),
            errors.Forbidden,
            "missing.permissions",
            id="403-missing-permissions",
        ),
        pytest.param(
            Canned(404, error_body(404, "client.not.found", "Client not found")),
            errors.NotFound,
            "client.not.found",
            id="404",
        ),
        pytest.param(
            Canned(409, error_body(409, "request.conflict", "Conflict")), errors.Conflict, "request.conflict", id="409"
        ),
        pytest.param(
            Canned(
                429,
                error_body(429, "too.many.requests.retry.after", "Retry in [7] seconds"),
                headers={"Retry-After": "7"},
            ),
            errors.RateLimited,
            "too.many.requests.retry.after",
            id="429",
        ),
        pytest.param(
            Canned(500, error_body(500, "internal.server.error", "boom")),
            errors.ServerError,
            "internal.server.error",
            id="500",
        ),
        pytest.param(
            Canned(503, error_body(503, "service.unavailable", "later")),
            errors.ServerError,
            "service.unavailable",
            id="503",
        ),
        pytest.param(
            Canned(418, error_body(418, "teapot", "short and stout")),
            errors.UnexpectedStatus,
            "teapot",
            id="418-unexpected",
        ),
        pytest.param(
            Canned(302, headers={"Location": "http://elsewhere.invalid/"}),
            errors.UnexpectedStatus,
            None,
            id="redirect-not-followed",
        ),
    ],
)
async def test_each_error_status_is_its_own_exception_with_a_snapshot(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: remote_gate.Gate,
    platform: FakePlatform,
    canned: Canned,
    expected: type[errors.HttpError],
    code: str | None,
) -> None:
    platform.respond("GET", ORG, canned)
    with pytest.raises(errors.HttpError) as caught:
        await get_org(client, endpoints, gate)

    reply = caught.value.reply
    assert type(caught.value) is expected
    assert (reply.method, reply.path, reply.status) == ("GET", ORG, canned.status)
    assert reply.correlation_id == "corr-1"
    assert reply.facts.code == code
    if code is not None:
        assert reply.facts.context_id == f"ctx-{code}"
        assert code in str(caught.value)
    assert "corr-1" in str(caught.value)
    assert len(platform.seen) == 1


async def test_a_403_keeps_message_params_and_the_full_message(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    body = error_body(403, "missing.permissions", MISSING, messageParams={"permissions": "messaging:integration:view"})
    platform.respond("GET", ORG, Canned(403, body))
    with pytest.raises(errors.Forbidden) as caught:
        await get_org(client, endpoints, gate)
    facts = caught.value.reply.facts
    assert facts.message == MISSING
    assert dict(facts.message_params) == {"permissions": "messaging:integration:view"}
    assert facts.context_id == "ctx-missing.permissions"


async def test_an_html_error_page_is_read_for_its_title(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>"
    platform.respond("GET", ORG, Canned(502, text=page, content_type="text/html"))
    with pytest.raises(errors.ServerError) as caught:
        await get_org(client, endpoints, gate)
    assert caught.value.reply.facts.is_html
    assert caught.value.reply.facts.code is None
    assert "502 Bad Gateway" in str(caught.value)


@pytest.mark.parametrize(
    "canned",
    [
        pytest.param(Canned(text="{not json", content_type="application/json"), id="broken-json"),
        pytest.param(Canned(text="<html><body>sign in</body></html>", content_type="text/html"), id="html-with-200"),
    ],
)
async def test_an_unparsable_2xx_is_malformed_with_its_body_shown(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: remote_gate.Gate,
    platform: FakePlatform,
    canned: Canned,
) -> None:
    platform.respond("GET", ORG, canned)
    with pytest.raises(errors.MalformedResponse) as caught:
        await get_org(client, endpoints, gate)
    assert caught.value.reply is not None
    assert caught.value.reply.status == 200
    assert caught.value.reply.body_text == canned.text


async def test_a_body_of_the_wrong_shape_is_malformed_naming_the_field(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    platform.respond("GET", TOKENS_ME, Canned(json={"organization": {"name": "no id"}}))
    with pytest.raises(errors.MalformedResponse) as caught:
        await client.tokens_me(endpoints, ACCESS_TOKEN, gate=gate)
    assert "organization.id" in str(caught.value)


async def test_a_body_echoing_the_token_and_secret_is_redacted(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: remote_gate.Gate,
    platform: FakePlatform,
    redactor: redaction.Redactor,
) -> None:
    redactor.add(CLIENT_SECRET, client_id=CLIENT_ID)
    echo = f"token {ACCESS_TOKEN} with secret {CLIENT_SECRET}; Authorization: Bearer {ACCESS_TOKEN}"
    platform.respond("GET", ORG, Canned(400, error_body(400, "bad.request", echo, messageParams={"t": ACCESS_TOKEN})))
    with pytest.raises(errors.BadRequest) as caught:
        await get_org(client, endpoints, gate)
    reply = caught.value.reply
    for text in (str(caught.value), repr(caught.value), reply.body_text, repr(reply), reply.facts.text):
        assert ACCESS_TOKEN not in text
        assert CLIENT_SECRET not in text
    assert redaction.REDACTED in (reply.facts.message or "")


async def test_after_a_429_no_request_of_that_tenant_leaves_before_retry_after(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: remote_gate.Gate,
    platform: FakePlatform,
    clock: clocks.ManualClock,
) -> None:
    limited = error_body(429, "too.many.requests.retry.after", "Retry in [7] seconds")
    platform.respond("GET", ORG, Canned(429, limited, headers={"Retry-After": "7"}), Canned(json={"id": ORG_ID}))
    platform.respond("POST", "/oauth/token", Canned(json={"access_token": ACCESS_TOKEN, "expires_in": 60}))
    start = clock.now()
    with pytest.raises(errors.RateLimited) as caught:
        await get_org(client, endpoints, gate)
    assert caught.value.retry_after == 7
    assert gate.not_before == start + 7

    probe = asyncio.create_task(get_org(client, endpoints, gate))
    mint = asyncio.create_task(client.mint_client_credentials(endpoints, CLIENT_ID, CLIENT_SECRET, gate=gate))
    await clock.advance(6.9)
    assert len(platform.seen) == 1
    await clock.advance(0.1)
    answer, grant = await asyncio.gather(probe, mint)

    assert answer.data == {"id": ORG_ID}
    assert grant.access_token == ACCESS_TOKEN
    assert [seen.at - start for seen in platform.seen] == [0, 7, 7]


async def test_the_floor_holds_only_the_tenant_that_was_limited(
    client: remote_client.Client, endpoints: transport.Endpoints, gate: remote_gate.Gate, platform: FakePlatform
) -> None:
    platform.respond("GET", ORG, Canned(429, headers={"Retry-After": "60"}), Canned(json={"id": ORG_ID}))
    with pytest.raises(errors.RateLimited):
        await get_org(client, endpoints, gate)
    answer = await get_org(client, endpoints, remote_gate.Gate())
    assert answer.data == {"id": ORG_ID}


async def test_a_429_without_retry_after_sets_no_floor(
    client: remote_client.Client,
    endpoints: transport.Endpoints,
    gate: remote_gate.Gate,
    platform: FakePlatform,
) -> None:
    platform.respond("GET", ORG, Canned(429, error_body(429, "too.many.requests", "slow down")))
    with pytest.raises(errors.RateLimited) as caught:
        await get_org(client, endpoints, gate)
    assert caught.value.retry_after is None
    assert gate.not_before == 0.0
