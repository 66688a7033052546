"""The in-path proxy's way to the platform: one request, streamed both ways, its bytes untouched.

``transport`` reads whole answers for the daemon's own calls; the proxy (design.md §2.9) needs
the opposite: the caller's body streamed out, the platform's answer streamed back exactly as it
came (no decompression, no added headers: ``Accept``, ``Accept-Encoding``, ``User-Agent`` and
``Content-Type`` are never made up), redirects not followed. Failures become
``proxying.UpstreamError`` (``timeout`` or ``network_error``), so no aiohttp exception
reaches the surface; an answer whose body was not read to the end closes its connection
instead of returning it to the pool. Its own session (``session()``): the daemon's decompresses.
Called by ``surface.proxyforward`` through its ``Upstream`` protocol; wired by ``app.inpath``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, Mapping, Sequence

import aiohttp
import yarl

from grantwarden.policy import proxying
from grantwarden.policy.labels import Outcome

CHUNK_BYTES = 64 * 1024
_SKIPPED = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})


def session(*, connections: int) -> aiohttp.ClientSession:
    """The proxy's session: bodies as sent (no decompression), no cookie jar, keep-alive pool."""
    connector = aiohttp.TCPConnector(limit=connections, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=_SKIPPED,  # once for the session, not per request
    )


@functools.lru_cache(maxsize=16)
def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    """No overall limit (a large body may stream for long): connecting, and every read, within ``seconds``."""
    return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)


class Reply:
    """The platform's answer: status and headers at once, the body as it arrives."""

    __slots__ = ("_finished", "_response", "content_length", "headers", "reason", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._finished = False
        self.status = response.status
        self.reason = response.reason
        self.headers: Mapping[str, str] = response.headers  # case-insensitive, repeated headers kept
        self.content_length = response.content_length

    async def prefix(self, size: int) -> bytes:
        """Up to ``size`` bytes of the body (fewer only at its end): what an error answer says."""
        parts: list[bytes] = []
        wanted = size
        try:
            while wanted > 0 and (part := await self._response.content.read(wanted)):
                parts.append(part)
                wanted -= len(part)
        except _FAILURES as exc:
            raise _failure("reading the answer", exc) from exc
        self._finished = self._response.content.at_eof()
        return b"".join(parts)

    async def chunk(self) -> bytes:
        """The next part of the body as it arrives (at most ``CHUNK_BYTES``); b"" at its end."""
        try:
            part = await self._response.content.read(CHUNK_BYTES)
        except _FAILURES as exc:
            raise _failure("reading the answer", exc) from exc
        if not part:
            self._finished = True
        return part

    def finish(self) -> None:
        """Give the connection back when the body was read to its end; else close it."""
        if self._finished or self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class Passthrough:
    """Sends one proxied request on the proxy's session (``session()``)."""

    def __init__(self, *, session: aiohttp.ClientSession) -> None:
        self._session = session

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Sequence[tuple[str, str]],
        body: bytes | AsyncIterable[bytes] | None,
        timeout_s: float,
    ) -> _Sending:
        """The answer once its status and headers have arrived (``async with``); its connection is
        settled on exit. Only failures of the platform's side become ``UpstreamError``; whatever
        the caller raises inside the block (a client that went away) passes through unchanged."""
        return _Sending(self._session, method, url, headers, body, timeout_s)


class _Sending:
    """``Passthrough.send``'s context manager (a class: this runs for every proxied request)."""

    __slots__ = ("_args", "_reply", "_session")

    def __init__(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: bytes | AsyncIterable[bytes] | None,
        timeout_s: float,
    ) -> None:
        self._session, self._args = session, (method, url, headers, body, timeout_s)
        self._reply: Reply | None = None

    async def __aenter__(self) -> Reply:
        method, url, headers, body, timeout_s = self._args
        try:
            response = await self._session.request(
                method,
                yarl.URL(url, encoded=True),  # byte for byte: never re-quoted or normalised
                headers=headers,
                data=body,
                timeout=_timeout(timeout_s),
                allow_redirects=False,
            )
        except _FAILURES as exc:
            raise _failure(f"{method} {url.split('?', 1)[0]}", exc) from exc
        self._reply = reply = Reply(response)
        return reply

    async def __aexit__(self, *exc_info: object) -> None:
        if self._reply is not None:
            self._reply.finish()


_FAILURES = (aiohttp.ClientError, OSError)  # TimeoutError is an OSError


def _failure(what: str, exc: BaseException) -> proxying.UpstreamError:
    """aiohttp's and the socket's failures as ``UpstreamError`` naming what failed; ``what`` is
    the method and the URL without its query, and aiohttp's messages carry no header value."""
    if isinstance(exc, TimeoutError):
        return proxying.UpstreamError(Outcome.TIMEOUT, f"{what}: no answer in time")
    return proxying.UpstreamError(Outcome.NETWORK_ERROR, f"{what}: {type(exc).__name__}")
