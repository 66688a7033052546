"""passthrough: one proxied request to the platform, bytes untouched, connections settled.

Covers: the target goes out byte for byte (no re-quoting) with only the headers given (aiohttp
adds no Accept, Accept-Encoding, User-Agent or Content-Type); a compressed answer comes back
compressed; an answer read to its end gives its connection back for the next request, one left
unread closes it; a refused connection and a silent platform become ``UpstreamError``
(``network_error``, ``timeout``) naming the method and path without the query; what the caller
raises inside the block passes through unchanged.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from grantwarden.policy import proxying
from grantwarden.policy.labels import Outcome
from grantwarden.remote import passthrough
from tests.surface.proxykit import Platform


@pytest.fixture
async def platform() -> AsyncIterator[Platform]:
    async with Platform().running() as running:
        yield running


@pytest.fixture
async def upstream() -> AsyncIterator[passthrough.Passthrough]:
    session = passthrough.session(connections=4)
    try:
        yield passthrough.Passthrough(session=session)
    finally:
        await session.close()


async def test_the_request_goes_out_as_given_and_the_answer_comes_back_as_sent(
    platform: Platform, upstream: passthrough.Passthrough
) -> None:
    packed = gzip.compress(b'{"entities": []}')

    async def compressed(request: web.Request) -> web.StreamResponse:
        return web.Response(body=packed, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    platform.handler = compressed
    url = platform.url + "/api/v2/users?q=a%2Fb&r=%7E"
    async with upstream.send("GET", url, headers=[("X-Caller", "1")], body=None, timeout_s=5) as reply:
        assert reply.status == 200
        assert reply.content_length == len(packed)
        assert await reply.prefix(1 << 20) == packed, "not decompressed"
    (seen,) = platform.seen
    assert seen.target == "/api/v2/users?q=a%2Fb&r=%7E"
    assert {name for name, _ in seen.headers} == {"Host", "X-Caller"}


async def test_a_connection_is_reused_only_after_its_answer_was_read_to_the_end(
    platform: Platform, upstream: passthrough.Passthrough
) -> None:
    peers: list[int] = []

    async def large(request: web.Request) -> web.StreamResponse:
        peers.append(request.transport.get_extra_info("peername")[1] if request.transport else 0)
        return web.Response(body=b"z" * 300_000)

    platform.handler = large
    url = platform.url + "/api/v2/x"
    for _ in range(2):
        async with upstream.send("GET", url, headers=[], body=None, timeout_s=5) as reply:
            while await reply.chunk():
                pass
    async with upstream.send("GET", url, headers=[], body=None, timeout_s=5) as reply:
        assert await reply.prefix(10) == b"z" * 10  # the rest is never read
    async with upstream.send("GET", url, headers=[], body=None, timeout_s=5) as reply:
        await reply.prefix(1 << 20)
    assert peers[0] == peers[1] == peers[2], "read to the end: back to the pool"
    assert peers[3] != peers[2], "left unread: closed, a new connection next time"


async def test_a_refused_connection_is_a_network_error_naming_no_query(upstream: passthrough.Passthrough) -> None:
    async with Platform().running() as gone:
        url = gone.url + "/api/v2/users?secret=shh"
    with pytest.raises(proxying.UpstreamError) as caught:
        async with upstream.send("GET", url, headers=[], body=None, timeout_s=5):
            pass
    assert caught.value.outcome is Outcome.NETWORK_ERROR
    assert "GET http://" in str(caught.value)
    assert "shh" not in str(caught.value)


async def test_a_silent_platform_is_a_timeout(platform: Platform, upstream: passthrough.Passthrough) -> None:
    late = asyncio.Event()

    async def silent(request: web.Request) -> web.StreamResponse:
        await late.wait()
        return await Platform.ok(request)

    platform.handler = silent
    with pytest.raises(proxying.UpstreamError) as caught:
        async with upstream.send("GET", platform.url + "/api/v2/x", headers=[], body=None, timeout_s=0.05):
            pass
    late.set()
    assert caught.value.outcome is Outcome.TIMEOUT


async def test_what_the_caller_raises_inside_the_block_passes_through(
    platform: Platform, upstream: passthrough.Passthrough
) -> None:
    with pytest.raises(ConnectionResetError):
        async with upstream.send("GET", platform.url + "/api/v2/x", headers=[], body=None, timeout_s=5):
            raise ConnectionResetError("the caller went away")
