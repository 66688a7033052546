"""The token hand-off: the integration beside grantwarden takes each org's token from here.

design.md §2.8 is the contract. A listener of its own (``handoff.listen``: a unix socket of mode
0660, or TCP), never the operator listener: ``GET /v1/tenants/{tenant}/token`` (or by org),
``POST .../token/invalidate`` after a 401, ``POST .../refusals`` for any refusal met. The
answers come from the running worker's ``access.Access``; this module only authenticates,
finds the tenant (or the shard that owns it), and turns the access object's answers into HTTP.

What it must never do: hand out a token for another org than the one asked for (the access
object checks the identity; a tenant whose org changed at a reload is refused until its new
worker runs), let anyone without the bearer token learn whether a tenant exists (401 before any
lookup, one body for every unknown tenant), log or count a token (metrics have no tenant label,
``token_handed_out`` names tenant and expiry only), or read an unbounded body (413 over 64 KiB).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from aiohttp import web

from grantwarden.base import clock as clock_mod
from grantwarden.policy import sharding, traffic
from grantwarden.surface import replies
from grantwarden.telemetry import metrics as metrics_mod

MAX_REQUEST_BYTES = 64 * 1024
MAX_MIN_VALID_S = 86_400.0
_log = structlog.get_logger("grantwarden.handoff")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Handed(Protocol):
    """A token going out, with where it acts (``worker.handout.Handout``)."""

    @property
    def tenant(self) -> str: ...

    @property
    def org_id(self) -> str: ...

    @property
    def expires_at(self) -> float: ...

    def body(self, now: float) -> bytes:
        """The answer's JSON (``expires_in`` as of ``now``), ``<``, ``>`` and ``&`` escaped."""


class Answered(Protocol):
    def as_json(self) -> dict[str, Any]: ...


class Source(Protocol):
    """One tenant's tokens (``worker.access.Access``); raises ``traffic.NotReadyError``."""

    @property
    def org_id(self) -> str: ...

    async def token(self, min_valid_s: float = 0.0) -> Handed: ...

    async def invalidate(self, presented: str) -> Handed: ...

    def report_refusal(self, report: traffic.Report) -> Answered: ...


class Backend(Protocol):
    """What the runtime offers the hand-off; every method is cheap and non-blocking."""

    @property
    def shard_index(self) -> int: ...

    @property
    def shard_count(self) -> int: ...

    def configured_org(self, tenant: str) -> str | None:
        """The org id the configuration gives ``tenant`` (whichever shard owns it); None: unknown."""

    def org_tenants(self, org_id: str) -> list[str]:
        """The configured tenants of ``org_id``, in file order (all on one shard)."""

    def access(self, tenant: str) -> Source | None:
        """The access object of ``tenant``'s running worker on this replica, or None."""


@dataclasses.dataclass(eq=False)
class Routes:
    backend: Backend
    metrics: metrics_mod.Metrics
    clock: clock_mod.Clock
    bearer: bytes | None  # None: a unix socket without a token (its mode is the lock)
    peer_url: str | None
    _counters: dict[tuple[str, str], Any] = dataclasses.field(default_factory=dict)
    _shards: dict[tuple[str, int], int] = dataclasses.field(default_factory=dict)  # (org, count) -> shard
    # Bound once, after the logs were configured: an unbound logger binds at every call (12 µs).
    _log: Any = dataclasses.field(default_factory=lambda: structlog.get_logger("grantwarden.handoff").bind())

    def count(self, endpoint: str, result: str) -> None:
        counter = self._counters.get((endpoint, result))
        if counter is None:
            counter = self._counters[endpoint, result] = self.metrics.handoff_requests.labels(endpoint, result)
        counter.inc()

    # -- the four endpoints -----------------------------------------------------------------------

    async def tenant_token(self, request: web.Request) -> web.Response:
        found = self._tenant(request, request.match_info["tenant"])
        return await self._handout(found, self._min_valid(request))

    async def org_token(self, request: web.Request) -> web.Response:
        org_id = request.match_info["org_id"]
        names = self.backend.org_tenants(org_id)
        if not names:
            raise replies.unknown()
        self._owned(request, org_id)
        if len(names) > 1:
            message = f"org {org_id} has several tenants here: ask for one by name"
            raise replies.error(409, "ambiguous_org", message, "conflict", tenants=names)
        found = self._tenant(request, names[0])
        if found.org_id != org_id:  # a reload moved the tenant to another org in between
            raise replies.reloading()
        return await self._handout(found, self._min_valid(request))

    async def invalidate(self, request: web.Request) -> web.Response:
        found = self._tenant(request, request.match_info["tenant"])
        body = await replies.body(request)
        presented = body.get("token") or body.get("sha256")
        if not isinstance(presented, str) or not presented or len(presented) > 16_384:
            raise replies.error(400, "bad_request", 'send {"token": "..."} or {"sha256": "<hex>"}', "bad_request")
        try:
            handout = await found.invalidate(presented)
        except traffic.NotReadyError as exc:
            raise self._not_ready(exc) from None
        return self._answer(handout)

    async def refusals(self, request: web.Request) -> web.Response:
        found = self._tenant(request, request.match_info["tenant"])
        report = replies.report(await replies.body(request))
        try:
            answer = found.report_refusal(report)
        except ValueError as exc:
            raise replies.error(400, "bad_request", str(exc), "bad_request") from None
        return replies.reply(answer.as_json())

    # -- helpers ----------------------------------------------------------------------------------

    def _tenant(self, request: web.Request, name: str) -> Source:
        org_id = self.backend.configured_org(name)
        if org_id is None:
            raise replies.unknown()
        self._owned(request, org_id)
        found = self.backend.access(name)
        if found is None:
            fix = f"Tenant {name}'s worker is not running (starting, or restarting after a crash): see /status/{name}."
            body = {"error": "not_running", "outcome": "pending", "fix": fix}
            raise replies.Refused(replies.reply(body, 503), "not_ready")
        if found.org_id != org_id:
            raise replies.reloading()
        return found

    def _owned(self, request: web.Request, org_id: str) -> None:
        count = self.backend.shard_count
        if count == 1:
            return
        shard = self._shards.get((org_id, count))
        if shard is None:
            if len(self._shards) > 100_000:  # configured orgs only, but a reload may bring others
                self._shards.clear()
            shard = self._shards[org_id, count] = sharding.shard_of(org_id, count)
        if shard == self.backend.shard_index:
            return
        if self.peer_url is not None:
            location = self.peer_url.replace("{index}", str(shard)).rstrip("/") + request.path_qs
            response = replies.reply({"error": "moved", "message": f"shard {shard} serves it", "shard": shard}, 307)
            response.headers["Location"] = location
            raise replies.Refused(response, "redirected")
        message = f"shard {shard} serves it, not shard {self.backend.shard_index}"
        raise replies.error(421, "misdirected", message, "misdirected", shard=shard)

    def _min_valid(self, request: web.Request) -> float:
        raw = request.query.get("min_valid")
        if raw is None:
            return 0.0
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not 0 <= value <= MAX_MIN_VALID_S:  # NaN fails too
            raise replies.error(
                400, "bad_request", f"min_valid is seconds from 0 to {MAX_MIN_VALID_S:g}", "bad_request"
            )
        return value

    async def _handout(self, found: Source, min_valid: float) -> web.Response:
        try:
            handout = await found.token(min_valid)
        except traffic.NotReadyError as exc:
            raise self._not_ready(exc) from None
        self._log.debug("token_handed_out", tenant=handout.tenant, org_id=handout.org_id,
                        expires_at=handout.expires_at)  # fmt: skip
        return self._answer(handout)

    def _answer(self, handout: Handed) -> web.Response:
        return replies.token_reply(handout.body(self.clock.now()))

    def _not_ready(self, exc: traffic.NotReadyError) -> replies.Refused:
        headers = {}
        if exc.retry_at is not None and math.isfinite(exc.retry_at):
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_at - self.clock.now())))
        body = {"error": exc.error, "outcome": exc.outcome, "fix": exc.fix}
        return replies.Refused(replies.reply(body, 503, headers), "not_ready")


def guarded(routes: Routes, endpoint: str, handler: Handler) -> Handler:
    """``handler`` behind the bearer token (401 before any lookup), the size limit and the error
    boundary; every answer counted in ``grantwarden_handoff_requests_total{endpoint, result}``."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            replies.authenticate(request, routes.bearer)
            if (request.content_length or 0) > MAX_REQUEST_BYTES:
                raise replies.too_large(MAX_REQUEST_BYTES)
            response, result = await handler(request), "ok"
        except replies.Refused as refused:
            response, result = refused.response, refused.result
        except web.HTTPRequestEntityTooLarge:
            response, result = replies.too_large(MAX_REQUEST_BYTES).response, "too_large"
        except Exception:  # noqa: BLE001 - the boundary: log it (redacted), answer without details
            _log.error("http_error", method=request.method, path=request.path, exc_info=True)
            response = replies.reply(
                {"error": "internal", "message": "internal error; the daemon's log has the details"}, 503
            )
            result = "error"
        routes.count(endpoint, result)
        return response

    return run


async def _not_found(request: web.Request) -> web.Response:
    raise replies.error(404, "not_found", "no such endpoint", "not_found")


def build_app(routes: Routes) -> web.Application:
    """The routes of design.md §2.8; anything else is 404 after the token check (401 first)."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    add = app.router.add_route
    add("GET", "/v1/tenants/{tenant}/token", guarded(routes, "tenant_token", routes.tenant_token))
    add("GET", "/v1/orgs/{org_id}/token", guarded(routes, "org_token", routes.org_token))
    add("POST", "/v1/tenants/{tenant}/token/invalidate", guarded(routes, "invalidate", routes.invalidate))
    add("POST", "/v1/tenants/{tenant}/refusals", guarded(routes, "refusals", routes.refusals))
    add("*", "/{tail:.*}", guarded(routes, "other", _not_found))
    return app
