"""The daemon's own HTTP API under fuzzing: schemathesis over deploy/openapi.yaml, then raw HTTP.

Covers: every operation of deploy/openapi.yaml fuzzed by schemathesis (positive cases for all,
negative ones where the document allows any, reconcile with and without the admin token)
against a real ``server.start`` on loopback with a backend of hostile tenants; every answer
conforms to the document (status, content type, headers, schema), none is a 500 or an
undocumented 5xx, none takes longer than the per-request timeout, and no answer carries the
admin token. Then targeted raw requests: odd paths (dot segments, encoded slashes and NULs,
percent-encoded names, absolute form), every method on every path, oversized Content-Length
on every path (413), oversized chunked reconcile bodies (413), malformed request lines and
headers (a plain 400 from the HTTP layer, documented), duplicate Authorization headers, and
idle half-open connections that must not stop others from being served.

The server runs on its own event loop in a thread, because schemathesis calls it synchronously.

``FUZZ_EXAMPLES=2000`` runs the Hypothesis properties longer than the suite's modest default.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

import prometheus_client as prom
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grantwarden.base import clock as clock_mod
from grantwarden.policy import labels
from grantwarden.surface import boundary, server
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import status as health
from tests.surface.test_server import ADMIN, HOSTILE, NOW, OPENAPI, FakeBackend, failing_probe, fleet, tenant

pytestmark = pytest.mark.e2e

REQUEST_TIMEOUT_S = 5.0  # a loopback answer takes milliseconds; this is "it hangs"
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
DOCUMENTED_5XX = {"GET /healthz": {503}, "GET /readyz": {503}}  # liveness and readiness say "no" with 503
SCHEMA = schemathesis.openapi.from_path(str(OPENAPI))
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}  # type: ignore[union-attr]
PATHS = ["/", "/healthz", "/readyz", "/metrics", "/status", "/status/acme", "/tenants/acme/reconcile"]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]


def hostile_fleet() -> FakeBackend:
    """The usual fleet plus a tenant whose every string is hostile, with findings and re-grants."""
    backend = fleet()
    evil = tenant(
        "evil",
        labels.State.REMEDIATING,
        probes={"messaging-integrations": failing_probe(HOSTILE + " \ud800 " + "x" * 3000)},
        findings=(
            health.FindingRecord(
                probe=None, outcome="crash_loop", missing=(HOSTILE,), fixable=False, summary=HOSTILE, fix=HOSTILE
            ),
        ),
        token_last_error=HOSTILE,
        identity_org_id=None,
    )
    evil.add_regrant(health.RegrantRecord(at=NOW, result=labels.RegrantResult.FAILED, detail=HOSTILE))
    backend.tenants["evil"] = evil
    return backend


@dataclasses.dataclass
class Served:
    """A real listener on a private event loop in a thread; ``url`` to reach it."""

    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    running: server.Running
    backend: FakeBackend

    @property
    def url(self) -> str:
        return self.running.url


@contextlib.contextmanager
def serving(backend: FakeBackend) -> Iterator[Served]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="api-under-fuzz", daemon=True)
    thread.start()

    async def start() -> server.Running:
        metrics = metrics_mod.Metrics(registry=prom.CollectorRegistry())
        metrics.set_state("evil", labels.State.REMEDIATING)
        clock = clock_mod.ManualClock(start=NOW)
        return await server.start(
            backend=backend, metrics=metrics, listen="127.0.0.1:0", admin_token=ADMIN, clock=clock
        )

    running = asyncio.run_coroutine_threadsafe(start(), loop).result(REQUEST_TIMEOUT_S)
    try:
        yield Served(loop, thread, running, backend)
    finally:
        asyncio.run_coroutine_threadsafe(running.stop(), loop).result(REQUEST_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(REQUEST_TIMEOUT_S)
        loop.close()


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serving(hostile_fleet()) as running:
        yield running


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as keep_alive:
        yield keep_alive


def assert_sound(label: str, response: schemathesis.Response) -> None:
    """What every answer of the API promises, whatever was asked (headers: lower case, lists)."""
    assert response.status_code != 500, response.text[:300]
    if response.status_code >= 500:
        assert response.status_code in DOCUMENTED_5XX.get(label, set()), (label, response.status_code)
    assert ADMIN not in response.text
    assert ADMIN not in json.dumps(response.headers)
    assert response.headers["x-content-type-options"] == ["nosniff"]
    assert response.headers["cache-control"] == ["no-store"]
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/json")
        assert isinstance(response.json()["error"], str)


def fuzz(served: Served, session: requests.Session, label: str, mode: schemathesis.GenerationMode) -> None:
    operation = OPERATIONS[label]

    @FUZZ
    @given(case=operation.as_strategy(mode), with_token=st.booleans())
    def run(case: schemathesis.Case, with_token: bool) -> None:  # type: ignore[type-arg]
        headers = {"Authorization": f"Bearer {ADMIN}"} if with_token and operation.security else None
        response = case.call(base_url=served.url, session=session, headers=headers, timeout=REQUEST_TIMEOUT_S)
        case.validate_response(response, headers=headers)
        assert_sound(label, response)

    run()


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_operation_answers_as_documented_for_any_valid_request(
    served: Served, session: requests.Session, label: str
) -> None:
    fuzz(served, session, label, schemathesis.GenerationMode.POSITIVE)


def test_reconcile_refuses_requests_that_break_the_document(served: Served, session: requests.Session) -> None:
    fuzz(served, session, "POST /tenants/{tenant}/reconcile", schemathesis.GenerationMode.NEGATIVE)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(METHODS[:-1]),  # CONNECT takes an authority, not a path: the raw tests send it
    path=st.sampled_from(PATHS) | st.text(min_size=1, max_size=60).map(lambda text: "/" + text),
    headers=st.dictionaries(
        st.sampled_from(["Authorization", "Accept", "Content-Type", "X-Forwarded-For", "Cookie", "Range", "Origin"]),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(str.strip)
        | st.just(f"Bearer {ADMIN}"),
        max_size=4,
    ),
    body=st.binary(max_size=2048),
)
def test_any_method_path_headers_and_small_body_get_an_answer_and_never_a_500(
    served: Served, session: requests.Session, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    response = session.request(
        method, served.url + requests.utils.requote_uri(path), headers=headers, data=body, timeout=REQUEST_TIMEOUT_S
    )
    assert response.status_code < 500 or (response.status_code == 503 and path in ("/healthz", "/readyz"))
    assert ADMIN not in response.text
    if method != "HEAD" and response.status_code >= 400 and response.status_code != 400:
        assert response.json()["error"]


@pytest.mark.parametrize("path", [*PATHS, "/nope", "/status/nobody"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_a_content_length_over_64_kib_is_refused_with_413_on_every_path(
    served: Served, session: requests.Session, method: str, path: str
) -> None:
    response = session.request(
        method,
        served.url + path,
        data=b"x" * (boundary.MAX_REQUEST_BYTES + 1),
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=REQUEST_TIMEOUT_S,
    )
    assert (response.status_code, response.json()["error"]) == (413, "request_too_large")


async def raw(served: Served, request: bytes, *, head: bool = False) -> bytes:
    """Send ``request`` as it is; the answer's head and body (by Content-Length, else to EOF)."""
    reader, writer = await asyncio.open_connection(served.running.host, served.running.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(_answer(reader, head=head), REQUEST_TIMEOUT_S)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _answer(reader: asyncio.StreamReader, *, head: bool) -> bytes:
    top = await reader.readuntil(b"\r\n\r\n")
    if top.startswith(b"HTTP/1.1 100 "):
        top = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)\r$", top)
    if head:
        return top
    if length is None:
        return top + await reader.read()
    return top + await reader.readexactly(int(length.group(1)))


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def body_of(answer: bytes) -> Any:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


def get(path: bytes, *extra: bytes) -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: grantwarden\r\n" + b"".join(h + b"\r\n" for h in extra) + b"\r\n"


def reconcile(path: bytes = b"/tenants/acme/reconcile", *extra: bytes) -> bytes:
    lines = [b"POST " + path + b" HTTP/1.1", b"Host: grantwarden", b"Content-Length: 0", *extra]
    return b"\r\n".join(lines) + b"\r\n\r\n"


BEARER = b"Authorization: Bearer " + ADMIN.encode()


@pytest.mark.parametrize(
    ("request_bytes", "status", "error"),
    [
        pytest.param(get(b"/../status"), 404, "not_found", id="dot-segments"),
        pytest.param(get(b"/status/..%2f..%2fetc%2fpasswd"), 404, "unknown_tenant", id="encoded-traversal"),
        pytest.param(get(b"//status"), 404, "not_found", id="double-slash"),
        pytest.param(get(b"/status/"), 404, "not_found", id="trailing-slash"),
        pytest.param(get(b"/status/%00"), 404, "unknown_tenant", id="encoded-nul"),
        pytest.param(get(b"/status/%ff%fe"), 404, "unknown_tenant", id="encoded-non-utf8"),
        pytest.param(get(b"/status/acme%2Fx"), 404, "unknown_tenant", id="encoded-slash"),
        pytest.param(get(b"/status/%61cme"), 200, None, id="percent-encoded-name-is-the-name"),
        pytest.param(get(b"http://elsewhere.example/status"), 200, None, id="absolute-form"),
        pytest.param(get(b"/status?%ff=%00&a=b&a=c#frag"), 200, None, id="junk-query-and-fragment"),
        pytest.param(b"OPTIONS * HTTP/1.1\r\nHost: g\r\n\r\n", 404, "not_found", id="asterisk-form"),
        pytest.param(b"CONNECT elsewhere:443 HTTP/1.1\r\nHost: g\r\n\r\n", 404, "not_found", id="connect"),
        pytest.param(b"GET /healthz HTTP/1.0\r\n\r\n", 200, None, id="http-1.0-without-host"),
        pytest.param(reconcile(b"/tenants/%61cme/reconcile", BEARER), 202, None, id="reconcile-percent-encoded"),
        pytest.param(reconcile(b"/tenants/acme/reconcile", b"Authorization: Bearer \xff\xfe\xe9"), 401, "unauthorized"),
        pytest.param(
            reconcile(b"/tenants/acme/reconcile", b"Authorization: Bearer " + b"a" * 8000), 401, "unauthorized"
        ),
        pytest.param(reconcile(b"/tenants/acme/reconcile", b"Authorization: bearer"), 401, "unauthorized"),
        pytest.param(
            reconcile(b"/tenants/acme/reconcile", b"Authorization: Bearer wrong", BEARER),
            400,
            "bad_request",
            id="wrong-then-right-authorization",
        ),
        pytest.param(
            reconcile(b"/tenants/acme/reconcile", BEARER, b"Authorization: Bearer wrong"),
            400,
            "bad_request",
            id="right-then-wrong-authorization",
        ),
    ],
)
async def test_odd_request_targets_and_headers_get_the_documented_json_answer(
    served: Served, request_bytes: bytes, status: int, error: str | None
) -> None:
    answer = await raw(served, request_bytes)
    assert status_of(answer) == status, answer[:300]
    if error is not None:
        assert body_of(answer)["error"] == error
    assert ADMIN.encode() not in answer


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", [m for m in METHODS if m != "CONNECT"])
async def test_every_method_on_every_path_is_answered_in_json_and_never_500(
    served: Served, method: str, path: str
) -> None:
    request = method.encode() + b" " + path.encode() + b" HTTP/1.1\r\nHost: g\r\nContent-Length: 0\r\n\r\n"
    answer = await raw(served, request, head=method == "HEAD")
    status = status_of(answer)
    documented = ("POST" if path.endswith("/reconcile") else "GET") == method
    assert status == (401 if documented and path.endswith("/reconcile") else 200 if documented else 405)
    assert b"Content-Type: application/json" in answer or documented


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GET /status/a\x00b HTTP/1.1\r\nHost: g\r\n\r\n", id="raw-nul-in-path"),
        pytest.param("GET /status/é☃ HTTP/1.1\r\nHost: g\r\n\r\n".encode(), id="raw-utf8-in-path"),
        pytest.param(b"FOO /status HTTP/1.1\r\nHost: g\r\n\r\n", id="unknown-method"),
        pytest.param(b"get /status HTTP/1.1\r\nHost: g\r\n\r\n", id="lower-case-method"),
        pytest.param(b"GET /healthz HTTP/3.0\r\nHost: g\r\n\r\n", id="http-3.0"),
        pytest.param(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", id="http2-preface"),
        pytest.param(b"GET /healthz HTTP/1.1\nHost: g\n\n", id="bare-lf"),
        pytest.param(get(b"/healthz", b"X-Big: " + b"a" * 100_000), id="100k-header"),
        pytest.param(get(b"/status/" + b"a" * 100_000), id="100k-path"),
        pytest.param(get(b"/healthz", *(b"X-%d: y" % i for i in range(5000))), id="5000-headers"),
        pytest.param(get(b"/healthz", b"X-A: a\x01b\x7f"), id="control-byte-in-header"),
        pytest.param(get(b"/healthz", b"X-A: a", b" folded"), id="obsolete-line-folding"),
        pytest.param(get(b"/healthz", b"Host : g"), id="space-before-colon"),
        pytest.param(reconcile(b"/tenants/acme/reconcile", b"Content-Length: 2"), id="duplicate-content-length"),
        pytest.param(reconcile(b"/tenants/acme/reconcile", b"Transfer-Encoding: chunked"), id="length-and-chunked"),
        pytest.param(b"POST /tenants/acme/reconcile HTTP/1.1\r\nHost: g\r\nContent-Length: -1\r\n\r\n", id="negative"),
        pytest.param(
            b"POST /tenants/acme/reconcile HTTP/1.1\r\nHost: g\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            id="content-length-overflow",
        ),
        pytest.param(
            b"POST /tenants/acme/reconcile HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n",
            id="bad-chunk-size",
        ),
        pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100, id="tls-hello"),
    ],
)
async def test_malformed_http_is_refused_with_400_by_the_http_layer_and_the_server_lives_on(
    served: Served, request_bytes: bytes
) -> None:
    answer = await raw(served, request_bytes)
    assert status_of(answer) == 400, answer[:300]
    assert answer.startswith(b"HTTP/1.")
    assert b"Traceback" not in answer
    assert status_of(await raw(served, get(b"/healthz"))) == 200


@pytest.mark.parametrize("chunked_bytes", [boundary.MAX_REQUEST_BYTES + 1, 4 * 1024 * 1024])
async def test_an_oversized_chunked_reconcile_body_is_refused_with_413(served: Served, chunked_bytes: int) -> None:
    head = b"POST /tenants/acme/reconcile HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n" + BEARER + b"\r\n\r\n"
    chunk = b"x" * 65_536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(chunked_bytes // len(chunk) + 1))
    before = list(served.backend.reconciled)
    reader, writer = await asyncio.open_connection(served.running.host, served.running.port)
    try:
        writer.write(head)
        with contextlib.suppress(ConnectionError):
            writer.write(chunks + b"0\r\n\r\n")
            await writer.drain()
        answer = await asyncio.wait_for(_answer(reader, head=False), REQUEST_TIMEOUT_S)
    finally:
        writer.close()
    assert status_of(answer) == 413
    assert body_of(answer)["error"] == "request_too_large"
    assert served.backend.reconciled == before


async def test_a_get_endpoint_answers_without_reading_an_oversized_chunked_body(served: Served) -> None:
    chunk = b"x" * 65_536
    reader, writer = await asyncio.open_connection(served.running.host, served.running.port)
    try:
        writer.write(b"GET /status HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(64):  # 4 MiB
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        answer = await asyncio.wait_for(_answer(reader, head=False), REQUEST_TIMEOUT_S)
    finally:
        writer.close()
    assert status_of(answer) == 200
    assert [t["tenant"] for t in body_of(answer)["tenants"]][:2] == ["beta-eu", "zeta"]
    assert status_of(await raw(served, get(b"/healthz"))) == 200


async def test_idle_and_half_sent_connections_do_not_stop_others_from_being_served(served: Served) -> None:
    idle = [await asyncio.open_connection(served.running.host, served.running.port) for _ in range(50)]
    for index, (_, writer) in enumerate(idle):
        writer.write(b"GET /status HTTP/1.1\r\nHost: g\r\n" if index % 2 else b"\r\n\r\n")
    try:
        answers = await asyncio.gather(*(raw(served, get(b"/healthz")) for _ in range(20)))
        assert {status_of(answer) for answer in answers} == {200}
    finally:
        for _, writer in idle:
            writer.close()
