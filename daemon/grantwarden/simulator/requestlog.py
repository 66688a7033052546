"""The request log: what reached the simulator, for tests, the demo and benchmarks.

Bounded (a deque), because a benchmark sends millions of requests. An entry records time,
method, path, query, status, client id, grant type and kind (``token``, ``api``, ``control``),
never a token, a secret, an authorization code or a code verifier: query values under those
names are replaced before the entry is stored.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any, Literal

from aiohttp import web

Kind = Literal["token", "api", "control"]

DEFAULT_SIZE = 10_000
_SECRET_KEYS = frozenset(
    {"code", "refresh_token", "access_token", "client_secret", "code_verifier", "assertion", "token", "secret"}
)
REDACTED = "<redacted>"

# What handlers learn about a request for its log entry.
CLIENT_ID = web.RequestKey("sim.client_id", str)
ORG_ID = web.RequestKey("sim.org_id", str)
GRANT_TYPE = web.RequestKey("sim.grant_type", str)


def kind_of(path: str) -> Kind:
    if "/oauth/token" in path or "/oauth/authorize" in path:
        return "token"
    if path.startswith("/__sim/"):
        return "control"
    return "api"


def redact(query: Mapping[str, str]) -> dict[str, str]:
    return {key: (REDACTED if key.lower() in _SECRET_KEYS else value) for key, value in query.items()}


class RequestLog:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=size)

    def record(
        self,
        *,
        time: float,
        method: str,
        path: str,
        query: Mapping[str, str],
        status: int,
        client_id: str | None,
        grant_type: str | None,
        org_id: str | None,
        correlation_id: str | None,
    ) -> None:
        self._entries.append(
            {
                "time": time,
                "method": method,
                "path": path,
                "query": redact(query) if query else {},
                "status": status,
                "client_id": client_id,
                "grant_type": grant_type,
                "org_id": org_id,
                "kind": kind_of(path),
                "correlation_id": correlation_id,
            }
        )

    def entries(self, *, kind: Kind | None = None) -> list[dict[str, Any]]:
        return [dict(e) for e in self._entries if kind is None or e["kind"] == kind]

    def clear(self) -> None:
        self._entries.clear()
