"""Platform answers under fuzzing: whatever Genesys Cloud (or a proxy) says, the daemon gets an outcome.

Covers: any bytes, JSON of the wrong shape (the ErrorBody and token-error fields with every
wrong type), huge and deeply nested bodies and any Retry-After, taken the way the transport
takes them (``errors.snapshot`` with a redactor) into ``errorbody.parse``, ``forbidden.classify``
and ``policy.tokens.classify_failure``: each always yields an outcome, bounded printable text and
a sane Retry-After. Then through the real ``remote.client.Client`` against a loopback aiohttp
server answering Hypothesis-generated status, headers and body (near-right payloads for each
call, wrong content encodings, bodies echoing the credentials): ``mint_client_credentials``,
``get``, ``tokens_me``, ``get_oauth_client`` and ``licensed_permissions`` either succeed or
raise a ``remote.errors.RemoteError`` whose text holds no secret, never an aiohttp, pydantic
or json exception. And a raw TCP server sending malformed HTTP (bad status lines, lying
lengths, broken chunks, early closes, stalls) gets the same guarantee, with stalls bounded by
the call's timeout.

Servers and client share a private event loop in a thread, so Hypothesis drives them from a
plain test function (one loop and one session for hundreds of examples).

``FUZZ_EXAMPLES=2000`` runs the Hypothesis properties longer than the suite's modest default.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grantwarden.base import clock as clocks
from grantwarden.base import redaction
from grantwarden.policy import errorbody, forbidden
from grantwarden.policy import tokens as token_policy
from grantwarden.policy.labels import Outcome
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, gate, oauth, transport

pytestmark = pytest.mark.e2e

CLIENT_ID = "0b8e7c2a-1111-4c44-9a55-6f7e8d9c0b1a"
SECRET = "cs-Zq9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe-secret"
TOKEN = "at-4HkQ9wXbT7mZpR2vL8nYc3sJfD6gA1eU5o-token"
BASIC = redaction.basic_credentials(CLIENT_ID, SECRET)
SECRETS = (SECRET, TOKEN, BASIC)
TIMEOUT_S = 1.0  # per call: a loopback answer takes milliseconds
STALL_TIMEOUT_S = 0.2  # for answers that are meant to stall
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# ---------------------------------------------------------------------------------------------
# Strategies: bodies of every shape, near-right payloads per call, headers as a proxy sends them
# ---------------------------------------------------------------------------------------------

texts = st.text(max_size=60) | st.sampled_from([*SECRETS, f"Basic {BASIC}", f"Bearer {TOKEN}", ""])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=16,
)


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The right kind of value, or any JSON value at all."""
    return st.one_of(value, json_values)


error_bodies = st.fixed_dictionaries(
    {},
    optional={
        "code": maybe(st.sampled_from(["missing.permissions", "missing.any.division.permissions", "bad.credentials",
                                       "app.not.authorized.for.scope", "not.a.client", "too.many.requests"])),
        "message": maybe(st.sampled_from([
            "You are missing the following permission(s): [messaging:integration:view, a:b:c:*]",
            "Rate limit exceeded the maximum. Retry the request in [22] seconds",
            "App not authorized to use scope [messaging:readonly, messaging]",
            f"echo: Authorization: Basic {BASIC}", f"token={TOKEN}",
        ])),
        "messageParams": maybe(st.dictionaries(texts, maybe(st.lists(texts, max_size=3)), max_size=4)),
        "status": maybe(st.integers(100, 599)),
        "contextId": maybe(texts),
        "error": maybe(st.sampled_from(["invalid_client", "invalid_grant", "unauthorized_client", "x"])),
        "error_description": maybe(texts),
        "description": maybe(texts),
    },
)  # fmt: skip
token_bodies = st.fixed_dictionaries(
    {},
    optional={
        "access_token": maybe(st.sampled_from([TOKEN, "", "x"])),
        "token_type": maybe(st.just("bearer")),
        "expires_in": st.one_of(
            st.integers(-5, 200_000), st.just(10**30), st.floats(allow_nan=False), st.just("3600"), st.booleans()
        ),
        "refresh_token": maybe(st.just(TOKEN)),
        "scope": json_values,
    },
)
named = st.fixed_dictionaries({}, optional={"id": maybe(texts), "name": maybe(texts)})
tokens_me_bodies = st.fixed_dictionaries(
    {},
    optional={
        "organization": maybe(named),
        "homeOrganization": maybe(named),
        "OAuthClient": maybe(st.fixed_dictionaries({"id": maybe(texts)}, optional={"organization": maybe(named)})),
        "authorizedScope": maybe(st.lists(texts, max_size=3)),
    },
)
role_divisions = st.lists(
    st.fixed_dictionaries({}, optional={"roleId": maybe(texts), "divisionId": maybe(texts)}), max_size=4
)
oauth_client_bodies = st.fixed_dictionaries(
    {},
    optional={
        "id": maybe(texts),
        "name": maybe(texts),
        "authorizedGrantType": maybe(st.just("CLIENT-CREDENTIALS")),
        "roleDivisions": maybe(role_divisions),
        "scope": maybe(st.lists(texts, max_size=3)),
        "accessTokenValiditySeconds": maybe(st.integers()),
        "registeredRedirectUri": maybe(st.lists(texts, max_size=2)),
        "secret": maybe(st.just(SECRET)),
    },
)
permission_items = st.lists(
    st.fixed_dictionaries({}, optional={"action": maybe(texts), "domain": maybe(texts), "entityType": maybe(texts)}),
    max_size=3,
)
permission_pages = st.fixed_dictionaries(
    {},
    optional={
        "entities": maybe(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={"domain": maybe(texts), "permissionMap": maybe(st.dictionaries(texts, permission_items))},
                ),
                max_size=3,
            )
        ),
        "pageCount": st.none() | st.integers(-1, 3),  # the same answer comes back for every page
        "pageSize": maybe(st.integers(-1, 3)),
        "pageNumber": maybe(st.integers()),
    },
)


ORG_ID = "2a3a43e5-e89c-406e-badf-e79288bd4ab0"
VALID: dict[str, dict[str, Any]] = {
    "mint": {"access_token": TOKEN, "token_type": "bearer", "expires_in": 3600},
    "get": {"entities": [], "pageSize": 1, "pageNumber": 1},
    "tokens_me": {"organization": {"id": ORG_ID, "name": "acme"}, "OAuthClient": {"id": CLIENT_ID}},
    "get_oauth_client": {
        "id": CLIENT_ID,
        "name": "integration",
        "authorizedGrantType": "CLIENT-CREDENTIALS",
        "roleDivisions": [{"roleId": "r-1", "divisionId": "*"}],
        "scope": [],
    },
    "licensed_permissions": {
        "entities": [{"domain": "messaging", "permissionMap": {"integration": [{"action": "view"}]}}],
        "pageCount": 1,
    },
}
_DROP = object()


def one_field_off(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``valid`` as it is, or with one field dropped, added or given any JSON value."""

    def apply(change: tuple[str, Any]) -> dict[str, Any]:
        key, value = change
        changed = {k: v for k, v in valid.items() if k != key}
        return changed if value is _DROP else {**changed, key: value}

    fields = st.sampled_from([*valid, "unexpected"])
    return st.just(valid) | st.tuples(fields, json_values | st.just(_DROP)).map(apply)


def encoded(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """JSON of ``values``, sometimes cut short; or any bytes; or an HTML page; or nothing."""
    dumped = values.map(lambda value: json.dumps(value).encode())
    return st.one_of(
        dumped,
        dumped,
        dumped,
        st.tuples(dumped, st.integers(0, 200)).map(lambda pair: pair[0][: pair[1]]),
        st.binary(max_size=300),
        st.just(b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"),
        st.just(b""),
        st.just(b"[" * 100_000),
    )


statuses = st.sampled_from([200, 201, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504]) | st.integers(200, 599)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Retry-After": st.sampled_from(["1", "0", "-3", "2.5", "1e400", "nan", "Wed, 21 Oct 2026 07:28:00 GMT"])
        | header_text,
        "ININ-Correlation-Id": header_text,
        "Content-Type": st.sampled_from(["application/json", "text/html", "application/octet-stream", "nonsense"]),
        "Content-Encoding": st.sampled_from(["identity"] * 5 + ["gzip", "deflate", "br"]),  # wrong: the body is plain
        "Location": header_text,
    },
)


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def answers(bodies: st.SearchStrategy[Any], *, usual: int = 200) -> st.SearchStrategy[Answer]:
    return st.builds(Answer, status=st.just(usual) | statuses, headers=headers, body=encoded(bodies | error_bodies))


# ---------------------------------------------------------------------------------------------
# The pure path: bytes and headers → snapshot → classify
# ---------------------------------------------------------------------------------------------


def assert_bounded_text(text: str | None) -> None:
    if text is not None:
        assert len(text) <= errorbody.TEXT_LIMIT
        assert not any(ord(char) < 0x20 and char not in "\t\n" for char in text)


def classify_everything(status: int, header_map: dict[str, str], body: bytes) -> None:
    """What the probing loop and the token box do with one reply; nothing may raise."""
    redactor = redaction.Redactor()
    redactor.add(SECRET, client_id=CLIENT_ID)
    redactor.add(TOKEN)
    reply = errors.snapshot(
        method="GET", path="/api/v2/x", status=status, headers=header_map, body=body, redactor=redactor
    )
    for facts in (reply.facts, errorbody.parse(body)):
        assert_bounded_text(facts.message)
        assert_bounded_text(facts.code)
        assert len(facts.text) <= errorbody.TEXT_LIMIT
    verdict = forbidden.classify(status=status, facts=reply.facts, retry_after_header=header_map.get("Retry-After"))
    assert verdict.outcome in Outcome
    assert verdict.retry_after is None or 0 <= verdict.retry_after <= errorbody.MAX_RETRY_AFTER_S
    assert all(permission.count(":") == 2 for permission in verdict.permissions)
    problem = token_policy.classify_failure(status=status, facts=reply.facts)
    assert (problem is None) == (200 <= status < 300)
    shown = errors.describe(reply) + repr(reply) + str(errors.for_reply(reply, token_endpoint=True))
    for secret in SECRETS:
        assert secret not in shown


@FUZZ
@given(answer=answers(json_values | token_bodies | tokens_me_bodies | oauth_client_bodies))
def test_any_reply_is_classified_by_forbidden_and_the_token_policy(answer: Answer) -> None:
    classify_everything(answer.status, answer.headers, answer.body)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"\xff" * (errorbody.PARSE_LIMIT + 1), id="binary-over-parse-limit"),
        pytest.param(b'{"message": "' + b"a" * 1_000_000 + b'", "code": "missing.permissions"}', id="1mb-message"),
        pytest.param(b"[" * 1_000_000, id="deep-json"),
        pytest.param(b'{"a":' * 200_000 + b"1" + b"}" * 200_000, id="deep-object"),
        pytest.param(("Bearer " + " " * 200_000 + "x").encode(), id="bearer-then-spaces"),
        pytest.param(("token" + " " * 200_000 + "=x").encode(), id="key-then-spaces"),
        pytest.param(("a:b:c " * 50_000).encode(), id="many-permission-lookalikes"),
        pytest.param(b"<html>" + b"<title>" * 50_000, id="unclosed-titles"),
        pytest.param(("Basic " * 50_000).encode(), id="basic-prose"),
    ],
)
@pytest.mark.parametrize("status", [200, 403, 429, 503])
def test_huge_and_pathological_bodies_are_classified(body: bytes, status: int) -> None:
    classify_everything(status, {"Retry-After": "7"}, body)


# ---------------------------------------------------------------------------------------------
# Through the real client: a loopback aiohttp server and a raw TCP server on a private loop
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Rig:
    """A private loop in a thread holding the fake servers, the session and the client."""

    loop: asyncio.AbstractEventLoop
    session: aiohttp.ClientSession
    http: transport.Endpoints
    raw: transport.Endpoints
    answer: Answer = Answer(200, {}, b"{}")
    raw_answer: bytes = b""
    raw_close: bool = True

    def run(self, call: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(30)


async def _http_handler(rig: Rig, request: web.Request) -> web.StreamResponse:
    await request.read()
    answer = rig.answer
    return web.Response(status=answer.status, body=answer.body, headers=answer.headers)


async def _raw_handler(rig: Rig, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lengths = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
        length = int(lengths[0]) if lengths else 0
        await reader.readexactly(length)
        writer.write(rig.raw_answer)
        await writer.drain()
        if not rig.raw_close:
            await reader.read()  # stall until the client gives up
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


@contextlib.contextmanager
def rigged() -> Iterator[Rig]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="platform-under-fuzz", daemon=True)
    thread.start()
    holder: dict[str, Any] = {}

    async def start() -> Rig:
        session = aiohttp.ClientSession()
        app = web.Application(client_max_size=1 << 20)

        async def handle(request: web.Request) -> web.StreamResponse:
            return await _http_handler(holder["rig"], request)

        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        http_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        raw_server = await asyncio.start_server(lambda r, w: _raw_handler(holder["rig"], r, w), "127.0.0.1", 0)
        raw_url = f"http://127.0.0.1:{raw_server.sockets[0].getsockname()[1]}"
        rig = Rig(loop, session, transport.Endpoints(http_url, http_url), transport.Endpoints(raw_url, raw_url))
        holder.update(rig=rig, session=session, runner=runner, raw_server=raw_server)
        return rig

    rig = asyncio.run_coroutine_threadsafe(start(), loop).result(10)

    async def stop() -> None:
        await holder["session"].close()
        await holder["runner"].cleanup()
        holder["raw_server"].close()
        await holder["raw_server"].wait_closed()

    try:
        yield rig
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with rigged() as ready:
        yield ready


Call = Callable[[remote_client.Client, transport.Endpoints, gate.Gate, float], Awaitable[Any]]
CALLS: dict[str, Call] = {
    "mint": lambda c, e, g, t: c.mint_client_credentials(e, CLIENT_ID, SECRET, gate=g, timeout_s=t),
    "get": lambda c, e, g, t: c.get(e, "/api/v2/conversations/messaging/integrations", TOKEN, gate=g, timeout_s=t),
    "tokens_me": lambda c, e, g, t: c.tokens_me(e, TOKEN, gate=g, timeout_s=t),
    "get_oauth_client": lambda c, e, g, t: c.get_oauth_client(e, TOKEN, CLIENT_ID, gate=g, timeout_s=t),
    "licensed_permissions": lambda c, e, g, t: c.licensed_permissions(e, TOKEN, gate=g, timeout_s=t),
}
BODIES = {
    "mint": token_bodies,
    "get": json_values,
    "tokens_me": tokens_me_bodies,
    "get_oauth_client": oauth_client_bodies,
    "licensed_permissions": permission_pages,
}


def outcome_of(rig: Rig, name: str, endpoints: transport.Endpoints, timeout_s: float = TIMEOUT_S) -> Any:
    """The call's result, or the RemoteError it raised; any other exception fails the test."""
    call = CALLS[name]

    async def attempt() -> Any:
        # A fresh redactor as the daemon's would be at this call: it learnt the access token when
        # it was minted, and the client secret at the first mint; a mint must register it itself.
        redactor = redaction.Redactor()
        redactor.add(TOKEN)
        if name != "mint":
            redactor.add(SECRET, client_id=CLIENT_ID)
        client = remote_client.Client(
            session=rig.session, clock=clocks.ManualClock(), redactor=redactor, timeout_s=TIMEOUT_S
        )
        try:
            return await call(client, endpoints, gate.Gate(), timeout_s)  # a fresh gate: no Retry-After carry-over
        except errors.RemoteError as exc:
            return exc

    return rig.run(attempt)


def assert_remote_error_is_usable(exc: errors.RemoteError) -> None:
    """The error carries what diagnosis needs, and its text is safe to log and show."""
    text = str(exc) + repr(exc) + repr(exc.reply)
    for secret in SECRETS:
        assert secret not in text
    if isinstance(exc, errors.HttpError):
        assert exc.reply.status >= 300 or exc.reply.status < 200
        assert forbidden.classify(status=exc.reply.status, facts=exc.reply.facts).outcome in Outcome
        assert token_policy.classify_failure(status=exc.reply.status, facts=exc.reply.facts) is not None
    elif isinstance(exc, errors.MalformedResponse):
        verdict = forbidden.classify(status=exc.reply.status, facts=None, failure=forbidden.Failure.MALFORMED)
        assert verdict.outcome is Outcome.UNEXPECTED_STATUS
    else:
        assert isinstance(exc, errors.TransportError)
        assert exc.reply is None


def assert_success_is_usable(name: str, result: Any) -> None:
    if name == "mint":
        assert isinstance(result, oauth.TokenGrant)
        assert result.access_token
        assert isinstance(result.expires_in, int)
        assert result.expires_in > 0
        assert TOKEN not in repr(result)
    elif name == "licensed_permissions":
        assert all(isinstance(item, str) for item in result)
    elif name == "get_oauth_client":
        model, raw = result
        assert isinstance(raw, dict)
        assert model.id


@FUZZ
@given(data=st.data(), name=st.sampled_from(sorted(CALLS)))
def test_every_call_ends_in_success_or_a_remote_error_whatever_the_platform_answers(
    rig: Rig, data: st.DataObject, name: str
) -> None:
    rig.answer = data.draw(answers(BODIES[name] | one_field_off(VALID[name])), label="answer")
    result = outcome_of(rig, name, rig.http)
    if isinstance(result, errors.RemoteError):
        assert_remote_error_is_usable(result)
    else:
        assert 200 <= rig.answer.status < 300
        assert_success_is_usable(name, result)


status_lines = st.sampled_from(
    [b"HTTP/1.1 200 OK", b"HTTP/1.1 403 Forbidden", b"HTTP/1.1 429 Too Many", b"HTTP/1.0 503 x", b"HTTP/1.1 999 Odd",
     b"HTTP/1.1 abc", b"HTTP/2 200", b"HTTP/1.1 200", b"ICY 200 OK", b"", b"\x00\xff\xfe", b"HTTP/1.1 -1 Neg",
     b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", b"HTTP/1.1 101 Switching Protocols"]
) | st.binary(max_size=30)  # fmt: skip
header_lines = st.lists(
    st.sampled_from(
        [b"Content-Length: 5", b"Content-Length: 100000", b"Content-Length: -1", b"Content-Length: abc",
         b"Content-Length: 3\r\nContent-Length: 4", b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip, chunked",
         b"Content-Encoding: gzip", b"Content-Type: application/json", b"Retry-After: 5", b"no colon here",
         b"X-Long: " + b"a" * 10_000, b"X-Bytes: \xff\xfe\x00", b" leading-space: x", b"Connection: close"]
    ) | st.binary(max_size=40),
    max_size=5,
)  # fmt: skip
raw_bodies = st.sampled_from(
    [b"", b'{"access_token": "' + TOKEN.encode() + b'", "expires_in": 3600}', b"zz\r\nab\r\n0\r\n\r\n",
     b"5\r\nhello\r\n0\r\n\r\n", b'{"entities": []}', b"\x1f\x8b\x08\x00garbage", SECRET.encode()]
) | st.binary(max_size=200)  # fmt: skip


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    status_line=status_lines,
    lines=header_lines,
    body=raw_bodies,
    name=st.sampled_from(sorted(CALLS)),
)
def test_malformed_http_from_the_platform_ends_in_a_remote_error_or_success(
    rig: Rig, status_line: bytes, lines: list[bytes], body: bytes, name: str
) -> None:
    rig.raw_answer = status_line + b"\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n" + body
    rig.raw_close = True
    result = outcome_of(rig, name, rig.raw, timeout_s=STALL_TIMEOUT_S * 3)
    if isinstance(result, errors.RemoteError):
        assert_remote_error_is_usable(result)
    else:
        assert_success_is_usable(name, result)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}", id="shorter-than-its-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", id="chunk-cut-short"),
        pytest.param(b"HTTP/1.1 20", id="status-line-cut-short"),
        pytest.param(b"", id="silence"),
    ],
)
@pytest.mark.parametrize("name", ["mint", "licensed_permissions"])  # the token endpoint, and a paged listing
def test_a_platform_that_stalls_mid_answer_is_a_timeout_within_the_calls_timeout(
    rig: Rig, answer: bytes, name: str
) -> None:
    rig.raw_answer, rig.raw_close = answer, False
    try:
        result = outcome_of(rig, name, rig.raw, timeout_s=STALL_TIMEOUT_S)
    finally:
        rig.raw_close = True
    assert isinstance(result, errors.Timeout), result


@pytest.mark.parametrize("name", ["mint", "get", "get_oauth_client"])
@pytest.mark.parametrize("status", [200, 403])
def test_a_body_over_16_mib_is_malformed_or_an_error_not_a_memory_blowup(rig: Rig, name: str, status: int) -> None:
    filler = b'{"message": "' + b"a" * (transport.MAX_BODY_BYTES + 1024) + b'"}'
    rig.answer = Answer(status, {"Content-Type": "application/json"}, filler)
    result = outcome_of(rig, name, rig.http, timeout_s=30.0)
    expected = errors.MalformedResponse if status == 200 else errors.Forbidden
    assert isinstance(result, expected), result
    assert len(str(result)) < 4 * errorbody.TEXT_LIMIT
