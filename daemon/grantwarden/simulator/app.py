"""The aiohttp application: every route, once at the root and once per region prefix.

One base URL serves the login host (``/oauth/*``) and the API host (``/api/v2/*``) of the
default region at the root, and of every region under ``/regions/{region}``: the official
SDK's login-host rule (``api.`` → ``login.``) leaves such URLs unchanged, so one listener is a
whole multi-region platform. One middleware frames every request: region and path, injected
faults, rendering of ``PlatformError``/``OAuthError`` with the correlation id as ``contextId``,
the ``ININ-Correlation-Id`` header, and the request log. ``/__sim/`` is the control API.
"""

from __future__ import annotations

import logging
import uuid

from aiohttp import web
from aiohttp.typedefs import Middleware

from grantwarden.simulator import (
    admin_routes,
    api_routes,
    audit_routes,
    authorize,
    client_routes,
    control_org_routes,
    control_routes,
    errors,
    faults,
    guarding,
    identity_routes,
    ipallow_routes,
    oauth_routes,
    requestlog,
    trust_routes,
    world,
)

log = logging.getLogger(__name__)

REGION_PREFIX = "/regions/"
CONTROL_PREFIX = "/__sim/"
CORRELATION_HEADER = "ININ-Correlation-Id"
MAX_REQUEST_BYTES = 512_000  # request.bytes.max (platform.md §5)


def _http_refusal(status: int, reason: str) -> errors.PlatformError:
    """aiohttp's own refusals (no route, wrong method, body too big) in the platform's body."""
    if status == 404:
        return errors.not_found()
    if status == 413:
        message = f"The request is over the size limit. Maximum bytes: {MAX_REQUEST_BYTES}"
        return errors.PlatformError(413, "request.entity.too.large", message)
    return errors.PlatformError(status, "bad.request", f"HTTP {status} {reason}")


def _error_response(status: int, body: bytes, headers: dict[str, str]) -> web.Response:
    return web.Response(status=status, body=body, headers=headers, content_type="application/json")


async def _respond(sim: world.World, request: web.Request, handler: api_routes.Handler, cid: str) -> web.StreamResponse:
    try:
        if request[guarding.REGION] not in sim.regions:
            raise errors.not_found()
        if sim.faults and not request.path.startswith(CONTROL_PREFIX):
            fault = sim.faults.draw((request.path, request[guarding.PATH]), sim.rng)
            if fault is not None:
                faulted = await faults.apply(fault, request, sim.clock)
                if faulted is not None:
                    return faulted
        return await handler(request)
    except errors.PlatformError as exc:
        return _error_response(exc.status, exc.body(cid), exc.headers)
    except errors.OAuthError as exc:
        return _error_response(exc.status, exc.body(), exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:  # the authorize redirect
            return web.Response(status=exc.status, headers=exc.headers)
        return _error_response(exc.status, _http_refusal(exc.status, exc.reason).body(cid), {})
    except Exception as exc:  # noqa: BLE001 - a fake platform answers 500 for its own bugs, as the real one does
        return _failed(exc, request, cid)


def _failed(exc: Exception, request: web.Request, cid: str) -> web.StreamResponse:
    if isinstance(exc, ConnectionResetError):
        raise exc  # the client went away mid-request: nothing to answer, nothing to report
    log.exception("simulator handler failed on %s %s", request.method, request.path, exc_info=exc)
    return _error_response(500, errors.server_error(500).body(cid), {})


def framing(sim: world.World) -> Middleware:
    @web.middleware
    async def frame(request: web.Request, handler: api_routes.Handler) -> web.StreamResponse:
        started = sim.clock.now()
        cid = str(uuid.uuid4())
        path = request.path
        if path.startswith(REGION_PREFIX):
            region, _, rest = path[len(REGION_PREFIX) :].partition("/")
            request[guarding.REGION], request[guarding.PATH] = region, "/" + rest
        else:
            request[guarding.REGION], request[guarding.PATH] = sim.default_region, path
        response = await _respond(sim, request, handler, cid)
        if not request.get(faults.NO_CORRELATION):
            response.headers[CORRELATION_HEADER] = cid
        sim.requests.record(
            time=started,
            method=request.method,
            path=path,
            query=request.query if request.query_string else {},
            status=0 if request.get(faults.DROPPED) else response.status,
            client_id=request.get(requestlog.CLIENT_ID),
            grant_type=request.get(requestlog.GRANT_TYPE),
            org_id=request.get(requestlog.ORG_ID),
            correlation_id=None if request.get(faults.NO_CORRELATION) else cid,
        )
        return response

    return frame


def route_table(sim: world.World) -> list[api_routes.Route]:
    """Every route of the platform (login and API hosts), without the region prefix."""
    return [
        *identity_routes.IdentityRoutes(sim).table(),
        *api_routes.ApiRoutes(sim).table(),
        *client_routes.ClientRoutes(sim).table(),
        *admin_routes.AdminRoutes(sim).table(),
        *trust_routes.TrustRoutes(sim).table(),
        *audit_routes.AuditRoutes(sim).table(),
        *ipallow_routes.SettingsRoutes(sim).table(),
        *oauth_routes.OAuthRoutes(sim).table(),
        *authorize.AuthorizeRoutes(sim).table(),
    ]


def build(sim: world.World) -> web.Application:
    """The application for ``sim``; run it with ``serving.start`` (or any aiohttp runner)."""
    app = web.Application(middlewares=[framing(sim)], client_max_size=MAX_REQUEST_BYTES)
    for method, path, handler in route_table(sim):
        for prefix in ("", REGION_PREFIX + "{region}"):
            if method == "GET":
                app.router.add_get(prefix + path, handler)  # HEAD too: HEAD /api/v2/tokens/me
            else:
                app.router.add_route(method, prefix + path, handler)
    for method, path, handler in [
        *control_routes.ControlRoutes(sim).table(),
        *control_org_routes.OrgControlRoutes(sim).table(),
    ]:
        app.router.add_route(method, path, handler)
    return app
