"""The in-path proxy over real loopback HTTP, in front of a scripted platform (design.md §2.9).

Covers: a request goes to the tenant's API host with the tenant's token and none of the caller's
Authorization, grantwarden token, hop-by-hop or X-Grantwarden-* headers, and comes back unchanged
plus X-Grantwarden-Outcome; no, a wrong or two proxy tokens, tricky targets (sent raw: ``..``,
encoded slashes, a double slash, an absolute URI naming another host), an unknown tenant, an
unproxied method and a path outside proxy_allow are answered by grantwarden and never reach the
platform (403 ``not_allowed`` with the body that says where to add it); an unverified or
wrong-org tenant gets 503 and no token is asked for; the tenant's access object is the real one
(``worker.access``): a token about to expire within the timeout is replaced before it goes; a
401 makes the access object drop the token and is retried once with the next one for idempotent
methods only (an IP allowlist's 401 drops nothing and is not retried), and a second 401 makes the
tenant back off (503 with Retry-After, no mint storm);
a 429 raises the tenant's floor through the access object, holding every caller of the org (local
429 with the time left, also for a floor the probes set) until it passes; a 403 passes through
with its outcome and fix, is recorded once per operation (counted, logged once, history once the
operation passes) and becomes an observed probe that wakes the tenant's loop to diagnose and
re-grant; excess concurrency is 429 at once; no token (with the tenant's fix and when to ask
again), a worker not running, a failing platform, a slow one; metrics per tenant and outcome; no
token in any answer header or log line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from grantwarden.policy import labels
from grantwarden.remote import errors
from grantwarden.worker import status as health
from grantwarden.worker import statusjson
from tests.surface import proxykit
from tests.surface.proxykit import PROXY_TOKEN, TOKENS, Platform, Rig

INTEGRATIONS = "/t/acme-eu/api/v2/conversations/messaging/integrations"
ROLES = "/t/acme-eu/api/v2/users/0a1b2c3d-0000-4000-8000-123456789abc/roles"
SECRETS = (PROXY_TOKEN, *TOKENS)
MISSING = {
    "message": "Unable to perform the requested action. You are missing the following permission(s): "
    "[messaging:integration:view]",
    "code": "missing.permissions",
    "status": 403,
    "messageParams": {},
    "contextId": "ctx-403",
    "details": [],
    "errors": [],
}


@pytest.fixture
async def platform() -> AsyncIterator[Platform]:
    async with Platform().running() as running:
        yield running


@pytest.fixture
async def rig(platform: Platform) -> AsyncIterator[Rig]:
    async with proxykit.running_proxy(platform) as running:
        yield running


def answering(*responses: web.StreamResponse) -> proxykit.Handler:
    """A platform handler giving these answers in turn, then 200s."""
    queue = list(responses)

    async def handler(request: web.Request) -> web.StreamResponse:
        return queue.pop(0) if queue else await Platform.ok(request)

    return handler


def no_secret_in(*texts: object) -> bool:
    return not any(secret in str(text) for secret in SECRETS for text in texts)


async def raw_request(rig: Rig, target: str, *, token: str = PROXY_TOKEN) -> tuple[int, dict[str, str], bytes]:
    """One request written byte for byte: clients would normalise what these tests send."""
    host, port = rig.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: x\r\nX-Grantwarden-Token: {token}\r\nConnection: close\r\n\r\n".encode()
    )
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


async def test_a_request_reaches_the_tenants_org_with_its_token_and_nothing_of_the_callers(rig: Rig) -> None:
    response = await rig.call(
        "GET",
        INTEGRATIONS + "?pageSize=1&after=a%2Fb",
        headers={"Authorization": "Bearer the-sdks-own", "Connection": "keep-alive, X-Hop", "X-Hop": "1"},
    )
    assert response.status == 200
    assert await response.json() == {"entities": [], "pageSize": 1}
    assert response.headers["X-Grantwarden-Outcome"] == "ok"
    assert response.headers["ININ-Correlation-Id"] == "corr-ok"
    assert "X-Grantwarden-Fix" not in response.headers
    (seen,) = rig.platform.seen
    assert seen.target == "/api/v2/conversations/messaging/integrations?pageSize=1&after=a%2Fb"
    assert seen.token == TOKENS[0]
    names = {name.lower() for name, _ in seen.headers}
    assert not names & {"x-grantwarden-token", "x-hop", "keep-alive"}
    assert [v for k, v in seen.headers if k.lower() == "authorization"] == [f"Bearer {TOKENS[0]}"]
    assert dict(seen.headers)["Host"] == rig.platform.url.removeprefix("http://")
    assert rig.sample("grantwarden_proxy_requests_total", tenant="acme-eu", outcome="ok") == 1
    assert rig.sample("grantwarden_proxy_duration_seconds_count", outcome="ok") == 1
    assert rig.target.status.handoff is None, "the proxy hands no token out: nothing recorded as handed out"


async def test_a_token_that_would_not_outlast_the_requests_timeout_is_replaced_before_it_goes(rig: Rig) -> None:
    await rig.call("GET", INTEGRATIONS)
    await rig.clock.advance(3600 - 90)  # 90 s left: the 30 s timeout and the box's 30 s margin, the same token
    await rig.call("GET", INTEGRATIONS)
    await rig.clock.advance(40)  # 50 s left: it could expire while the platform answers
    await rig.call("GET", INTEGRATIONS)
    assert [seen.token for seen in rig.platform.seen] == [TOKENS[0], TOKENS[0], TOKENS[1]]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"X-Grantwarden-Token": "wrong"}, id="wrong"),
        pytest.param({"X-Grantwarden-Token": PROXY_TOKEN + "x"}, id="longer"),
        pytest.param({"Authorization": f"Bearer {PROXY_TOKEN}"}, id="in-authorization"),
    ],
)
async def test_without_the_proxy_token_nothing_is_forwarded(rig: Rig, headers: dict[str, str]) -> None:
    response = await rig.session.get(rig.url + INTEGRATIONS, headers=headers)
    assert response.status == 401
    assert (await response.json())["error"] == "unauthenticated"
    assert response.headers["X-Grantwarden-Outcome"] == "unauthenticated"
    assert rig.platform.seen == []
    assert rig.minted == [], "no token was even asked for"


async def test_two_proxy_tokens_are_refused(rig: Rig) -> None:
    response = await rig.session.get(
        rig.url + INTEGRATIONS, headers=[("X-Grantwarden-Token", PROXY_TOKEN), ("X-Grantwarden-Token", PROXY_TOKEN)]
    )
    assert response.status == 401
    assert rig.platform.seen == []


@pytest.mark.parametrize(
    ("target", "says"),
    [
        pytest.param("/t/acme-eu/api/v2/conversations/messaging/../../../oauth/clients", "..", id="dot-dot"),
        pytest.param("/t/acme-eu/api/v2/conversations/messaging/..%2F..%2Foauth", "%2F", id="encoded-slash"),
        pytest.param("/t/acme-eu/api/v2/conversations/messaging//integrations", "//", id="double-slash"),
        pytest.param("http://evil.example/t/acme-eu/api/v2/conversations/messaging/x", "host", id="other-host"),
        pytest.param("/t/acme-eu/api/v2/conversations/messaging/x;/..;/y", ";", id="path-parameter"),
        pytest.param("/t/acme-eu/oauth/token", "/api/v2/", id="not-api-v2"),
    ],
)
async def test_a_tricky_target_is_refused_before_anything_else(rig: Rig, target: str, says: str) -> None:
    status, headers, body = await raw_request(rig, target)
    assert status == 400
    assert headers["X-Grantwarden-Outcome"] == "bad_target"
    assert says in json.loads(body)["message"]
    assert rig.platform.seen == []
    assert rig.minted == [], "no token was even asked for"


async def test_a_path_outside_the_allow_list_is_403_from_grantwarden(rig: Rig) -> None:
    response = await rig.call("GET", "/t/acme-eu/api/v2/oauth/clients?pageSize=1")
    assert response.status == 403
    assert response.headers["X-Grantwarden-Outcome"] == "not_allowed"
    assert await response.json() == {
        "error": "not_allowed",
        "message": "not in the blueprint's proxy_allow",
        "tenant": "acme-eu",
        "method": "GET",
        "path": "/api/v2/oauth/clients",
        "fix": "add it to blueprints.messaging.proxy_allow in gw.yaml",
    }
    post = await rig.call("POST", INTEGRATIONS, json={})  # the path is allowed for GET only
    assert post.status == 403
    assert rig.platform.seen == []
    assert rig.minted == [], "no token was even asked for"
    records = {r.operation: r for r in rig.target.status.traffic}
    assert records["GET /api/v2/oauth/clients"].outcome == "not_allowed"
    assert rig.sample("grantwarden_proxy_requests_total", tenant="acme-eu", outcome="not_allowed") == 2


async def test_an_unknown_tenant_and_an_unproxied_method_are_refused(rig: Rig) -> None:
    unknown = await rig.call("GET", "/t/acme-zz/api/v2/conversations/messaging/integrations")
    assert unknown.status == 404
    assert (await unknown.json())["error"] == "unknown_tenant"
    assert rig.sample("grantwarden_proxy_requests_total", tenant="acme-zz", outcome="unknown_tenant") is None
    trace = await rig.call("TRACE", INTEGRATIONS)
    assert trace.status == 405
    assert trace.headers["X-Grantwarden-Outcome"] == "bad_method"
    assert rig.platform.seen == []


@pytest.mark.parametrize(
    ("identity_org_id", "outcome"),
    [pytest.param(None, "identity_not_verified", id="not-yet"), pytest.param("other-org", "wrong_org", id="wrong-org")],
)
async def test_a_tenant_whose_identity_did_not_pass_is_never_proxied(
    platform: Platform, identity_org_id: str | None, outcome: str
) -> None:
    def unverified(tenant: proxykit.models.Tenant) -> health.TenantStatus:
        status = proxykit.verified_status(tenant)
        status.identity_org_id = identity_org_id
        return status

    async with proxykit.running_proxy(platform, status=unverified) as rig:
        response = await rig.call("GET", INTEGRATIONS)
        assert response.status == 503
        assert response.headers["X-Grantwarden-Outcome"] == outcome
        assert "org" in response.headers["X-Grantwarden-Fix"]
        assert rig.minted == [], "no token was even asked for"
        assert platform.seen == []


@pytest.mark.parametrize(
    ("method", "retried"),
    [
        pytest.param("GET", True, id="get"),
        pytest.param("HEAD", True, id="head"),
        pytest.param("OPTIONS", True, id="options"),
        pytest.param("PUT", True, id="put"),
        pytest.param("DELETE", True, id="delete"),
        pytest.param("POST", False, id="post"),
        pytest.param("PATCH", False, id="patch"),
    ],
)
async def test_a_401_is_retried_once_with_a_fresh_token_for_idempotent_methods_only(
    rig: Rig, method: str, retried: bool
) -> None:
    refused = web.json_response(
        {"code": "bad.credentials", "message": "Invalid login credentials.", "status": 401}, status=401
    )
    rig.platform.handler = answering(refused)
    body = b'{"roles": ["a"]}' if method in ("PUT", "POST", "PATCH") else None
    with capture_logs() as logs:
        response = await rig.call(method, ROLES, data=body)
    (dropped,) = [e for e in logs if e["event"] == "token_invalidated_by_client"]
    assert dropped["backing_off"] is False, "the access object dropped the refused token, once"
    if retried:
        assert response.status == 200
        assert [seen.token for seen in rig.platform.seen] == [TOKENS[0], TOKENS[1]]
        assert {seen.body_bytes for seen in rig.platform.seen} == {len(body or b"")}, "the same body, twice"
        assert rig.target.status.traffic == (), "the caller never saw that 401"
    else:
        assert response.status == 401
        assert response.headers["X-Grantwarden-Outcome"] == "unauthorized"
        assert [seen.token for seen in rig.platform.seen] == [TOKENS[0]]
        assert rig.target.status.traffic[0].outcome == "unauthorized"
        assert rig.access.box.token is None
        assert (await rig.call("GET", INTEGRATIONS)).status == 200
        assert rig.platform.seen[-1].token == TOKENS[1], "the next request has a new token"


async def test_a_401_of_the_orgs_ip_allowlist_is_neither_retried_nor_drops_the_token(rig: Rig) -> None:
    refusal = {"code": "ip.not.authorized", "message": "IP address not authorized", "status": 401}
    rig.platform.handler = answering(web.json_response(refusal, status=401))
    response = await rig.call("GET", INTEGRATIONS)
    assert response.status == 401
    assert response.headers["X-Grantwarden-Outcome"] == "ip_not_authorized"
    assert "IP allowlist" in response.headers["X-Grantwarden-Fix"]
    assert [seen.token for seen in rig.platform.seen] == [TOKENS[0]], "a new token would be refused alike"
    assert rig.minted == [TOKENS[0]]
    assert rig.access.box.token is not None


async def test_a_second_401_goes_to_the_caller_and_the_tenant_backs_off_before_minting_again(rig: Rig) -> None:
    """The replacement refused too: the access object drops it as a refusal (design.md §3.2), so
    no request of the tenant makes a mint storm; callers get 503 with when to ask again."""
    refusal = {"code": "bad.credentials", "message": "Invalid login credentials.", "status": 401}
    rig.platform.handler = answering(web.json_response(refusal, status=401), web.json_response(refusal, status=401))
    response = await rig.call("GET", INTEGRATIONS)
    assert response.status == 401
    assert await response.json() == refusal
    assert response.headers["X-Grantwarden-Outcome"] == "unauthorized"
    assert "token" in response.headers["X-Grantwarden-Fix"]
    assert rig.target.status.traffic[0].outcome == "unauthorized"
    backing_off = await rig.call("GET", INTEGRATIONS)
    assert backing_off.status == 503
    assert backing_off.headers["X-Grantwarden-Outcome"] == "unauthorized"
    assert int(backing_off.headers["Retry-After"]) >= 1
    assert rig.minted == [TOKENS[0], TOKENS[1]]
    assert len(rig.platform.seen) == 2


async def test_a_429_holds_every_caller_of_the_org_until_retry_after_has_passed(rig: Rig) -> None:
    limited = {"code": "too.many.requests.retry.after", "message": "Retry the request in [30] seconds", "status": 429}
    rig.platform.handler = answering(web.json_response(limited, status=429, headers={"Retry-After": "30"}))
    first = await rig.call("GET", INTEGRATIONS)
    assert first.status == 429
    assert await first.json() == limited
    assert first.headers["X-Grantwarden-Outcome"] == "rate_limited"
    assert rig.gate.not_before == rig.clock.now() + 30, "the access object raised the tenant's floor"
    await rig.clock.advance(12.5)
    held = await rig.call("GET", ROLES)  # another caller, another operation: the org's limit
    assert held.status == 429
    assert held.headers["Retry-After"] == "18"
    assert held.headers["X-Grantwarden-Outcome"] == "held"
    assert (await held.json())["error"] == "held"
    assert len(rig.platform.seen) == 1
    await rig.clock.advance(17.5)
    assert (await rig.call("GET", INTEGRATIONS)).status == 200
    assert rig.sample("grantwarden_proxy_requests_total", tenant="acme-eu", outcome="held") == 1


async def test_a_floor_the_probes_set_holds_proxied_callers_too(rig: Rig) -> None:
    rig.gate.hold(now=rig.clock.now(), seconds=5.2)
    held = await rig.call("GET", INTEGRATIONS)
    assert held.status == 429
    assert held.headers["Retry-After"] == "6"
    assert rig.platform.seen == []
    assert rig.minted == [], "no token was even asked for"


async def test_a_403_passes_through_with_its_outcome_fix_record_and_diagnosis(rig: Rig) -> None:
    headers = {"ININ-Correlation-Id": "corr-403"}
    rig.platform.handler = answering(
        web.json_response(MISSING, status=403, headers=headers), web.json_response(MISSING, status=403, headers=headers)
    )
    with capture_logs() as logs:
        first = await rig.call("GET", INTEGRATIONS + "?pageSize=1")
        second = await rig.call("GET", INTEGRATIONS + "?pageSize=2")
    assert first.status == second.status == 403
    assert await first.json() == MISSING
    assert first.headers["X-Grantwarden-Outcome"] == "missing_permission"
    assert "messaging:integration:view" in first.headers["X-Grantwarden-Fix"]
    assert first.headers["ININ-Correlation-Id"] == "corr-403"
    (record,) = rig.target.status.traffic
    assert (record.operation, record.outcome, record.count, record.code) == (
        "GET /api/v2/conversations/messaging/integrations",
        "missing_permission",
        2,
        "missing.permissions",
    )
    assert record.correlation_id == "corr-403"
    assert record.passed_at is None
    refusal_lines = [entry["event"] for entry in logs if entry["event"] in ("proxy_refused", "refusal_reported")]
    assert refusal_lines == ["proxy_refused"], "logged once per operation, not per request"
    observed = rig.access.observed.get("traffic:get-conversations-messaging-integrations")
    assert observed is not None, "the tenant's next cycle diagnoses it, and re-grants within its guard rails"
    assert observed.reprobe == "/api/v2/conversations/messaging/integrations?pageSize=2", "as last refused"
    assert rig.access.wake.is_set(), "that cycle starts now"
    assert (await rig.call("GET", INTEGRATIONS)).status == 200
    assert rig.target.status.traffic[0].passed_at == rig.clock.now()
    shown = statusjson.tenant_json(rig.target.status)["traffic"][0]
    assert shown["outcome"] == "missing_permission"
    assert shown["count"] == 2


async def test_requests_over_the_tenants_concurrency_are_429_at_once(platform: Platform) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await release.wait()
        return await Platform.ok(request)

    platform.handler = slow
    async with proxykit.running_proxy(platform, config={"per_tenant_concurrency": 1}) as rig:
        first = asyncio.ensure_future(rig.call("GET", INTEGRATIONS))
        await arrived.wait()  # the first request is with the platform
        busy = await rig.call("GET", INTEGRATIONS)
        assert busy.status == 429
        assert busy.headers["Retry-After"] == "1"
        assert busy.headers["X-Grantwarden-Outcome"] == "busy"
        release.set()
        assert (await first).status == 200
        assert (await rig.call("GET", INTEGRATIONS)).status == 200, "the slot is free again"


async def test_no_token_to_hand_out_is_503_with_the_tenants_outcome_fix_and_when_to_retry(rig: Rig) -> None:
    async def refused() -> None:
        raise errors.Unauthorized(errors.Reply("POST", "/oauth/token", 401, None))

    rig.access.box._mint = refused  # type: ignore[assignment]  # the credential is refused from now on
    fix = "Check credentials.client_secret of acme-eu."
    rig.target.status.findings = (health.FindingRecord("token", "unauthorized", (), False, "refused", fix),)
    response = await rig.call("GET", INTEGRATIONS)
    assert response.status == 503
    assert response.headers["X-Grantwarden-Outcome"] == "unauthorized"
    assert response.headers["X-Grantwarden-Fix"] == fix
    assert int(response.headers["Retry-After"]) >= 1
    assert rig.platform.seen == []


async def test_a_tenant_whose_worker_is_not_running_is_503_unavailable(rig: Rig) -> None:
    rig.targets.targets["acme-eu"] = dataclasses.replace(rig.target, access=None)
    response = await rig.call("GET", INTEGRATIONS)
    assert response.status == 503
    assert response.headers["X-Grantwarden-Outcome"] == "unavailable"
    assert "not running" in response.headers["X-Grantwarden-Fix"]
    assert rig.platform.seen == []


async def test_a_platform_that_cannot_be_reached_is_502(rig: Rig) -> None:
    async with Platform().running() as gone:
        url = gone.url
    object.__setattr__(rig.target, "api_url", url)  # the tenant's API host is now a closed port
    response = await rig.call("GET", INTEGRATIONS)
    assert response.status == 502
    assert response.headers["X-Grantwarden-Outcome"] == "network_error"


async def test_a_platform_that_does_not_answer_in_time_is_504(platform: Platform) -> None:
    late = asyncio.Event()

    async def silent(request: web.Request) -> web.StreamResponse:
        await late.wait()  # until the test has its answer: the proxy gave up long before
        return await Platform.ok(request)

    platform.handler = silent
    async with proxykit.running_proxy(platform, config={"timeout": 0.05}) as rig:
        response = await rig.call("GET", INTEGRATIONS)
        late.set()
        assert response.status == 504
        assert response.headers["X-Grantwarden-Outcome"] == "timeout"


async def test_an_unexpected_failure_is_a_bare_503_and_a_log_line(rig: Rig) -> None:
    def broken(name: str) -> None:
        raise RuntimeError(f"lookup failed for {name}")

    rig.targets.proxy_target = broken  # type: ignore[method-assign]  # the lookup fails from now on
    with capture_logs() as logs:
        response = await rig.call("GET", INTEGRATIONS)
    assert response.status == 503
    assert await response.json() == {"error": "internal", "message": "internal error; the daemon's log has the details"}
    assert [entry["event"] for entry in logs] == ["proxy_error"]
    assert "lookup failed" not in await response.text()


async def test_no_token_reaches_an_answer_header_or_a_log_line(rig: Rig) -> None:
    async def echo(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            MISSING, status=403, headers={"X-Echo": request.headers["Authorization"], "X-Grantwarden-Fix": "spoofed"}
        )

    answers = []
    with capture_logs() as logs:
        answers.append(await rig.call("GET", INTEGRATIONS))
        rig.platform.handler = echo
        answers.append(await rig.call("GET", INTEGRATIONS))
        answers.append(await rig.session.get(rig.url + INTEGRATIONS, headers={"X-Grantwarden-Token": "nope"}))
        answers.append(await rig.call("GET", "/t/acme-eu/api/v2/oauth/clients"))
    for response in answers:
        assert no_secret_in(*response.headers.values(), await response.text())
    assert answers[1].headers["X-Grantwarden-Fix"] != "spoofed"
    assert "X-Echo" not in answers[1].headers
    assert logs
    assert no_secret_in(*logs)


async def test_the_metrics_count_per_tenant_and_outcome(rig: Rig) -> None:
    rig.platform.handler = answering(web.json_response(MISSING, status=403))
    await rig.call("GET", INTEGRATIONS)
    await rig.call("GET", INTEGRATIONS)
    await rig.call("GET", "/t/acme-eu/api/v2/oauth/clients")
    outcomes = ("missing_permission", "ok", "not_allowed")
    assert [rig.sample("grantwarden_proxy_requests_total", tenant="acme-eu", outcome=o) for o in outcomes] == [1, 1, 1]
    assert rig.sample("grantwarden_proxy_duration_seconds_count", outcome="missing_permission") == 1
    assert str(labels.Outcome.MISSING_PERMISSION) in (await rig.metrics.exposition(clock=rig.clock)).decode()
