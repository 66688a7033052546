"""The in-path proxy's streaming: large bodies both ways, size limits while streaming, disconnects.

Covers: a caller's chunked POST body streams to the platform chunked and whole, one with a length
keeps it; a body over max_request_bytes is refused 413 (by its Content-Length before the platform
is asked, by counting while it streams otherwise); a large answer streams back byte for byte,
chunked or with its length; an answer over max_response_bytes is 502 when its length says so and
cut when it only shows while streaming; a caller that goes away mid-answer ends the request, closes
the platform's connection (no task left, counted ``client_closed``); the unix socket is made 0660
(``surface.listening``, as the hand-off's), needs no proxy token, never replaces another file and
is removed at stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.surface import proxykit
from tests.surface.proxykit import Platform

AGENTLESS = "/t/acme-eu/api/v2/conversations/messages/agentless"
INTEGRATIONS = "/t/acme-eu/api/v2/conversations/messaging/integrations"
MIB = 1024 * 1024


@pytest.fixture
async def platform() -> AsyncIterator[Platform]:
    async with Platform().running() as running:
        yield running


async def chunks(total: int, size: int = 50_000) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        yield bytes([65 + (sent // size) % 26]) * part
        sent += part


def body(total: int) -> bytes:
    return bytes(i % 251 for i in range(total))


async def test_a_large_chunked_request_streams_to_the_platform_whole(platform: Platform) -> None:
    async with proxykit.running_proxy(platform) as rig:
        response = await rig.call("POST", AGENTLESS, data=chunks(500_000))
        assert response.status == 200
    (seen,) = platform.seen
    assert seen.body_bytes == 500_000
    assert dict(seen.headers).get("Transfer-Encoding") == "chunked", "streamed, not buffered and re-framed"


async def test_a_request_with_a_length_keeps_it(platform: Platform) -> None:
    async with proxykit.running_proxy(platform) as rig:
        response = await rig.call("POST", AGENTLESS, data=body(300_000))
        assert response.status == 200
    (seen,) = platform.seen
    assert (seen.body_bytes, dict(seen.headers)["Content-Length"]) == (300_000, "300000")


async def test_a_body_over_the_limit_by_its_length_never_reaches_the_platform(platform: Platform) -> None:
    async with proxykit.running_proxy(platform) as rig:
        response = await rig.call("POST", AGENTLESS, data=body(512_001))
        assert response.status == 413
        assert response.headers["X-Grantwarden-Outcome"] == "request_too_large"
        assert rig.minted == []
    assert platform.seen == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", AGENTLESS, id="streamed"),
        pytest.param("PUT", "/t/acme-eu/api/v2/users/u1/roles", id="read-first-to-send-twice"),
    ],
)
async def test_a_chunked_body_over_the_limit_is_cut_while_it_streams(
    platform: Platform, method: str, path: str
) -> None:
    async with proxykit.running_proxy(platform, config={"max_request_bytes": 200_000}) as rig:
        response = await rig.call(method, path, data=chunks(600_000))
        assert response.status == 413
        assert (await response.json())["error"] == "request_too_large"
        assert rig.sample("grantwarden_proxy_requests_total", tenant="acme-eu", outcome="request_too_large") == 1
    assert all(seen.body_bytes <= 200_000 for seen in platform.seen), "the platform never got the whole body"


@pytest.mark.parametrize("with_length", [pytest.param(True, id="with-length"), pytest.param(False, id="chunked")])
async def test_a_large_answer_streams_back_byte_for_byte(platform: Platform, with_length: bool) -> None:
    expected = body(5 * MIB)

    async def large(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        if with_length:
            response.content_length = len(expected)
        await response.prepare(request)
        for start in range(0, len(expected), 100_000):
            await response.write(expected[start : start + 100_000])
        await response.write_eof()
        return response

    platform.handler = large
    async with proxykit.running_proxy(platform) as rig:
        response = await rig.call("GET", INTEGRATIONS)
        received = await response.read()
        assert response.status == 200
        assert received == expected
        assert response.headers.get("Content-Length") == (str(len(expected)) if with_length else None)
        assert response.headers["X-Grantwarden-Outcome"] == "ok"


async def test_an_answer_over_the_limit_by_its_length_is_502(platform: Platform) -> None:
    async def sized(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"x" * 300_000, content_type="application/json")

    platform.handler = sized
    async with proxykit.running_proxy(platform, config={"max_response_bytes": 100_000}) as rig:
        response = await rig.call("GET", INTEGRATIONS)
        assert response.status == 502
        assert response.headers["X-Grantwarden-Outcome"] == "response_too_large"


async def test_an_answer_that_grows_over_the_limit_while_streaming_is_cut(platform: Platform) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):
            for _ in range(100):
                await response.write(b"y" * 50_000)
        return response

    platform.handler = endless
    async with proxykit.running_proxy(platform, config={"max_response_bytes": 120_000}) as rig:
        response = await rig.call("GET", INTEGRATIONS)
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
        assert rig.sample("grantwarden_proxy_requests_total", tenant="acme-eu", outcome="response_too_large") == 1


async def test_a_caller_that_goes_away_mid_answer_releases_the_platforms_connection(platform: Platform) -> None:
    more, upstream_closed = asyncio.Event(), asyncio.Event()

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"first " * 1000)
        await more.wait()
        try:
            for _ in range(1000):
                await response.write(b"more " * 10_000)
        except ConnectionError:
            upstream_closed.set()  # the proxy closed its side: nothing is read from the platform any more
        return response

    platform.handler = trickle
    async with proxykit.running_proxy(platform) as rig:
        response = await rig.call("GET", INTEGRATIONS)
        assert (await response.content.readany()).startswith(b"first ")
        response.close()  # the caller goes away with most of the answer unread
        more.set()
        await asyncio.wait_for(upstream_closed.wait(), timeout=10)
        for _ in range(100):  # the handler's last lines run after the platform noticed
            if rig.sample("grantwarden_proxy_requests_total", tenant="acme-eu", outcome="client_closed"):
                break
            await _turn()
        assert rig.sample("grantwarden_proxy_requests_total", tenant="acme-eu", outcome="client_closed") == 1


async def _turn() -> None:
    """One pass of the event loop."""
    future = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(future.set_result, None)
    await future


async def test_the_unix_socket_is_0660_needs_no_proxy_token_and_goes_at_stop(
    platform: Platform, tmp_path: Path
) -> None:
    path = tmp_path / "gw.sock"
    path.touch()
    config = {"listen": f"unix:{path}", "bearer_token": None}
    with pytest.raises(OSError, match=r"proxy.listen: .* is not a socket"):
        async with proxykit.running_proxy(platform, config=config):
            pass
    path.unlink()
    async with proxykit.running_proxy(platform, config=config) as rig:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        response = await rig.session.get(rig.url + INTEGRATIONS)
        assert response.status == 200
        assert response.headers["X-Grantwarden-Outcome"] == "ok"
    assert not path.exists(), "removed at stop"
