"""The operator surface: one aiohttp listener for health, readiness, metrics, status, reconcile, reload.

design.md §2.3 is the contract (``deploy/openapi.yaml`` describes it, a test keeps both in
step). Kubernetes probes ``/healthz`` and ``/readyz``, Prometheus scrapes ``/metrics``, people
read ``/`` and ``/status``, and an admin may ``POST /tenants/{tenant}/reconcile`` and ``POST
/-/reload`` (as Prometheus has it: a sidecar or ``curl`` reloads a replica without ``kill``) with
the bearer token from ``server.admin_token``. The runtime implements ``Backend``; this module only
reads what it offers and asks it to reconcile or reload, so it holds no tenant logic.

What it must never do: return or log a token or secret (status data holds none; the admin token
is only compared, in constant time), answer 500 with a stack trace (``_guard`` turns every
unexpected exception into a bare 503 and logs ``http_error``), or block the loop on a scrape of
10,000 tenants: ``/metrics`` is rendered on the loop a chunk of tenants at a time (the loop owns
the series it reads, so no thread) and compressed by aiohttp, which does it in its executor
(zlib lets go of the GIL); ``/status`` is streamed, one chunk of tenants per turn of the loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import prometheus_client as prom
import structlog
from aiohttp import web

from grantwarden.base import clock as clock_mod
from grantwarden.policy import labels
from grantwarden.surface import pages
from grantwarden.surface import watchdog as watchdog_mod
from grantwarden.telemetry import exposition
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import status as health
from grantwarden.worker import statusjson

MAX_REQUEST_BYTES = 64 * 1024
STATUS_CHUNK = 500  # tenants serialised per turn of the event loop
ZLIB_EXECUTOR_BYTES = 64 * 1024  # larger bodies are compressed in aiohttp's executor, off the loop
SHUTDOWN_TIMEOUT_S = 2.0
API_CSP = "default-src 'none'; frame-ancestors 'none'"
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_ERROR_NAMES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}
_KEPT_HEADERS = ("Allow", "WWW-Authenticate")

_log = structlog.get_logger("grantwarden.server")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def authorized(header: str | None, token: bytes) -> bool:
    """Whether an ``Authorization`` header carries exactly ``Bearer <token>``, compared in constant time."""
    scheme, _, credentials = (header or "").strip().partition(" ")
    offered = credentials.strip().encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(offered, token)


def sort_key(status: health.TenantStatus) -> tuple[bool, str]:
    """``needs_attention`` first, then by name: what an operator or a script should look at first."""
    return (status.state is not labels.State.NEEDS_ATTENTION, status.tenant)


def counts(statuses: Iterable[health.TenantStatus]) -> dict[str, int]:
    """Tenants per state, every state present (0 included) so consumers need no defaults."""
    tally = dict.fromkeys((str(state) for state in labels.State), 0)
    for status in statuses:
        tally[str(status.state)] += 1
    return tally


def dumps(payload: Any) -> str:
    """JSON with ``<``, ``>`` and ``&`` escaped, so no sniffing or embedding can read markup in it.

    Safe because those characters only ever occur inside JSON strings, where ``\\u003c`` means
    the same. ASCII output: a lone surrogate in a platform message cannot break the encoding.
    """
    text = json.dumps(payload)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def answer(payload: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.Response(text=dumps(payload), status=status, content_type="application/json")


def pieces(
    head: Mapping[str, Any], statuses: Sequence[health.TenantStatus], *, now: float | None = None
) -> Iterator[str]:
    """``dumps({**head, "tenants": [...]})`` in pieces, each tenant serialised only when its piece is
    due: the head up to ``"tenants": [``, one piece per ``STATUS_CHUNK`` tenants, then ``]}``.
    Joined, they are that ``dumps`` byte for byte (its separators are ``", "`` and ``": "``).
    ``now``: the clock's, for the Retry-After a tenant is waiting out."""
    yield "{" + "".join(f"{dumps(key)}: {dumps(value)}, " for key, value in head.items()) + '"tenants": ['
    for start in range(0, len(statuses), STATUS_CHUNK):
        chunk = statuses[start : start + STATUS_CHUNK]
        yield (", " if start else "") + ", ".join(dumps(statusjson.tenant_json(status, now=now)) for status in chunk)
    yield "]}"


async def stream_tenants(
    request: web.Request, head: Mapping[str, Any], statuses: list[health.TenantStatus], *, clock: clock_mod.Clock
) -> web.StreamResponse:
    """``head`` plus ``"tenants"`` (last), written ``STATUS_CHUNK`` tenants per turn of the loop.

    ``/status`` of 10,000 tenants is megabytes of JSON: built in one go (or in a thread, which
    holds the GIL as long) it stalled every probe and refresh for the better part of a second.
    Once the headers are out no error answer can follow, so a failure mid-document is logged and
    the connection cut: a client never mistakes half a document for a whole one. A document of
    one chunk has no turn of the loop to give, so it goes out whole, with a Content-Length.
    """
    now = clock.now()
    if len(statuses) <= STATUS_CHUNK:
        return web.Response(text="".join(pieces(head, statuses, now=now)), content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    await response.prepare(request)
    try:
        for index, piece in enumerate(pieces(head, statuses, now=now)):
            await response.write(piece.encode())  # waits while the client is slow to read
            if index:
                await clock.sleep(0)  # a turn of the loop between chunks of tenants
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away: there is no one left to answer
    except Exception:  # noqa: BLE001 - the headers are sent: log it (redacted) and cut the connection
        _log.error("http_error", method=request.method, path=request.path, exc_info=True)
        if request.transport is not None:
            request.transport.close()
    return response


def error(status: int, name: str, message: str, **extra: Any) -> web.Response:
    return answer({"error": name, "message": message, **extra}, status)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """JSON for every refusal, 503 without details for every surprise, a debug line per request."""
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        response: web.StreamResponse = _too_large()
    else:
        try:
            response = await handler(request)
        except web.HTTPRequestEntityTooLarge:
            response = _too_large()
        except web.HTTPException as exc:
            name = _ERROR_NAMES.get(exc.status, "http_error")
            headers = {key: exc.headers[key] for key in _KEPT_HEADERS if key in exc.headers}
            response = error(exc.status, name, exc.reason)
            response.headers.update(headers)
        except Exception:  # noqa: BLE001 - the boundary: log it (redacted), answer without details
            _log.error("http_error", method=request.method, path=request.path, exc_info=True)
            response = error(503, "internal", "internal error; the daemon's log has the details")
    _log.debug("http_request", method=request.method, path=request.path, status=response.status)
    return response


def _too_large() -> web.Response:
    return error(413, "request_too_large", f"requests are limited to {MAX_REQUEST_BYTES} bytes")


async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", API_CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Server"] = "grantwarden"  # not aiohttp's version banner


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
            return answer({"status": "unhealthy", "reasons": reasons}, status=503)
        return answer({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        statuses = self.backend.statuses().values()
        starting = sum(1 for status in statuses if not status.first_cycle_done.is_set())
        ready = self.backend.ready()
        body = {"status": "ready" if ready else "starting", "starting": starting, "tenants": len(statuses)}
        return answer(body, status=200 if ready else 503)

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
            "counts": counts(self.backend.statuses().values()),
        }

    async def envelope(self, request: web.Request, tenants: Iterable[health.TenantStatus]) -> web.StreamResponse:
        return await stream_tenants(request, self.head(), sorted(tenants, key=sort_key), clock=self.clock)

    async def status(self, request: web.Request) -> web.StreamResponse:
        return await self.envelope(request, self.backend.statuses().values())

    async def tenant_status(self, request: web.Request) -> web.StreamResponse:
        tenant = request.match_info["tenant"]
        status = self.backend.statuses().get(tenant)
        if status is None:
            return error(404, "unknown_tenant", "no such tenant on this replica", tenant=tenant)
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
        response.headers["Content-Security-Policy"] = PAGE_CSP
        return response

    async def refusal(self, request: web.Request, event: str) -> web.Response | None:
        """The answer to a POST without exactly the admin's bearer token (logged as ``event``)."""
        await request.read()  # enforces client_max_size on bodies sent without a Content-Length
        if len(request.headers.getall("Authorization", [])) > 1:  # RFC 9110 §11.6.2: one credential only
            return error(400, "bad_request", "send exactly one Authorization header")
        if not authorized(request.headers.get("Authorization"), self.admin_token):
            _log.warning(event, reason="missing or wrong bearer token", remote=request.remote)
            response = error(401, "unauthorized", "this endpoint needs Authorization: Bearer <admin token>")
            response.headers["WWW-Authenticate"] = 'Bearer realm="grantwarden"'
            return response
        return None

    async def reconcile(self, request: web.Request) -> web.Response:
        if (refused := await self.refusal(request, "reconcile_refused")) is not None:
            return refused
        tenant = request.match_info["tenant"]
        if not self.backend.reconcile(tenant):
            return error(404, "unknown_tenant", "no such tenant on this replica", tenant=tenant)
        _log.info("reconcile_requested", tenant=tenant)
        return answer({"tenant": tenant, "reconcile": "requested"}, status=202)

    async def reload(self, request: web.Request) -> web.Response:
        """``POST /-/reload``: read the file again now; 202 with what changed, or why not."""
        if (refused := await self.refusal(request, "reload_refused")) is not None:
            return refused
        _log.info("reload_requested", remote=request.remote)
        record = await self.backend.reload()
        kept = "the configuration that runs is kept"
        if record is None:
            return error(409, "reload_conflict", f"the daemon is stopping; {kept}", problems=[])
        if not record.ok:
            name, status = ("reload_conflict", 409) if record.refused else ("config_invalid", 422)
            return error(status, name, f"the file was not applied; {kept}", problems=list(record.problems))
        return answer(statusjson.reload_outcome_json(record), status=202)


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
    app = web.Application(middlewares=[_guard], client_max_size=MAX_REQUEST_BYTES)
    app.on_response_prepare.append(_secure_headers)
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


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); an empty host means every interface."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen must be HOST:PORT, got {listen!r}")
    return host, int(port)


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
    host, port = parse_listen(listen)
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
