"""The operator surface: one aiohttp listener for health, readiness, metrics, status, reconcile, reload.

design.md §2.3 is the contract (``deploy/openapi.yaml`` describes it, a test keeps both in
step). Kubernetes probes ``/healthz`` and ``/readyz``, Prometheus scrapes ``/metrics``, people
read ``/`` and ``/status``, and an admin may ``POST /tenants/{tenant}/reconcile`` and ``POST
/-/reload`` (as Prometheus has it: a sidecar or ``curl`` reloads a replica without ``kill``) with
the bearer token from ``server.admin_token``. The runtime implements ``Backend``; this module only
reads what it offers and asks it to reconcile or reload, so it holds no tenant logic.

What it must never do: return or log a token or secret (status data holds none; the admin token
is only compared, in constant time), answer 500 with a stack trace (``boundary.guard`` turns
every unexpected exception into a bare 503 and logs ``http_error``), or block the loop on a scrape of
10,000 tenants: ``/metrics`` is rendered on the loop a chunk of tenants at a time (the loop owns
the series it reads, so no thread) and compressed by aiohttp, which does it in its executor
(zlib lets go of the GIL); ``/status`` is streamed, one chunk of tenants per turn of the loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import prometheus_client as prom
import structlog
from aiohttp import web

from grantwarden.base import clock as clock_mod
from grantwarden.surface import boundary, listening, pages, statusdoc, wire
from grantwarden.surface import watchdog as watchdog_mod
from grantwarden.telemetry import exposition
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import status as health
from grantwarden.worker import statusjson

ZLIB_EXECUTOR_BYTES = 64 * 1024  # larger bodies are compressed in aiohttp's executor, off the loop
SHUTDOWN_TIMEOUT_S = 2.0

_log = structlog.get_logger("grantwarden.server")


class Backend(Protocol):
    """What the runtime offers the server; every method is cheap and non-blocking."""

    version: str
    shard_index: int
    shard_count: int

    def statuses(self) -> Mapping[str, health.TenantStatus]:
        """Owned tenants only, by name."""

    def alive(self) -> bool:
        """The supervisor is running."""

    def ready(self) -> bool:
        """Every owned tenant has finished its first cycle, whatever its outcome."""

    def reconcile(self, tenant: str) -> bool:
        """Run that tenant's cycle now; False when the tenant is unknown or not owned here."""

    def reload_status(self) -> health.ReloadRecord | None:
        """How the configuration was last (re)loaded; None for a backend that never reloads."""

    async def reload(self) -> health.ReloadRecord | None:
        """Reload the configuration now and return how it went; None when the daemon is stopping."""


@dataclasses.dataclass(frozen=True, eq=False)
class _Routes:
    """The handlers; each reads the backend afresh, so answers never lag behind the tenants."""

    backend: Backend
    metrics: metrics_mod.Metrics
    admin_token: bytes
    clock: clock_mod.Clock
    watchdog: watchdog_mod.Watchdog

    async def healthz(self, request: web.Request) -> web.Response:
        reasons = [] if self.backend.alive() else ["the tenant supervisor is not running"]
        if (problem := self.watchdog.problem()) is not None:
            reasons.append(problem)
        if reasons:
            return wire.answer({"status": "unhealthy", "reasons": reasons}, status=503)
        return wire.answer({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        statuses = self.backend.statuses().values()
        starting = sum(1 for status in statuses if not status.first_cycle_done.is_set())
        ready = self.backend.ready()
        body = {"status": "ready" if ready else "starting", "starting": starting, "tenants": len(statuses)}
        return wire.answer(body, status=200 if ready else 503)

    async def scrape(self, request: web.Request) -> web.Response:
        body = await self.metrics.exposition(clock=self.clock)
        headers = {"Content-Type": prom.CONTENT_TYPE_LATEST, "Vary": "Accept-Encoding"}
        response = web.Response(body=body, headers=headers, zlib_executor_size=ZLIB_EXECUTOR_BYTES)
        if exposition.accepts_gzip(request.headers.get("Accept-Encoding", "")):
            # Prometheus asks: 20x fewer bytes. The coding is forced because aiohttp's own choice
            # ignores quality values ("gzip;q=0" would still get gzip).
            response.enable_compression(web.ContentCoding.gzip)
        return response

    def head(self) -> dict[str, Any]:
        reloaded = self.backend.reload_status()
        return {
            "version": self.backend.version,
            "shard": {"index": self.backend.shard_index, "count": self.backend.shard_count},
            "generated_at": statusjson.iso(self.clock.now()),
            "ready": self.backend.ready(),
            "reload": statusjson.reload_json(reloaded) if reloaded is not None else None,
            "counts": statusdoc.counts(self.backend.statuses().values()),
        }

    async def envelope(self, request: web.Request, tenants: Iterable[health.TenantStatus]) -> web.StreamResponse:
        return await statusdoc.stream_tenants(
            request, self.head(), sorted(tenants, key=statusdoc.sort_key), clock=self.clock
        )

    async def status(self, request: web.Request) -> web.StreamResponse:
        return await self.envelope(request, self.backend.statuses().values())

    async def tenant_status(self, request: web.Request) -> web.StreamResponse:
        tenant = request.match_info["tenant"]
        status = self.backend.statuses().get(tenant)
        if status is None:
            return wire.error(404, "unknown_tenant", "no such tenant on this replica", tenant=tenant)
        return await self.envelope(request, [status])

    async def page(self, request: web.Request) -> web.Response:
        text = pages.render(
            version=self.backend.version,
            shard_index=self.backend.shard_index,
            shard_count=self.backend.shard_count,
            ready=self.backend.ready(),
            statuses=self.backend.statuses().values(),
            now=self.clock.now(),
            reload=self.backend.reload_status(),
        )
        body = text.encode("utf-8", "backslashreplace")  # a lone surrogate in a message must not fail the page
        response = web.Response(body=body, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = boundary.PAGE_CSP
        return response

    async def refusal(self, request: web.Request, event: str) -> web.Response | None:
        """The answer to a POST without exactly the admin's bearer token (logged as ``event``)."""
        await request.read()  # enforces client_max_size on bodies sent without a Content-Length
        if len(request.headers.getall("Authorization", [])) > 1:  # RFC 9110 §11.6.2: one credential only
            return wire.error(400, "bad_request", "send exactly one Authorization header")
        if not wire.authorized(request.headers.get("Authorization"), self.admin_token):
            _log.warning(event, reason="missing or wrong bearer token", remote=request.remote)
            response = wire.error(401, "unauthorized", "this endpoint needs Authorization: Bearer <admin token>")
            response.headers["WWW-Authenticate"] = 'Bearer realm="grantwarden"'
            return response
        return None

    async def reconcile(self, request: web.Request) -> web.Response:
        if (refused := await self.refusal(request, "reconcile_refused")) is not None:
            return refused
        tenant = request.match_info["tenant"]
        if not self.backend.reconcile(tenant):
            return wire.error(404, "unknown_tenant", "no such tenant on this replica", tenant=tenant)
        _log.info("reconcile_requested", tenant=tenant)
        return wire.answer({"tenant": tenant, "reconcile": "requested"}, status=202)

    async def reload(self, request: web.Request) -> web.Response:
        """``POST /-/reload``: read the file again now; 202 with what changed, or why not."""
        if (refused := await self.refusal(request, "reload_refused")) is not None:
            return refused
        _log.info("reload_requested", remote=request.remote)
        record = await self.backend.reload()
        kept = "the configuration that runs is kept"
        if record is None:
            return wire.error(409, "reload_conflict", f"the daemon is stopping; {kept}", problems=[])
        if not record.ok:
            name, status = ("reload_conflict", 409) if record.refused else ("config_invalid", 422)
            return wire.error(status, name, f"the file was not applied; {kept}", problems=list(record.problems))
        return wire.answer(statusjson.reload_outcome_json(record), status=202)


def build_app(
    *,
    backend: Backend,
    metrics: metrics_mod.Metrics,
    admin_token: str | None,
    clock: clock_mod.Clock,
    watchdog: watchdog_mod.Watchdog,
) -> web.Application:
    """The routes of design.md §2.3; the POST routes only with an admin token, else they do not exist.

    No HEAD routes: the contract (deploy/openapi.yaml) lists exactly these methods.
    """
    token = admin_token.strip().encode() if admin_token is not None else None
    if token == b"":
        raise ValueError("server.admin_token is empty; remove it to disable POST endpoints")
    routes = _Routes(backend, metrics, token or b"", clock, watchdog)
    app = web.Application(middlewares=[boundary.guard], client_max_size=boundary.MAX_REQUEST_BYTES)
    app.on_response_prepare.append(boundary.secure_headers)
    for path, handler in (
        ("/", routes.page),
        ("/healthz", routes.healthz),
        ("/readyz", routes.readyz),
        ("/metrics", routes.scrape),
        ("/status", routes.status),
        ("/status/{tenant}", routes.tenant_status),
    ):
        app.router.add_get(path, handler, allow_head=False)
    if token is not None:
        app.router.add_post("/tenants/{tenant}/reconcile", routes.reconcile)
        app.router.add_post("/-/reload", routes.reload)
    return app


@dataclasses.dataclass(eq=False)
class Running:
    """A listening server: ``url`` to reach it, ``stop()`` to close it and its watchdog."""

    runner: web.AppRunner
    host: str
    port: int
    watchdog: watchdog_mod.Watchdog
    _stop: asyncio.Event
    _watching: asyncio.Task[None]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        self._stop.set()
        try:
            await self.runner.cleanup()
        finally:
            await self._watching


async def start(
    *,
    backend: Backend,
    metrics: metrics_mod.Metrics,
    listen: str,
    admin_token: str | None,
    clock: clock_mod.Clock,
    watchdog: watchdog_mod.Watchdog | None = None,
) -> Running:
    """Bind ``listen`` (port 0 picks a free one) and serve until ``Running.stop()``.

    The server runs the event-loop watchdog that ``/healthz`` consults. Pass one in to observe or
    steer it, and on a ``ManualClock`` pass one with a long ``interval_s``: every 0.5 s of fake
    time is otherwise a wakeup that ``advance()`` settles (about 1 s of real time per minute).
    """
    host, port = listening.parse_listen(listen)
    dog = watchdog or watchdog_mod.Watchdog(clock=clock, metrics=metrics)
    app = build_app(backend=backend, metrics=metrics, admin_token=admin_token, clock=clock, watchdog=dog)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host or None, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = int(runner.addresses[0][1])
    reachable = host if host not in ("", "0.0.0.0") else "127.0.0.1"
    stop = asyncio.Event()
    watching = asyncio.create_task(dog.run(stop), name="grantwarden-watchdog")
    return Running(runner=runner, host=reachable, port=bound_port, watchdog=dog, _stop=stop, _watching=watching)
