"""What the proxy's tests share: a scripted platform on loopback, a tenant's access object, the proxy.

``Platform`` is a real aiohttp server standing in for a tenant's API host: every request is
recorded (method, target as sent, headers, body size, the bearer token) and answered by the
test's handler, so streaming, connection reuse and disconnects are real. The tenant's access
object is the real one (``worker.access.Access``, the one the hand-off answers from) over a real
token box whose mint hands out ``TOKENS`` in a row at once, and a real ``remote.gate.Gate`` as the
tenant's floor. ``running_proxy`` starts the real listener (``proxylistener.start``) with the
real passthrough on a fresh session, and stops both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import prometheus_client
import yarl
from aiohttp import web

from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction
from grantwarden.config import loading as configfile
from grantwarden.config import models, proxysettings
from grantwarden.policy import allowlist, catalog, labels
from grantwarden.remote import gate, oauth, passthrough
from grantwarden.surface import proxy, proxylistener
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import access, tokenbox
from grantwarden.worker import status as health

PROXY_TOKEN = "gw-proxy-7d1e-do-not-leak"
ORG = "4b70ee8c-24d8-43ad-9464-520f6b20fa1f"
CLIENT = "5452bc2b-8a88-5234-9790-7285b692e471"
TOKENS = ("tok-first-4f1c9a-secret", "tok-second-9b2e7d-secret", "tok-third-1a3f5c-secret")
RULES = (
    ("GET", "/api/v2/conversations/messaging/**"),
    ("*", "/api/v2/users/*/roles"),
    ("POST", "/api/v2/conversations/messages/agentless"),
    ("PATCH", "/api/v2/conversations/messaging/integrations/*"),
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclasses.dataclass
class Seen:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body_bytes: int
    token: str | None


class Platform:
    """A tenant's API host: records every request, answers with ``handler`` (200 JSON by default)."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.handler: Handler = self.ok
        self.url = ""
        self.connections_made = 0
        self.read_bodies = True

    @staticmethod
    async def ok(request: web.Request) -> web.StreamResponse:
        return web.json_response({"entities": [], "pageSize": 1}, headers={"ININ-Correlation-Id": "corr-ok"})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        size = 0
        if self.read_bodies:
            while chunk := await request.content.readany():
                size += len(chunk)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        self.seen.append(Seen(request.method, request.raw_path, list(request.headers.items()), size, token))
        return await self.handler(request)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Platform]:
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield self
        finally:
            await runner.cleanup()


def access_for(
    tenant: models.Tenant, status: health.TenantStatus, clock: clock_mod.Clock, metrics: metrics_mod.Metrics
) -> tuple[access.Access, gate.Gate, list[str]]:
    """The tenant's access object as a worker builds it when the proxy alone is configured, its
    gate (the status's floor), and the tokens minted so far (``TOKENS`` in a row)."""
    minted: list[str] = []

    async def mint() -> oauth.TokenGrant:
        minted.append(TOKENS[len(minted)])
        return oauth.TokenGrant(access_token=minted[-1], token_type="bearer", expires_in=3600, received_at=clock.now())

    box = tokenbox.TokenBox(
        tenant=tenant.name, mint=mint, clock=clock, rng=random.Random(1), refresh=tenant.refresh, metrics=None
    )
    limit = status.floor = gate.Gate()
    made = access.Access(
        tenant=tenant,
        status=status,
        box=box,
        gate_hold=lambda now, seconds: limit.hold(now=now, seconds=seconds),
        clock=clock,
        metrics=metrics,
        wiring=access.Wiring(redactor=redaction.Redactor(), handoff=False),
        config_path="gw.yaml",
    )
    return made, limit, minted


def tenant_config(api_url: str, name: str = "acme-eu", *, rules: tuple[tuple[str, str], ...] = RULES) -> models.Tenant:
    raw: dict[str, Any] = {
        "blueprints": {"messaging": {"proxy_allow": [{"method": m, "path": p} for m, p in rules]}},
        "tenants": [
            {
                "name": name,
                "org_id": ORG,
                "api_base_url": api_url,
                "login_base_url": api_url,
                "credentials": {"client_id": CLIENT, "client_secret": {"env": "UNUSED"}},
            }
        ],
    }
    found = configfile.load_mapping(raw, source="gw.yaml", environ={}).settings.tenant(name)
    assert found is not None
    return found


def verified_status(tenant: models.Tenant) -> health.TenantStatus:
    status = health.TenantStatus(
        tenant=tenant.name, org_id=tenant.org_id, client_id=CLIENT, grant=labels.GrantType.CLIENT_CREDENTIALS
    )
    status.probes[catalog.TOKEN] = health.ProbeRecord(catalog.TOKEN, labels.Outcome.OK, 200, None, None, 0.01, 0.0)
    status.identity_org_id = tenant.org_id
    return status


@dataclasses.dataclass
class Tenants:
    """``proxy.Targets`` over a dict."""

    targets: dict[str, proxy.Target]

    def proxy_target(self, name: str) -> proxy.Target | None:
        return self.targets.get(name)


@dataclasses.dataclass
class Rig:
    url: str
    platform: Platform
    access: access.Access
    gate: gate.Gate
    minted: list[str]
    target: proxy.Target
    metrics: metrics_mod.Metrics
    registry: prometheus_client.CollectorRegistry
    clock: clock_mod.ManualClock
    session: aiohttp.ClientSession  # the test's client, to the proxy
    targets: Tenants

    def sample(self, name: str, **labels_: str) -> float | None:
        return self.registry.get_sample_value(name, labels_)

    async def call(self, method: str, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        headers = {"X-Grantwarden-Token": PROXY_TOKEN, **kwargs.pop("headers", {})}
        return await self.session.request(method, yarl.URL(self.url + path, encoded=True), headers=headers, **kwargs)


@contextlib.asynccontextmanager
async def running_proxy(
    platform: Platform,
    *,
    config: dict[str, Any] | None = None,
    rules: tuple[tuple[str, str], ...] = RULES,
    status: Callable[[models.Tenant], health.TenantStatus] = verified_status,
) -> AsyncIterator[Rig]:
    """The proxy (TCP, bearer token) in front of ``platform``, for tenant ``acme-eu``."""
    clock = clock_mod.ManualClock()
    registry = prometheus_client.CollectorRegistry()
    metrics = metrics_mod.Metrics(registry=registry)
    settings = proxysettings.ProxySettings.model_validate(
        {"listen": "127.0.0.1:0", "bearer_token": {"env": "UNUSED"}, **(config or {})}
    )
    tenant = tenant_config(platform.url, rules=rules)
    shown = status(tenant)
    made, limit, minted = access_for(tenant, shown, clock, metrics)
    target = proxy.Target(
        tenant=tenant, rules=allowlist.compile_rules(rules), status=shown, access=made, config_path="gw.yaml"
    )
    targets = Tenants({tenant.name: target})
    async with contextlib.AsyncExitStack() as stack:
        upstream_session = await stack.enter_async_context(passthrough.session(connections=16))
        listening = await proxylistener.start(
            config=settings,
            bearer_token=PROXY_TOKEN if settings.bearer_token is not None else None,
            targets=targets,
            upstream=passthrough.Passthrough(session=upstream_session),
            metrics=metrics,
            clock=clock,
        )
        stack.push_async_callback(listening.stop)  # closed before the session: no request is left
        connector: aiohttp.BaseConnector = (
            aiohttp.UnixConnector(path=settings.unix_path) if settings.unix_path else aiohttp.TCPConnector()
        )
        url = "http://proxy" if settings.unix_path else listening.url
        session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector, auto_decompress=False))
        yield Rig(url, platform, made, limit, minted, target, metrics, registry, clock, session, targets)
