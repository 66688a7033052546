"""A scripted stand-in for Genesys Cloud on 127.0.0.1 (port 0), and the client wired to it.

``FakePlatform`` answers each (method, path) with canned replies (the last one repeats) or a
function of the request, and records every request with the clock time it arrived. It is
deliberately dumb: the rules of the real platform are the simulator's business; these tests
check how the client reads whatever comes back. Every answer carries an ``ININ-Correlation-Id``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from grantwarden.base import clock as clocks
from grantwarden.base import redaction
from grantwarden.remote import client as remote_client
from grantwarden.remote import gate as remote_gate
from grantwarden.remote import transport

CLIENT_ID = "0b8e7c2a-1111-4c44-9a55-6f7e8d9c0b1a"
CLIENT_SECRET = "cs-Zq9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa-secret"
ACCESS_TOKEN = "at-4HkQ9wXbT7mZpR2vL8nYc3sJfD6gA1eU5oI0tE-token"
REFRESH_TOKEN = "rt-Mn8Bv7Cx6Zl5Kj4Hg3Fd2Sa1Qw0ErTyUiOp-refresh"
ORG_ID = "2a3a43e5-e89c-406e-badf-e79288bd4ab0"


@dataclasses.dataclass(frozen=True)
class Canned:
    status: int = 200
    json: Any = None
    text: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    content_type: str = "application/json"


@dataclasses.dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    json: Any
    at: float


Responder = Callable[[Seen], Canned]


def error_body(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """An ``ErrorBody`` as the platform sends it (platform.md §4.1, §4.3)."""
    return {"message": message, "code": code, "status": status, "contextId": f"ctx-{code}", **extra}


class FakePlatform:
    def __init__(self, clock: clocks.Clock) -> None:
        self._clock = clock
        self._routes: dict[tuple[str, str], Responder] = {}
        self._ids = itertools.count(1)
        self.seen: list[Seen] = []
        self.url = ""

    def respond(self, method: str, path: str, *replies: Canned) -> None:
        queue = list(replies)
        self._routes[(method, path)] = lambda _seen: queue.pop(0) if len(queue) > 1 else queue[0]

    def route(self, method: str, path: str, responder: Responder) -> None:
        self._routes[(method, path)] = responder

    def requests(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        form: dict[str, str] = {}
        body: Any = None
        if request.content_type == "application/x-www-form-urlencoded":
            form = {key: str(value) for key, value in (await request.post()).items()}
        elif request.can_read_body:
            body = await request.json()
        seen = Seen(
            request.method, request.path, dict(request.query), dict(request.headers), form, body, self._clock.now()
        )
        self.seen.append(seen)
        responder = self._routes.get((request.method, request.path))
        canned = responder(seen) if responder else Canned(404, error_body(404, "not.found", "Not found"))
        headers = {"ININ-Correlation-Id": f"corr-{next(self._ids)}", **canned.headers}
        if canned.text is not None:
            return web.Response(
                status=canned.status, text=canned.text, content_type=canned.content_type, headers=headers
            )
        if canned.json is None:
            return web.Response(status=canned.status, headers=headers)
        return web.json_response(canned.json, status=canned.status, headers=headers)


@pytest.fixture
def clock() -> clocks.ManualClock:
    return clocks.ManualClock()


@pytest.fixture
def redactor() -> redaction.Redactor:
    return redaction.Redactor()


@pytest.fixture
async def platform(clock: clocks.ManualClock) -> AsyncIterator[FakePlatform]:
    fake = FakePlatform(clock)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    await runner.cleanup()


@pytest.fixture
def endpoints(platform: FakePlatform) -> transport.Endpoints:
    return transport.Endpoints(api_base_url=platform.url, login_base_url=platform.url + "/")


@pytest.fixture
def gate() -> remote_gate.Gate:
    return remote_gate.Gate()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as shared:
        yield shared


@pytest.fixture
def client(
    session: aiohttp.ClientSession, clock: clocks.ManualClock, redactor: redaction.Redactor
) -> remote_client.Client:
    return remote_client.Client(session=session, clock=clock, redactor=redactor, timeout_s=5.0)
