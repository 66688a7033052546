"""The hand-off's answers and the requests it reads: JSON refusals, token answers, report bodies.

Every refusal of the hand-off (``handoff.Routes``) is a ``Refused`` carrying its finished answer
and the ``result`` label it is counted under, so that a handler raises it from any depth and the
one boundary (``handoff.guarded``) answers and counts it. Bodies are JSON with ``<``, ``>`` and
``&`` escaped (``wire.dumps``) and carry ``Cache-Control: no-store``; a token answer's headers are
built once. Also here: the bearer check (constant time, ``wire.authorized``) and the reading
and checking of a refusal report, each problem named. Nothing here finds a tenant or a token.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from grantwarden.policy import traffic
from grantwarden.surface import wire

_JSON = "application/json"
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Server": "grantwarden"}
_TOKEN_HEADERS = CIMultiDict({**_HEADERS, "Content-Type": "application/json; charset=utf-8"})
_UNKNOWN = json.dumps({"error": "unknown_tenant", "message": "no such tenant or org here"})
_UNAUTHORIZED = json.dumps({"error": "unauthorized", "message": "this endpoint needs Authorization: Bearer <token>"})
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="grantwarden-handoff"'}


class Refused(Exception):  # noqa: N818 - a control-flow signal carrying a finished answer, not an error
    def __init__(self, response: web.Response, result: str) -> None:
        self.response, self.result = response, result


def token_reply(body: bytes) -> web.Response:
    """A token answer: its bytes ready (``Handed.body``), the headers built once."""
    return web.Response(body=body, headers=_TOKEN_HEADERS)


def reply(payload: dict[str, Any] | str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    text = payload if isinstance(payload, str) else wire.dumps(payload)
    return web.Response(text=text, status=status, content_type=_JSON, headers={**_HEADERS, **(headers or {})})


def error(status: int, name: str, message: str, result: str, **extra: Any) -> Refused:
    return Refused(reply({"error": name, "message": message, **extra}, status), result)


def unknown() -> Refused:
    """One answer, byte for byte, for every tenant and org this replica does not know."""
    return Refused(reply(_UNKNOWN, 404), "not_found")


def reloading() -> Refused:
    fix = "The tenant's org changed in a reload; its new worker has not checked the new org's identity yet: ask again."
    body = {"error": "reloading", "outcome": "pending", "fix": fix}
    return Refused(reply(body, 503, {"Retry-After": "1"}), "not_ready")


def too_large(limit: int) -> Refused:
    return error(413, "request_too_large", f"requests are limited to {limit} bytes", "too_large")


def authenticate(request: web.Request, bearer: bytes | None) -> None:
    """Exactly one ``Authorization: Bearer <bearer>``; none needed when ``bearer`` is None."""
    if bearer is None:
        return
    headers = request.headers.getall("Authorization", [])
    if len(headers) != 1 or not wire.authorized(headers[0], bearer):
        raise Refused(reply(_UNAUTHORIZED, 401, _CHALLENGE), "unauthorized")


async def body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (the size is limited by the app's ``client_max_size``)."""
    try:
        read = json.loads(await request.read() or b"null")
    except ValueError:
        read = None
    if not isinstance(read, dict):
        raise error(400, "bad_request", "the body must be a JSON object", "bad_request")
    return read


def report(read: dict[str, Any]) -> traffic.Report:
    """A refusal report, each problem with it named in one 400."""
    method, path, status = read.get("method"), read.get("path"), read.get("status")
    headers, sha256 = read.get("headers") or {}, read.get("token_sha256")
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
        raise error(400, "bad_request", "; ".join(problems), "bad_request")
    return traffic.Report(str(method), str(path), int(str(status)), headers, traffic.body_bytes(read.get("body", "")),
                          sha256)  # fmt: skip
