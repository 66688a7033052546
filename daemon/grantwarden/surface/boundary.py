"""The operator listener's boundary: every refusal as JSON, every surprise a bare 503, safe headers.

Why apart from the routes (``server``): whatever a handler raises, the answer leaves through
here, so what may never leak is decided in one place: an aiohttp ``HTTPException`` becomes a JSON
refusal (``Allow`` and ``WWW-Authenticate`` kept), anything unexpected a 503 without details and
one redacted ``http_error`` log line, a body over ``MAX_REQUEST_BYTES`` a 413; every answer gets
``nosniff``, ``no-store``, ``DENY`` framing, no referrer, the ``API_CSP`` (the page sets its own,
``PAGE_CSP``) and a ``Server`` header without aiohttp's version.

What it must not do: route, read the backend, or put an exception's text into an answer.
Caller: ``server.build_app`` (the hand-off and the proxy have boundaries of their own).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from grantwarden.surface import wire

MAX_REQUEST_BYTES = 64 * 1024
API_CSP = "default-src 'none'; frame-ancestors 'none'"
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_ERROR_NAMES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}
_KEPT_HEADERS = ("Allow", "WWW-Authenticate")

_log = structlog.get_logger("grantwarden.server")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """JSON for every refusal, 503 without details for every surprise, a debug line per request."""
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        response: web.StreamResponse = too_large()
    else:
        try:
            response = await handler(request)
        except web.HTTPRequestEntityTooLarge:
            response = too_large()
        except web.HTTPException as exc:
            name = _ERROR_NAMES.get(exc.status, "http_error")
            headers = {key: exc.headers[key] for key in _KEPT_HEADERS if key in exc.headers}
            response = wire.error(exc.status, name, exc.reason)
            response.headers.update(headers)
        except Exception:  # noqa: BLE001 - the boundary: log it (redacted), answer without details
            _log.error("http_error", method=request.method, path=request.path, exc_info=True)
            response = wire.error(503, "internal", "internal error; the daemon's log has the details")
    _log.debug("http_request", method=request.method, path=request.path, status=response.status)
    return response


def too_large() -> web.Response:
    return wire.error(413, "request_too_large", f"requests are limited to {MAX_REQUEST_BYTES} bytes")


async def secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", API_CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Server"] = "grantwarden"  # not aiohttp's version banner
