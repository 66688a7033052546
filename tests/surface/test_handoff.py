"""The hand-off listener over a real unix socket and real loopback TCP: what each request gets.

Covers: the token by tenant and by org (409 naming the tenants when an org has several; a tenant
whose configured org differs from its running worker's is ``reloading``), with ``Cache-Control:
no-store``; ``min_valid`` passed on, refused when not seconds from 0 to 86,400; ``not_running``;
503 ``{error, outcome, fix}`` with ``Retry-After`` from the access object; invalidate by token or
sha256 (400 otherwise); refusals validated (400 naming each problem) and answered; 401 before any
lookup, the same answer whoever is asked (a tenant, an unknown one, another shard's, an unknown
path), several Authorization headers refused; 404 identical for every unknown tenant and org;
another shard's tenant 307 to ``peer_url`` or 421 naming the shard; 413 for large bodies, with or
without a Content-Length; an unexpected exception a bare 503; the socket 0660 from its first
moment, a stale socket replaced, another file refused, removed at stop; TCP with the bearer; the
requests counted by endpoint and result, with no tenant label; no token in a log line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import prometheus_client
import pytest
from structlog.testing import capture_logs

from grantwarden.base import clock as clock_mod
from grantwarden.policy import sharding, traffic
from grantwarden.surface import handoff, listening
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import handout, refusals, tokenbox

NOW = 1_800_000_000.0
BEARER = "handoff-bearer-9c1f2e7a5b3d"
TOKEN = "eyJ.the-token-of-acme.sig-0123456789"
ORG = "org-acme"


@dataclasses.dataclass
class FakeSource:
    org_id: str = ORG
    refusal: traffic.NotReadyError | None = None
    crash: bool = False
    calls: list[tuple[str, object]] = dataclasses.field(default_factory=list)

    def _handout(self) -> handout.Handout:
        if self.crash:
            raise RuntimeError(f"boom {TOKEN}")
        if self.refusal is not None:
            raise self.refusal
        token = tokenbox.Token(TOKEN, expires_at=NOW + 3600, refresh_at=NOW + 3000, received_at=NOW)
        return handout.Handout("acme", self.org_id, "eu-west-1", "https://api.mypurecloud.ie", token)

    async def token(self, min_valid_s: float = 0.0) -> handout.Handout:
        self.calls.append(("token", min_valid_s))
        return self._handout()

    async def invalidate(self, presented: str) -> handout.Handout:
        self.calls.append(("invalidate", presented))
        return self._handout()

    def report_refusal(self, report: traffic.Report) -> refusals.Answer:
        self.calls.append(("report", report))
        traffic.split(report.path)
        return refusals.Answer("missing_permission", "finding", "fix", "traffic:get-x", refusals.Action.DIAGNOSING)


@dataclasses.dataclass
class FakeBackend:
    sources: dict[str, FakeSource]
    orgs: dict[str, str]  # tenant -> configured org
    shard_index: int = 0
    shard_count: int = 1

    def configured_org(self, tenant: str) -> str | None:
        return self.orgs.get(tenant)

    def org_tenants(self, org_id: str) -> list[str]:
        return [name for name, org in self.orgs.items() if org == org_id]

    def access(self, tenant: str) -> FakeSource | None:
        return self.sources.get(tenant)


@dataclasses.dataclass
class Served:
    backend: FakeBackend
    metrics: metrics_mod.Metrics
    session: aiohttp.ClientSession
    base: str
    running: listening.Running

    async def call(self, method: str, path: str, *, bearer: str | None = BEARER, **kwargs: Any) -> tuple[int, Any, Any]:
        headers = kwargs.pop("headers", None) or {}
        if bearer is not None:
            headers = {**headers, "Authorization": f"Bearer {bearer}"}
        async with self.session.request(method, self.base + path, headers=headers, allow_redirects=False,
                                        **kwargs) as response:  # fmt: skip
            text = await response.text()
            return response.status, json.loads(text) if text else None, response.headers

    def count(self, endpoint: str, result: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "grantwarden_handoff_requests_total", {"endpoint": endpoint, "result": result}
        )
        return value or 0.0


@contextlib.asynccontextmanager
async def served(
    backend: FakeBackend, tmp_path: Path, *, bearer: str | None = BEARER, peer_url: str | None = None,
    listen: str | None = None,
) -> AsyncIterator[Served]:  # fmt: skip
    metrics = metrics_mod.Metrics(registry=prometheus_client.CollectorRegistry())
    routes = handoff.Routes(
        backend=backend, metrics=metrics, clock=clock_mod.ManualClock(NOW),
        bearer=bearer.encode() if bearer else None, peer_url=peer_url,
    )  # fmt: skip
    sock = tmp_path / "handoff.sock"
    running = await listening.start(handoff.build_app(routes), listen or f"unix:{sock}")
    if running.socket_path is not None:
        connector: aiohttp.BaseConnector = aiohttp.UnixConnector(path=str(running.socket_path))
        base = "http://localhost"
    else:
        connector, base = aiohttp.TCPConnector(), running.url
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            yield Served(backend, metrics, session, base, running)
    finally:
        await running.stop()


def kind_and_mode(path: Path) -> tuple[bool, int]:
    mode = path.lstat().st_mode
    return stat.S_ISSOCK(mode), stat.S_IMODE(mode)


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def write(path: Path, text: str) -> None:
    path.write_text(text)


def one_tenant(**source: Any) -> FakeBackend:
    return FakeBackend({"acme": FakeSource(**source)}, {"acme": ORG})


async def test_the_token_of_a_tenant_with_where_it_acts_and_no_store(tmp_path: Path) -> None:
    async with served(one_tenant(), tmp_path) as s:
        status, body, headers = await s.call("GET", "/v1/tenants/acme/token?min_valid=120")
        assert status == 200
        assert body["access_token"] == TOKEN
        assert (body["tenant"], body["org_id"], body["api_base_url"]) == ("acme", ORG, "https://api.mypurecloud.ie")
        assert (body["token_type"], body["expires_in"], body["expires_at"]) == ("bearer", 3600, "2027-01-15T09:00:00Z")
        assert headers["Cache-Control"] == "no-store"
        assert s.backend.sources["acme"].calls == [("token", 120.0)]
        assert s.count("tenant_token", "ok") == 1


@pytest.mark.parametrize("value", ["-1", "86401", "nan", "soon", "inf"])
async def test_min_valid_must_be_seconds_from_0_to_a_day(tmp_path: Path, value: str) -> None:
    async with served(one_tenant(), tmp_path) as s:
        status, body, _ = await s.call("GET", f"/v1/tenants/acme/token?min_valid={value}")
        assert (status, body["error"]) == (400, "bad_request")
        assert s.backend.sources["acme"].calls == []


async def test_the_token_of_an_org_and_409_when_several_tenants_share_it(tmp_path: Path) -> None:
    backend = FakeBackend({"acme": FakeSource(), "acme-2": FakeSource()}, {"acme": ORG, "other": "org-x"})
    async with served(backend, tmp_path) as s:
        status, body, _ = await s.call("GET", f"/v1/orgs/{ORG}/token")
        assert (status, body["org_id"]) == (200, ORG)
        backend.orgs["acme-2"] = ORG
        status, body, _ = await s.call("GET", f"/v1/orgs/{ORG}/token")
        assert (status, body["error"], body["tenants"]) == (409, "ambiguous_org", ["acme", "acme-2"])
        assert TOKEN not in json.dumps(body)


async def test_a_tenant_whose_org_changed_at_a_reload_gets_nothing_until_its_new_worker_runs(tmp_path: Path) -> None:
    backend = one_tenant()
    async with served(backend, tmp_path) as s:
        backend.orgs["acme"] = "org-new"  # the configuration says another org; the running worker is the old one
        for path in ("/v1/tenants/acme/token", "/v1/orgs/org-new/token"):
            status, body, _ = await s.call("GET", path)
            assert (status, body["error"]) == (503, "reloading"), path
            assert TOKEN not in json.dumps(body)
        status, body, _ = await s.call("GET", f"/v1/orgs/{ORG}/token")
        assert status == 404, "the old org is no tenant's any more"


async def test_a_tenant_without_a_running_worker_is_not_running(tmp_path: Path) -> None:
    backend = FakeBackend({}, {"acme": ORG})
    async with served(backend, tmp_path) as s:
        status, body, _ = await s.call("GET", "/v1/tenants/acme/token")
        assert (status, body["error"], body["outcome"]) == (503, "not_running", "pending")
        assert "fix" in body


async def test_not_ready_is_503_with_outcome_fix_and_retry_after(tmp_path: Path) -> None:
    refusal = traffic.NotReadyError("wrong_org", "wrong_org", "Use org org-acme's own OAuth client.", NOW + 12.5)
    async with served(one_tenant(refusal=refusal), tmp_path) as s:
        for method, path, kwargs in (
            ("GET", "/v1/tenants/acme/token", {}),
            ("GET", f"/v1/orgs/{ORG}/token", {}),
            ("POST", "/v1/tenants/acme/token/invalidate", {"json": {"token": "x"}}),
        ):
            status, body, headers = await s.call(method, path, **kwargs)
            assert (status, body) == (503, {"error": "wrong_org", "outcome": "wrong_org", "fix": refusal.fix})
            assert headers["Retry-After"] == "13"
        assert s.count("tenant_token", "not_ready") == 1


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        pytest.param({"token": TOKEN}, True, id="token"),
        pytest.param({"sha256": traffic.digest(TOKEN)}, True, id="sha256"),
        pytest.param({}, False, id="neither"),
        pytest.param({"token": 7}, False, id="not-a-string"),
        pytest.param(["x"], False, id="not-an-object"),
    ],
)
async def test_invalidate_takes_the_token_or_its_sha256(tmp_path: Path, body: object, ok: bool) -> None:
    async with served(one_tenant(), tmp_path) as s:
        status, answer, _ = await s.call("POST", "/v1/tenants/acme/token/invalidate", json=body)
        assert status == (200 if ok else 400)
        assert (answer.get("access_token") == TOKEN) is ok


async def test_a_refusal_report_is_validated_and_answered(tmp_path: Path) -> None:
    async with served(one_tenant(), tmp_path) as s:
        good = {"method": "GET", "path": "/api/v2/x?y=1", "status": 403, "headers": {"Retry-After": "3"}, "body": "no"}
        status, answer, _ = await s.call("POST", "/v1/tenants/acme/refusals", json=good)
        assert (status, answer["outcome"], answer["operation"]) == (200, "missing_permission", "traffic:get-x")
        ((_, report),) = s.backend.sources["acme"].calls
        assert report == traffic.Report("GET", "/api/v2/x?y=1", 403, {"Retry-After": "3"}, b"no", None)
        bad = {"method": "get", "path": "/oauth/token", "status": 200, "headers": {"a": 1}, "token_sha256": "short"}
        status, answer, _ = await s.call("POST", "/v1/tenants/acme/refusals", json=bad)
        assert status == 400
        for problem in ("method", "path", "status", "headers", "token_sha256"):
            assert problem in answer["message"]
        status, answer, _ = await s.call("POST", "/v1/tenants/acme/refusals", json=good | {"path": "/api/v2//evil"})
        assert status == 200, "the source decides what a path may be; this one is under /api/v2/"


@pytest.mark.parametrize(
    "path",
    ["/v1/tenants/acme/token", "/v1/tenants/nobody/token", "/v1/tenants/elsewhere/token", "/v1/orgs/org-acme/token",
     "/v1/orgs/org-nobody/token", "/nothing/here"],
)  # fmt: skip
@pytest.mark.parametrize("bearer", [None, "wrong-token", BEARER + "x"], ids=["none", "wrong", "longer"])
async def test_without_the_bearer_token_everything_is_the_same_401(
    tmp_path: Path, path: str, bearer: str | None
) -> None:
    backend = FakeBackend({"acme": FakeSource()}, {"acme": ORG, "elsewhere": "org-on-shard-1"}, shard_count=2)
    async with served(backend, tmp_path) as s:
        status, body, headers = await s.call("GET", path, bearer=bearer)
        assert (status, body["error"]) == (401, "unauthorized")
        assert headers["WWW-Authenticate"] == 'Bearer realm="grantwarden-handoff"'
        assert backend.sources["acme"].calls == []
        for token in ("nobody", "elsewhere", "acme", "shard"):
            assert token not in json.dumps(body)


async def test_two_authorization_headers_are_refused(tmp_path: Path) -> None:
    async with served(one_tenant(), tmp_path) as s:
        headers = aiohttp.typedefs.CIMultiDict([("Authorization", f"Bearer {BEARER}"), ("Authorization", "Bearer x")])
        status, _, _ = await s.call("GET", "/v1/tenants/acme/token", bearer=None, headers=headers)
        assert status == 401


async def test_every_unknown_tenant_and_org_gets_the_identical_404(tmp_path: Path) -> None:
    async with served(one_tenant(), tmp_path) as s:
        answers = set()
        for path in ("/v1/tenants/nobody/token", "/v1/tenants/x/token", f"/v1/orgs/{ORG}x/token", "/v1/orgs/o/token"):
            status, body, _ = await s.call("GET", path)
            answers.add((status, json.dumps(body)))
        for path in ("/v1/tenants/nobody/token/invalidate", "/v1/tenants/nobody/refusals"):
            status, body, _ = await s.call("POST", path, json={"token": "x"})
            answers.add((status, json.dumps(body)))
        assert len(answers) == 1
        ((status, body),) = answers
        assert status == 404
        assert "nobody" not in body


def _other_shard_org(count: int) -> str:
    return next(f"org-{i}" for i in range(1000) if sharding.shard_of(f"org-{i}", count) == 1)


@pytest.mark.parametrize("by", ["tenant", "org"])
async def test_another_shards_tenant_is_redirected_to_peer_url(tmp_path: Path, by: str) -> None:
    org = _other_shard_org(3)
    backend = FakeBackend({}, {"far": org}, shard_index=0, shard_count=3)
    path = "/v1/tenants/far/token?min_valid=5" if by == "tenant" else f"/v1/orgs/{org}/token?min_valid=5"
    peer = "http://grantwarden-{index}.grantwarden:9465"
    async with served(backend, tmp_path, peer_url=peer) as s:
        status, body, headers = await s.call("GET", path)
        assert (status, body["shard"]) == (307, 1)
        assert headers["Location"] == "http://grantwarden-1.grantwarden:9465" + path
        assert s.count("tenant_token" if by == "tenant" else "org_token", "redirected") == 1


async def test_another_shards_tenant_is_421_naming_the_shard_without_peer_url(tmp_path: Path) -> None:
    org = _other_shard_org(2)
    backend = FakeBackend({}, {"far": org}, shard_count=2)
    async with served(backend, tmp_path) as s:
        for method, path in (("GET", "/v1/tenants/far/token"), ("POST", "/v1/tenants/far/refusals")):
            status, body, _ = await s.call(method, path, json={})
            assert (status, body["error"], body["shard"]) == (421, "misdirected", 1)


async def test_a_large_body_is_413_with_or_without_a_content_length(tmp_path: Path) -> None:
    big = b'{"token": "' + b"x" * (handoff.MAX_REQUEST_BYTES + 1) + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    async with served(one_tenant(), tmp_path) as s:
        for data in (big, chunks()):
            status, body, _ = await s.call("POST", "/v1/tenants/acme/token/invalidate", data=data)
            assert (status, body["error"]) == (413, "request_too_large")
        assert s.backend.sources["acme"].calls == []


async def test_an_unexpected_exception_is_a_bare_503_logged_without_the_token(tmp_path: Path) -> None:
    async with served(one_tenant(crash=True), tmp_path) as s:
        with capture_logs() as logs:
            status, body, _ = await s.call("GET", "/v1/tenants/acme/token")
        assert (status, body["error"]) == (503, "internal")
        assert TOKEN not in json.dumps(body)
        assert [e["event"] for e in logs] == ["http_error"]
        assert s.count("tenant_token", "error") == 1


async def test_the_socket_is_0660_from_the_start_and_removed_at_stop(tmp_path: Path) -> None:
    old = os.umask(0)  # the most permissive umask: the socket must still not be world-reachable
    try:
        async with served(one_tenant(), tmp_path) as s:
            path = s.running.socket_path
            assert path is not None
            assert kind_and_mode(path) == (True, 0o660)
            assert listing(tmp_path) == ["handoff.sock"], "no temporary name left behind"
    finally:
        os.umask(old)
    assert listing(tmp_path) == []


async def test_a_stale_socket_is_replaced_and_another_file_is_refused(tmp_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / "handoff.sock"))
    stale.close()
    async with served(one_tenant(), tmp_path) as s:
        assert (await s.call("GET", "/v1/tenants/acme/token"))[0] == 200
    needed = tmp_path / "handoff.sock"
    write(needed, "a file somebody needs")
    with pytest.raises(OSError, match="not a socket"):
        async with served(one_tenant(), tmp_path):
            pass
    assert kind_and_mode(needed)[0] is False, "the file is still there, untouched"
    with pytest.raises(OSError, match="does not exist"):
        listening.bind_unix(tmp_path / "missing" / "handoff.sock")


async def test_a_unix_socket_without_a_bearer_token_answers_whoever_may_open_it(tmp_path: Path) -> None:
    async with served(one_tenant(), tmp_path, bearer=None) as s:
        assert (await s.call("GET", "/v1/tenants/acme/token", bearer=None))[0] == 200


async def test_on_tcp_the_bearer_token_is_required(tmp_path: Path) -> None:
    async with served(one_tenant(), tmp_path, listen="127.0.0.1:0") as s:
        assert s.running.url.startswith("http://127.0.0.1:")
        assert (await s.call("GET", "/v1/tenants/acme/token", bearer=None))[0] == 401
        assert (await s.call("GET", "/v1/tenants/acme/token"))[0] == 200


async def test_requests_are_counted_without_a_tenant_label_and_no_line_holds_the_token(tmp_path: Path) -> None:
    async with served(one_tenant(), tmp_path) as s:
        with capture_logs() as logs:
            await s.call("GET", "/v1/tenants/acme/token")
            await s.call("GET", "/v1/tenants/acme/token", bearer=None)
            await s.call("GET", "/v1/tenants/nobody/token")
        families = [f for f in s.metrics.registry.collect() if f.name == "grantwarden_handoff_requests"]
        labels = {tuple(sorted(sample.labels)) for f in families for sample in f.samples}
        assert labels == {("endpoint", "result")}
        assert (s.count("tenant_token", "ok"), s.count("tenant_token", "unauthorized")) == (1, 1)
        assert s.count("tenant_token", "not_found") == 1
        assert TOKEN not in str(logs)
