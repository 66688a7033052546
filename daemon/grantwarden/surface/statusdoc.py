"""The ``/status`` document, streamed: tenants in order, counted per state, a chunk per turn of the loop.

Why apart from the routes (``server``): ``/status`` of 10,000 tenants is megabytes of JSON, built
in one go it stalled every probe and refresh for the better part of a second; writing it in
pieces (``pieces``, ``stream_tenants``) that join to exactly ``wire.dumps`` of the whole is its
own concern, and tested as such. ``sort_key`` puts ``needs_attention`` first; ``counts`` has every
state, 0 included. Each tenant object is ``statusjson.tenant_json``.

What it must not do: read the backend or decide what a request may see (``server`` passes the
head and the tenants), or answer an error once the headers are out (it cuts the connection).
Caller: ``server``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import structlog
from aiohttp import web

from grantwarden.base import clock as clock_mod
from grantwarden.policy import labels
from grantwarden.surface import wire
from grantwarden.worker import status as health
from grantwarden.worker import statusjson

STATUS_CHUNK = 500  # tenants serialised per turn of the event loop

_log = structlog.get_logger("grantwarden.server")


def sort_key(status: health.TenantStatus) -> tuple[bool, str]:
    """``needs_attention`` first, then by name: what an operator or a script should look at first."""
    return (status.state is not labels.State.NEEDS_ATTENTION, status.tenant)


def counts(statuses: Iterable[health.TenantStatus]) -> dict[str, int]:
    """Tenants per state, every state present (0 included) so consumers need no defaults."""
    tally = dict.fromkeys((str(state) for state in labels.State), 0)
    for status in statuses:
        tally[str(status.state)] += 1
    return tally


def pieces(
    head: Mapping[str, Any], statuses: Sequence[health.TenantStatus], *, now: float | None = None
) -> Iterator[str]:
    """``dumps({**head, "tenants": [...]})`` in pieces, each tenant serialised only when its piece is
    due: the head up to ``"tenants": [``, one piece per ``STATUS_CHUNK`` tenants, then ``]}``.
    Joined, they are that ``dumps`` byte for byte (its separators are ``", "`` and ``": "``).
    ``now``: the clock's, for the Retry-After a tenant is waiting out."""
    yield "{" + "".join(f"{wire.dumps(key)}: {wire.dumps(value)}, " for key, value in head.items()) + '"tenants": ['
    for start in range(0, len(statuses), STATUS_CHUNK):
        chunk = statuses[start : start + STATUS_CHUNK]
        yield (", " if start else "") + ", ".join(
            wire.dumps(statusjson.tenant_json(status, now=now)) for status in chunk
        )
    yield "]}"


async def stream_tenants(
    request: web.Request, head: Mapping[str, Any], statuses: list[health.TenantStatus], *, clock: clock_mod.Clock
) -> web.StreamResponse:
    """``head`` plus ``"tenants"`` (last), written ``STATUS_CHUNK`` tenants per turn of the loop.

    ``/status`` of 10,000 tenants is megabytes of JSON: built in one go (or in a thread, which
    holds the GIL as long) it stalled every probe and refresh for the better part of a second.
    Once the headers are out no error answer can follow, so a failure mid-document is logged and
    the connection cut: a client never mistakes half a document for a whole one. A document of
    one chunk has no turn of the loop to give, so it goes out whole, with a Content-Length.
    """
    now = clock.now()
    if len(statuses) <= STATUS_CHUNK:
        return web.Response(text="".join(pieces(head, statuses, now=now)), content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    await response.prepare(request)
    try:
        for index, piece in enumerate(pieces(head, statuses, now=now)):
            await response.write(piece.encode())  # waits while the client is slow to read
            if index:
                await clock.sleep(0)  # a turn of the loop between chunks of tenants
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away: there is no one left to answer
    except Exception:  # noqa: BLE001 - the headers are sent: log it (redacted) and cut the connection
        _log.error("http_error", method=request.method, path=request.path, exc_info=True)
        if request.transport is not None:
            request.transport.close()
    return response
