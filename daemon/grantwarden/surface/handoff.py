"""The token hand-off: the integration beside grantwarden takes each org's token from here.

design.md §2.7 is the contract. A listener of its own (``handoff.listen``: a unix socket of mode
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
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from aiohttp import web
from multidict import CIMultiDict

from grantwarden.base import clock as clock_mod
from grantwarden.policy import sharding, traffic
from grantwarden.surface import server
from grantwarden.telemetry import metrics as metrics_mod

MAX_REQUEST_BYTES = 64 * 1024
MAX_MIN_VALID_S = 86_400.0
_log = structlog.get_logger("grantwarden.handoff")
_JSON = "application/json"
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Server": "grantwarden"}
_TOKEN_HEADERS = CIMultiDict({**_HEADERS, "Content-Type": "application/json; charset=utf-8"})
_UNKNOWN = json.dumps({"error": "unknown_tenant", "message": "no such tenant or org here"})
_UNAUTHORIZED = json.dumps({"error": "unauthorized", "message": "this endpoint needs Authorization: Bearer <token>"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Handed(Protocol):
    """A token going out, with where it acts (``worker.access.Handout``)."""

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


class _Refused(Exception):  # noqa: N818 - a control-flow signal carrying a finished answer, not an error
    def __init__(self, response: web.Response, result: str) -> None:
        self.response, self.result = response, result


def token_reply(body: bytes) -> web.Response:
    """A token answer: its bytes ready (``Handed.body``), the headers built once."""
    return web.Response(body=body, headers=_TOKEN_HEADERS)


def reply(payload: dict[str, Any] | str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    text = payload if isinstance(payload, str) else server.dumps(payload)
    return web.Response(text=text, status=status, content_type=_JSON, headers={**_HEADERS, **(headers or {})})


def _error(status: int, name: str, message: str, result: str, **extra: Any) -> _Refused:
    return _Refused(reply({"error": name, "message": message, **extra}, status), result)


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
            raise _Refused(reply(_UNKNOWN, 404), "not_found")
        self._owned(request, org_id)
        if len(names) > 1:
            message = f"org {org_id} has several tenants here: ask for one by name"
            raise _error(409, "ambiguous_org", message, "conflict", tenants=names)
        found = self._tenant(request, names[0])
        if found.org_id != org_id:  # a reload moved the tenant to another org in between
            raise _reloading()
        return await self._handout(found, self._min_valid(request))

    async def invalidate(self, request: web.Request) -> web.Response:
        found = self._tenant(request, request.match_info["tenant"])
        body = await self._json(request)
        presented = body.get("token") or body.get("sha256")
        if not isinstance(presented, str) or not presented or len(presented) > 16_384:
            raise _error(400, "bad_request", 'send {"token": "..."} or {"sha256": "<hex>"}', "bad_request")
        try:
            handout = await found.invalidate(presented)
        except traffic.NotReadyError as exc:
            raise self._not_ready(exc) from None
        return self._answer(handout)

    async def refusals(self, request: web.Request) -> web.Response:
        found = self._tenant(request, request.match_info["tenant"])
        report = _report(await self._json(request))
        try:
            answer = found.report_refusal(report)
        except ValueError as exc:
            raise _error(400, "bad_request", str(exc), "bad_request") from None
        return reply(answer.as_json())

    # -- helpers ----------------------------------------------------------------------------------

    def _tenant(self, request: web.Request, name: str) -> Source:
        org_id = self.backend.configured_org(name)
        if org_id is None:
            raise _Refused(reply(_UNKNOWN, 404), "not_found")
        self._owned(request, org_id)
        found = self.backend.access(name)
        if found is None:
            fix = f"Tenant {name}'s worker is not running (starting, or restarting after a crash): see /status/{name}."
            raise _Refused(reply({"error": "not_running", "outcome": "pending", "fix": fix}, 503), "not_ready")
        if found.org_id != org_id:
            raise _reloading()
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
            response = reply({"error": "moved", "message": f"shard {shard} serves it", "shard": shard}, 307)
            response.headers["Location"] = location
            raise _Refused(response, "redirected")
        message = f"shard {shard} serves it, not shard {self.backend.shard_index}"
        raise _error(421, "misdirected", message, "misdirected", shard=shard)

    def _min_valid(self, request: web.Request) -> float:
        raw = request.query.get("min_valid")
        if raw is None:
            return 0.0
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not 0 <= value <= MAX_MIN_VALID_S:  # NaN fails too
            raise _error(400, "bad_request", f"min_valid is seconds from 0 to {MAX_MIN_VALID_S:g}", "bad_request")
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
        return token_reply(handout.body(self.clock.now()))

    def _not_ready(self, exc: traffic.NotReadyError) -> _Refused:
        headers = {}
        if exc.retry_at is not None and math.isfinite(exc.retry_at):
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_at - self.clock.now())))
        body = {"error": exc.error, "outcome": exc.outcome, "fix": exc.fix}
        return _Refused(reply(body, 503, headers), "not_ready")

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _error(400, "bad_request", "the body must be a JSON object", "bad_request")
        return body


def _reloading() -> _Refused:
    fix = "The tenant's org changed in a reload; its new worker has not checked the new org's identity yet: ask again."
    return _Refused(
        reply({"error": "reloading", "outcome": "pending", "fix": fix}, 503, {"Retry-After": "1"}), "not_ready"
    )


def _report(body: dict[str, Any]) -> traffic.Report:
    method, path, status = body.get("method"), body.get("path"), body.get("status")
    headers, sha256 = body.get("headers") or {}, body.get("token_sha256")
    problems = []
    if not isinstance(method, str) or not traffic.method_ok(method):
        problems.append("method is an HTTP method in capitals")
    if not isinstance(path, str) or not path.startswith(traffic.API_ROOT):
        problems.append("path is the request's path, starting with /api/v2/")
    if not isinstance(status, int) or isinstance(status, bool) or not 300 <= status <= 599:
        problems.append("status is the answer's HTTP status, 300-599")
    if not isinstance(headers, dict) or len(headers) > 64 or not all(isinstance(v, str) for v in headers.values()):
        problems.append("headers maps at most 64 names to strings")
    if sha256 is not None and not (isinstance(sha256, str) and len(sha256) == 64):
        problems.append("token_sha256 is 64 hex digits")
    if problems:
        raise _error(400, "bad_request", "; ".join(problems), "bad_request")
    return traffic.Report(str(method), str(path), int(str(status)), headers, traffic.body_bytes(body.get("body", "")),
                           sha256)  # fmt: skip


def guarded(routes: Routes, endpoint: str, handler: Handler) -> Handler:
    """``handler`` behind the bearer token (401 before any lookup), the size limit and the error
    boundary; every answer counted in ``grantwarden_handoff_requests_total{endpoint, result}``."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            _authenticate(request, routes.bearer)
            if (request.content_length or 0) > MAX_REQUEST_BYTES:
                raise _too_large()
            response, result = await handler(request), "ok"
        except _Refused as refused:
            response, result = refused.response, refused.result
        except web.HTTPRequestEntityTooLarge:
            response, result = _too_large().response, "too_large"
        except Exception:  # noqa: BLE001 - the boundary: log it (redacted), answer without details
            _log.error("http_error", method=request.method, path=request.path, exc_info=True)
            response = reply({"error": "internal", "message": "internal error; the daemon's log has the details"}, 503)
            result = "error"
        routes.count(endpoint, result)
        return response

    return run


def _authenticate(request: web.Request, bearer: bytes | None) -> None:
    if bearer is None:
        return
    headers = request.headers.getall("Authorization", [])
    if len(headers) != 1 or not server.authorized(headers[0], bearer):
        raise _Refused(
            reply(_UNAUTHORIZED, 401, {"WWW-Authenticate": 'Bearer realm="grantwarden-handoff"'}), "unauthorized"
        )


def _too_large() -> _Refused:
    return _error(413, "request_too_large", f"requests are limited to {MAX_REQUEST_BYTES} bytes", "too_large")


async def _not_found(request: web.Request) -> web.Response:
    raise _error(404, "not_found", "no such endpoint", "not_found")


def build_app(routes: Routes) -> web.Application:
    """The routes of design.md §2.7; anything else is 404 after the token check (401 first)."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    add = app.router.add_route
    add("GET", "/v1/tenants/{tenant}/token", guarded(routes, "tenant_token", routes.tenant_token))
    add("GET", "/v1/orgs/{org_id}/token", guarded(routes, "org_token", routes.org_token))
    add("POST", "/v1/tenants/{tenant}/token/invalidate", guarded(routes, "invalidate", routes.invalidate))
    add("POST", "/v1/tenants/{tenant}/refusals", guarded(routes, "refusals", routes.refusals))
    add("*", "/{tail:.*}", guarded(routes, "other", _not_found))
    return app
