"""The operator surface over real loopback HTTP: every endpoint's answers, refusals and guarantees.

Covers: /healthz 200, and 503 for a stopped supervisor, a lagging loop and a silent watchdog;
/readyz 503 with the number still starting, then 200; /status sorted needs_attention first and
valid against deploy/openapi.yaml: one chunk of tenants sent whole, more streamed in one valid
document, in pieces that join to exactly the ``dumps`` of the whole document, cut off (never
finished as if whole) when serialising fails midway; /status/{tenant} 200 and 404; /metrics
content type and a known series, gzipped when the scraper asks (the same text), a large body
compressed in the executor, off the event loop; reconcile 404 without an admin token, 401
without or with a wrong token, 404 for an unknown tenant, 202 calling the backend once; hostile
values escaped in / and round-tripped in /status; no answer or log line carries the admin
token; 413 for oversized bodies; JSON 404/405; an unexpected exception becomes a bare 503;
security headers; routes and openapi.yaml agree, and schemathesis loads the document.

``FakeBackend`` and ``tenant()`` are reused by test_prometheus_scrape.py.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import gzip
import json
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import jsonschema
import prometheus_client as prom
import pytest
import yaml
from structlog.testing import capture_logs

from grantwarden.base import clock as clock_mod
from grantwarden.policy import labels
from grantwarden.surface import boundary, listening, server, statusdoc, wire
from grantwarden.surface import watchdog as watchdog_mod
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import status as health
from grantwarden.worker import statusjson

NOW = 1_800_000_000.0
ADMIN = "adm-7f3a9c2e51d04b8e-do-not-leak"
ACCESS_TOKEN = "eyJhbGciOi.access-token-of-acme.sig"  # what a real worker would hold, never in a status
HOSTILE = "<script>alert(1)</script>\"'&"
OPENAPI = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "openapi.yaml"
S = labels.State


def tenant(name: str, state: labels.State = S.HEALTHY, *, done: bool = True, **fields: Any) -> health.TenantStatus:
    values: dict[str, Any] = {
        "org_id": f"org-{name}",
        "client_id": f"client-{name}",
        "grant": labels.GrantType.CLIENT_CREDENTIALS,
        "state_since": NOW - 600,
        "token_expires_at": NOW + 3600,
    }
    status = health.TenantStatus(tenant=name, state=state, **(values | fields))
    if done:
        status.first_cycle_done.set()
    return status


def failing_probe(message: str = "Missing permission messaging:integration:view") -> health.ProbeRecord:
    return health.ProbeRecord(
        probe="messaging-integrations",
        outcome=labels.Outcome.MISSING_PERMISSION,
        http_status=403,
        code="missing.permissions",
        message=message,
        duration_s=0.12,
        at=NOW - 30,
    )


@dataclasses.dataclass(eq=False)
class FakeBackend:
    tenants: dict[str, health.TenantStatus]
    version: str = "9.9.9-test"
    shard_index: int = 1
    shard_count: int = 3
    is_alive: bool = True
    reconciled: list[str] = dataclasses.field(default_factory=list)
    record: health.ReloadRecord | None = dataclasses.field(
        default_factory=lambda: health.ReloadRecord(source="/etc/grantwarden/config.yaml", loaded_at=NOW - 3600)
    )
    outcome: health.ReloadRecord | None = None  # what the next reload returns (None: stopping)
    reloads: int = 0

    @classmethod
    def of(cls, *statuses: health.TenantStatus) -> FakeBackend:
        return cls({status.tenant: status for status in statuses})

    def statuses(self) -> Mapping[str, health.TenantStatus]:
        return self.tenants

    def alive(self) -> bool:
        return self.is_alive

    def ready(self) -> bool:
        return all(status.first_cycle_done.is_set() for status in self.tenants.values())

    def reconcile(self, tenant: str) -> bool:
        if tenant not in self.tenants:
            return False
        self.reconciled.append(tenant)
        return True

    def reload_status(self) -> health.ReloadRecord | None:
        return self.record

    async def reload(self) -> health.ReloadRecord | None:
        self.reloads += 1
        if self.outcome is not None:
            self.record = self.outcome
        return self.outcome


def fleet() -> FakeBackend:
    return FakeBackend.of(
        tenant("acme"),
        tenant("zeta", S.NEEDS_ATTENTION, probes={"messaging-integrations": failing_probe()}),
        tenant("alpha", S.DEGRADED),
        tenant("beta-eu", S.NEEDS_ATTENTION, token_last_error="invalid_client"),
    )


@dataclasses.dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


Serve = Callable[..., Awaitable[server.Running]]


async def call(
    http: aiohttp.ClientSession, running: server.Running, path: str, method: str = "GET", **kw: Any
) -> Answer:
    async with http.request(method, running.url + path, **kw) as response:
        return Answer(response.status, dict(response.headers), await response.text())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 → JSON Schema: ``nullable: true`` becomes a ``null`` type."""
    if isinstance(node, list):
        return [_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _jsonschema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") and "type" in node:
        out["type"] = [node["type"], "null"]
    return out


def assert_matches(schema_name: str, body: Any) -> None:
    components = _jsonschema(yaml.safe_load(OPENAPI.read_text())["components"])
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": components}
    jsonschema.validate(body, root)


async def test_healthz_is_ok_while_the_supervisor_and_the_loop_are_alive(serve: Serve, http: Any) -> None:
    answer = await call(http, await serve(fleet()), "/healthz")
    assert (answer.status, answer.json()) == (200, {"status": "ok"})


async def test_healthz_is_503_when_the_supervisor_stopped(serve: Serve, http: Any) -> None:
    backend = fleet()
    backend.is_alive = False
    answer = await call(http, await serve(backend), "/healthz")
    assert answer.status == 503
    assert answer.json() == {"status": "unhealthy", "reasons": ["the tenant supervisor is not running"]}
    assert_matches("Health", answer.json())


async def test_healthz_is_503_when_the_event_loop_lags_more_than_five_seconds(
    serve: Serve, http: Any, clock: clock_mod.ManualClock, metrics: metrics_mod.Metrics
) -> None:
    dog = watchdog_mod.Watchdog(clock=clock, metrics=metrics)
    running = await serve(fleet(), watchdog=dog)
    dog.observe(4.9)
    assert (await call(http, running, "/healthz")).status == 200
    dog.observe(7.25)
    answer = await call(http, running, "/healthz")
    assert answer.status == 503
    assert answer.json()["reasons"] == ["event loop lag 7.25 s exceeds 5.0 s"]


async def test_healthz_is_503_when_the_watchdog_stopped_beating(
    serve: Serve, http: Any, clock: clock_mod.ManualClock
) -> None:
    running = await serve(fleet())
    await clock.settle()  # the watchdog is asleep now
    clock.jump(30)  # time passes, nobody wakes: a frozen loop as the next request sees it
    answer = await call(http, running, "/healthz")
    assert answer.status == 503
    assert answer.json()["reasons"] == ["event loop watchdog silent for 30.0 s"]


async def test_readyz_is_503_with_the_number_still_starting_then_200(serve: Serve, http: Any) -> None:
    late = tenant("late", S.STARTING, done=False)
    running = await serve(FakeBackend.of(tenant("acme"), late))
    before = await call(http, running, "/readyz")
    assert (before.status, before.json()) == (503, {"status": "starting", "starting": 1, "tenants": 2})
    late.first_cycle_done.set()
    after = await call(http, running, "/readyz")
    assert (after.status, after.json()) == (200, {"status": "ready", "starting": 0, "tenants": 2})
    assert_matches("Ready", after.json())


async def test_status_lists_needs_attention_first_then_by_name_in_the_documented_shape(serve: Serve, http: Any) -> None:
    answer = await call(http, await serve(fleet()), "/status")
    body = answer.json()
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert [t["tenant"] for t in body["tenants"]] == ["beta-eu", "zeta", "acme", "alpha"]
    assert body["version"] == "9.9.9-test"
    assert body["shard"] == {"index": 1, "count": 3}
    assert body["generated_at"] == "2027-01-15T08:00:00Z"
    assert body["ready"] is True
    assert body["counts"] == {
        "starting": 0,
        "healthy": 1,
        "degraded": 1,
        "remediating": 0,
        "needs_attention": 2,
        "unreachable": 0,
    }
    assert body["tenants"][1]["probes"][0]["code"] == "missing.permissions"
    assert_matches("Envelope", body)
    assert int(answer.headers["Content-Length"]) == len(answer.text)  # one chunk: sent whole


async def test_status_of_more_tenants_than_one_chunk_is_one_valid_document(serve: Serve, http: Any) -> None:
    names = [f"t-{index:04d}" for index in range(statusdoc.STATUS_CHUNK * 2 + 7)]
    fleet_of = {name: tenant(name, S.NEEDS_ATTENTION if index % 3 else S.HEALTHY) for index, name in enumerate(names)}
    answer = await call(http, await serve(FakeBackend(fleet_of)), "/status")
    body = answer.json()
    attention = [name for index, name in enumerate(names) if index % 3]
    healthy = [name for index, name in enumerate(names) if not index % 3]
    assert [t["tenant"] for t in body["tenants"]] == attention + healthy
    assert body["counts"]["needs_attention"] == len(attention)
    assert_matches("Envelope", body)
    assert answer.headers["Transfer-Encoding"] == "chunked"  # streamed, a chunk of tenants at a time
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert answer.headers["Content-Security-Policy"] == boundary.API_CSP


HEAD = {"version": "1.2.3", "shard": {"index": 0, "count": 1}, "generated_at": "2027-01-15T08:00:00Z",
        "ready": True, "counts": {"healthy": 3, "needs_attention": 0}}  # fmt: skip


@pytest.mark.parametrize(
    "count",
    [
        pytest.param(0, id="no-tenants"),
        pytest.param(1, id="one"),
        pytest.param(statusdoc.STATUS_CHUNK, id="one-full-chunk"),
        pytest.param(statusdoc.STATUS_CHUNK * 2 + 7, id="three-chunks"),
    ],
)
def test_status_pieces_join_to_the_dumps_of_the_whole_document(count: int) -> None:
    statuses = [
        tenant(f"t-{index:04d}", token_last_error=HOSTILE if index % 7 == 0 else None, probes={"p": failing_probe()})
        for index in range(count)
    ]
    parts = list(statusdoc.pieces(HEAD, statuses))
    whole = wire.dumps({**HEAD, "tenants": [statusjson.tenant_json(status) for status in statuses]})
    assert "".join(parts) == whole
    assert len(parts) == 2 + -(-count // statusdoc.STATUS_CHUNK)  # head, one piece per chunk, the end
    assert "<" not in whole  # markup escaped in every piece


async def test_a_status_that_fails_midway_is_cut_off_and_logged_never_finished(serve: Serve) -> None:
    names = [f"t-{index:04d}" for index in range(statusdoc.STATUS_CHUNK + 50)]
    statuses = {name: tenant(name) for name in names}
    statuses["t-0520"].token_last_error = object()  # not JSON: serialising fails in the second chunk
    running = await serve(FakeBackend(statuses))
    with capture_logs() as logs:
        async with aiohttp.ClientSession() as http, http.get(running.url + "/status") as response:
            assert response.status == 200  # the headers went out before the failure
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
    assert [entry["path"] for entry in logs if entry["event"] == "http_error"] == ["/status"]


async def test_status_of_one_tenant_has_the_same_envelope(serve: Serve, http: Any) -> None:
    answer = await call(http, await serve(fleet()), "/status/zeta")
    body = answer.json()
    assert answer.status == 200
    assert [t["tenant"] for t in body["tenants"]] == ["zeta"]
    assert body["counts"]["needs_attention"] == 2  # counts stay the replica's
    assert_matches("Envelope", body)


async def test_status_of_an_unknown_or_unowned_tenant_is_404_json(serve: Serve, http: Any) -> None:
    answer = await call(http, await serve(fleet()), "/status/someone-else")
    assert answer.status == 404
    assert answer.json()["error"] == "unknown_tenant"
    assert_matches("Error", answer.json())


async def test_metrics_are_prometheus_text_with_known_series(
    serve: Serve, http: Any, metrics: metrics_mod.Metrics
) -> None:
    metrics.set_state("zeta", S.NEEDS_ATTENTION)
    answer = await call(http, await serve(fleet()), "/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == prom.CONTENT_TYPE_LATEST
    assert 'grantwarden_tenant_state{state="needs_attention",tenant="zeta"} 1.0' in answer.text
    assert 'grantwarden_build_info{version="0.1.0"} 1.0' in answer.text
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("accept", ["gzip", "identity", "gzip;q=0, identity"])
async def test_metrics_are_gzipped_when_the_scraper_asks_and_say_the_same(
    serve: Serve, metrics: metrics_mod.Metrics, accept: str
) -> None:
    for index in range(300):
        metrics.set_state(f"tenant-{index:03d}", S.HEALTHY)
    running = await serve(fleet())
    async with aiohttp.ClientSession(auto_decompress=False) as raw:
        async with raw.get(running.url + "/metrics", headers={"Accept-Encoding": accept}) as response:
            body, headers = await response.read(), response.headers
        async with raw.get(running.url + "/metrics", headers={"Accept-Encoding": "identity"}) as response:
            plain = await response.read()
    if accept == "gzip":
        assert headers["Content-Encoding"] == "gzip"
        assert len(body) * 5 < len(plain)
        assert gzip.decompress(body) == plain
    else:
        assert "Content-Encoding" not in headers
        assert body == plain
    assert headers["Vary"] == "Accept-Encoding"
    assert b'grantwarden_tenant_state{state="healthy",tenant="tenant-299"} 1.0' in plain


async def test_a_large_metrics_body_is_compressed_off_the_event_loop(
    serve: Serve, metrics: metrics_mod.Metrics
) -> None:
    submitted: list[str] = []

    class Recording(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
            submitted.append(getattr(fn, "__qualname__", repr(fn)))
            return super().submit(fn, *args, **kwargs)

    asyncio.get_running_loop().set_default_executor(Recording(max_workers=1))  # this test's loop only
    for index in range(2_000):
        metrics.set_state(f"tenant-{index:04d}", S.HEALTHY)
    running = await serve(fleet())
    scrape = {"headers": {"Accept-Encoding": "gzip"}}
    async with (
        aiohttp.ClientSession(auto_decompress=False) as raw,
        raw.get(running.url + "/metrics", **scrape) as response,
    ):
        body, headers = await response.read(), response.headers
    assert headers["Content-Encoding"] == "gzip"
    assert b'tenant="tenant-1999"' in gzip.decompress(body)
    assert "Compress.compress" in submitted, submitted


async def test_reconcile_does_not_exist_without_an_admin_token(serve: Serve, http: Any) -> None:
    backend = fleet()
    running = await serve(backend, admin_token=None)
    answer = await call(http, running, "/tenants/acme/reconcile", "POST", headers=bearer(ADMIN))
    assert (answer.status, answer.json()["error"]) == (404, "not_found")
    assert backend.reconciled == []
    assert (await call(http, running, "/tenants/acme/reconcile")).status == 404  # not even a 405


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param(bearer("wrong"), id="wrong-token"),
        pytest.param(bearer(ADMIN + "x"), id="token-with-suffix"),
        pytest.param({"Authorization": f"Basic {ADMIN}"}, id="wrong-scheme"),
    ],
)
async def test_reconcile_without_the_right_bearer_token_is_401(
    serve: Serve, http: Any, headers: dict[str, str]
) -> None:
    backend = fleet()
    answer = await call(http, await serve(backend), "/tenants/acme/reconcile", "POST", headers=headers)
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert backend.reconciled == []


async def test_reconcile_of_an_unknown_tenant_is_404_after_auth(serve: Serve, http: Any) -> None:
    running = await serve(fleet())
    answer = await call(http, running, "/tenants/nobody/reconcile", "POST", headers=bearer(ADMIN))
    assert (answer.status, answer.json()["error"]) == (404, "unknown_tenant")
    unauthenticated = await call(http, running, "/tenants/nobody/reconcile", "POST")
    assert unauthenticated.status == 401  # no probing for tenant names without the token


async def test_reconcile_with_the_admin_token_asks_the_backend_once(serve: Serve, http: Any) -> None:
    backend = fleet()
    answer = await call(http, await serve(backend), "/tenants/acme/reconcile", "POST", headers=bearer(ADMIN))
    assert (answer.status, answer.json()) == (202, {"tenant": "acme", "reconcile": "requested"})
    assert backend.reconciled == ["acme"]
    assert_matches("Reconcile", answer.json())


async def test_hostile_names_and_messages_are_escaped_in_the_page_and_intact_in_json(serve: Serve, http: Any) -> None:
    evil = tenant(HOSTILE, S.NEEDS_ATTENTION, probes={"messaging-integrations": failing_probe(HOSTILE)})
    running = await serve(FakeBackend.of(evil))
    page = await call(http, running, "/")
    assert page.status == 200
    assert "<script" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;" in page.text
    status = await call(http, running, "/status")
    assert status.headers["Content-Type"].startswith("application/json")
    assert status.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in status.text
    assert status.json()["tenants"][0]["tenant"] == HOSTILE
    assert status.json()["tenants"][0]["probes"][0]["message"] == HOSTILE


async def test_a_lone_surrogate_in_a_platform_message_does_not_break_page_or_json(serve: Serve, http: Any) -> None:
    odd = tenant("odd", S.DEGRADED, probes={"messaging-integrations": failing_probe("bad \ud800 byte")})
    running = await serve(FakeBackend.of(odd))
    assert (await call(http, running, "/")).status == 200
    status = await call(http, running, "/status")
    assert status.json()["tenants"][0]["probes"][0]["message"] == "bad \ud800 byte"


async def test_no_answer_and_no_log_line_ever_carries_the_admin_token(serve: Serve, http: Any) -> None:
    running = await serve(fleet())
    requests: list[tuple[str, str, dict[str, str]]] = [
        ("GET", path, bearer(ADMIN))
        for path in ("/", "/healthz", "/readyz", "/metrics", "/status", "/status/acme", "/status/x", "/nope")
    ]
    requests += [
        ("POST", "/tenants/acme/reconcile", bearer(ADMIN)),
        ("POST", "/tenants/x/reconcile", bearer(ADMIN)),
        ("POST", "/tenants/acme/reconcile", bearer(ADMIN[:-1])),
        ("POST", "/tenants/acme/reconcile", {"Authorization": ADMIN}),
        ("PUT", "/status", bearer(ADMIN)),
        ("DELETE", "/tenants/acme/reconcile", bearer(ADMIN)),
    ]
    with capture_logs() as logs:
        answers = [await call(http, running, path, method, headers=headers) for method, path, headers in requests]
    for answer in answers:
        exposed = answer.text + json.dumps(answer.headers)
        for secret in (ADMIN, ADMIN[:-1], ACCESS_TOKEN):
            assert secret not in exposed
    assert ADMIN[:12] not in repr(logs)
    assert {entry["event"] for entry in logs} >= {"http_request", "reconcile_requested", "reconcile_refused"}


@pytest.mark.parametrize("chunked", [pytest.param(False, id="content-length"), pytest.param(True, id="chunked")])
async def test_oversized_requests_are_refused_with_413(serve: Serve, http: Any, chunked: bool) -> None:
    backend = fleet()
    payload = b"x" * (boundary.MAX_REQUEST_BYTES + 1)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 8192):
            yield payload[start : start + 8192]

    body: Any = chunks() if chunked else payload
    answer = await call(http, await serve(backend), "/tenants/acme/reconcile", "POST", data=body, headers=bearer(ADMIN))
    assert (answer.status, answer.json()["error"]) == (413, "request_too_large")
    assert backend.reconciled == []


async def test_unknown_paths_are_404_and_wrong_methods_405_in_json(serve: Serve, http: Any) -> None:
    running = await serve(fleet())
    missing = await call(http, running, "/admin")
    assert (missing.status, missing.json()["error"]) == (404, "not_found")
    wrong = await call(http, running, "/status", "POST")
    assert (wrong.status, wrong.json()["error"]) == (405, "method_not_allowed")
    assert wrong.headers["Allow"] == "GET"
    assert (await call(http, running, "/tenants/acme/reconcile")).status == 405


async def test_an_unexpected_exception_is_a_bare_503_and_an_http_error_log(serve: Serve, http: Any) -> None:
    class Broken(FakeBackend):
        def statuses(self) -> Mapping[str, health.TenantStatus]:
            raise RuntimeError(f"boom with {ACCESS_TOKEN}")

    running = await serve(Broken({}))
    with capture_logs() as logs:
        answer = await call(http, running, "/status")
    assert (answer.status, answer.json()["error"]) == (503, "internal")
    assert "boom" not in answer.text
    assert "Traceback" not in answer.text
    assert [entry["event"] for entry in logs if entry["log_level"] == "error"] == ["http_error"]


async def test_security_headers_and_a_strict_csp_on_the_page(serve: Serve, http: Any) -> None:
    running = await serve(fleet())
    page = await call(http, running, "/")
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    api = await call(http, running, "/status")
    assert api.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert api.headers["Cache-Control"] == "no-store"
    assert api.headers["Server"] == "grantwarden"


def test_every_route_is_in_openapi_and_nothing_else(clock: clock_mod.ManualClock, metrics: metrics_mod.Metrics) -> None:
    dog = watchdog_mod.Watchdog(clock=clock, metrics=metrics)
    app = server.build_app(backend=fleet(), metrics=metrics, admin_token=ADMIN, clock=clock, watchdog=dog)
    routes = {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource}
    paths = yaml.safe_load(OPENAPI.read_text())["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item if method != "parameters"}
    assert routes == documented


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(f"Bearer {ADMIN}", True, id="exact"),
        pytest.param(f"bearer   {ADMIN} ", True, id="scheme-is-case-insensitive"),
        pytest.param(None, False, id="missing"),
        pytest.param("Bearer", False, id="no-credentials"),
        pytest.param(f"Bearer {ADMIN[:-1]}", False, id="prefix"),
        pytest.param(f"Token {ADMIN}", False, id="other-scheme"),
        pytest.param("Bearer \udcff", False, id="undecodable-byte"),
    ],
)
def test_authorized_accepts_only_the_exact_bearer_token(header: str | None, expected: bool) -> None:
    assert wire.authorized(header, ADMIN.encode()) is expected


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        pytest.param("127.0.0.1:0", ("127.0.0.1", 0), id="port-0"),
        pytest.param(":9464", ("", 9464), id="all-interfaces"),
        pytest.param("0.0.0.0:9464", ("0.0.0.0", 9464), id="wildcard"),
    ],
)
def test_parse_listen_splits_host_and_port(listen: str, expected: tuple[str, int]) -> None:
    assert listening.parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["9464", "host:", "host:port", "h:99999"])
def test_parse_listen_refuses_what_is_not_host_and_port(listen: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        listening.parse_listen(listen)


def test_an_empty_admin_token_is_refused_rather_than_matching_an_empty_bearer(
    clock: clock_mod.ManualClock, metrics: metrics_mod.Metrics
) -> None:
    dog = watchdog_mod.Watchdog(clock=clock, metrics=metrics)
    with pytest.raises(ValueError, match="admin_token is empty"):
        server.build_app(backend=fleet(), metrics=metrics, admin_token=" \n", clock=clock, watchdog=dog)


def test_openapi_loads_as_schemathesis_will_read_it() -> None:
    import schemathesis  # here, not at the top: it takes a second to import

    schema = schemathesis.openapi.from_path(str(OPENAPI))
    labels_ = sorted(result.ok().label for result in schema.get_all_operations())
    assert "POST /tenants/{tenant}/reconcile" in labels_
    assert "POST /-/reload" in labels_
    assert len(labels_) == 8
