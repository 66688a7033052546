"""The platform's answer to a proxied request, back to the caller unchanged (design.md §2.9).

Status, headers (minus hop-by-hop ones, any ``X-Grantwarden-*`` and any that would carry the
token) and body go back as they came, plus ``X-Grantwarden-Outcome`` and, for a refusal,
``X-Grantwarden-Fix``. What the answer says is acted on first: a 429's ``Retry-After`` raises the
tenant's floor, a refusal is recorded beside the probes' findings and reported to the tenant's
access object, a pass closes an operation's refusal record. An error answer's first
``PEEK_BYTES`` are read before its headers go out (that is what classification reads); a small
answer of known length goes back in one piece; anything else streams, within
``max_response_bytes``: past it, or when the platform fails midway, the connection is cut, so
the caller never takes half an answer for a whole one. Called by ``proxyforward``.
"""

from __future__ import annotations

from aiohttp import web

from grantwarden.base import clock as clock_mod
from grantwarden.config import proxysettings
from grantwarden.policy import errorbody, forbidden, proxying
from grantwarden.policy.labels import Outcome
from grantwarden.policy.proxying import ProxyOutcome
from grantwarden.surface import proxy, proxyanswers
from grantwarden.surface.proxyanswers import Call, answer

PEEK_BYTES = 64 * 1024  # of an error answer, read before its headers go out: what classify reads
WHOLE_BYTES = 64 * 1024  # an answer of known length up to this goes back in one write
_NO_BODY = frozenset({204, 304})


class Relay:
    """Brings answers back; holds only its settings."""

    def __init__(self, *, config: proxysettings.ProxySettings, clock: clock_mod.Clock) -> None:
        self._limit, self._clock = config.max_response_bytes, clock

    async def back(self, call: Call, reply: proxy.Reply, token: str) -> web.StreamResponse:
        """The answer to ``call``; raises ``UpstreamError`` only while nothing was sent yet."""
        status, length = reply.status, reply.content_length
        if length is not None and length > self._limit:
            message = f"the platform's answer is over {self._limit} bytes (proxy.max_response_bytes)"
            return answer(call.done, 502, ProxyOutcome.RESPONSE_TOO_LARGE, message, where=call.where)
        whole = length is not None and length <= WHOLE_BYTES and call.method != "HEAD" and status not in _NO_BODY
        peek = b""
        if whole or status >= 400:
            peek = await reply.prefix(length if whole and length is not None else PEEK_BYTES)
            if whole and len(peek) != length:
                message = f"the platform's answer ended after {len(peek)} of {length} bytes"
                return answer(call.done, 502, Outcome.NETWORK_ERROR, message, where=call.where)
        headers = proxying.response_headers(reply.headers.items(), token=token)
        outcome, fix = self._observe(call, reply, peek) if status >= 300 else (Outcome.OK, None)
        if status < 300 and call.target.status.traffic:
            call.target.status.saw_traffic_pass(call.operation, self._clock.now())
        call.done.outcome = outcome
        headers.append((proxying.OUTCOME_HEADER, outcome))
        if fix is not None:
            headers.append((proxying.FIX_HEADER, proxying.header_text(fix)))
        if whole:
            return web.Response(status=status, reason=reply.reason, body=peek, headers=headers)
        return await self._stream(call, reply, peek, headers)

    async def _stream(
        self, call: Call, reply: proxy.Reply, peek: bytes, headers: list[tuple[str, str]]
    ) -> web.StreamResponse:
        request, done = call.request, call.done
        response = web.StreamResponse(status=reply.status, reason=reply.reason, headers=headers)
        if reply.content_length is not None:
            response.content_length = reply.content_length
        try:
            await response.prepare(request)
            sent = len(peek)
            if peek:
                await response.write(peek)
            while chunk := await reply.chunk():
                sent += len(chunk)
                if sent > self._limit:
                    done.outcome = ProxyOutcome.RESPONSE_TOO_LARGE
                    return _cut(request, response)
                await response.write(chunk)
            await response.write_eof()
        except proxying.UpstreamError as exc:  # the headers are out: only cutting the connection tells
            done.outcome = exc.outcome
            return _cut(request, response)
        except ConnectionResetError:  # the caller went away; leaving the send block closes the platform's side
            done.outcome = ProxyOutcome.CLIENT_CLOSED
        return response

    def _observe(self, call: Call, reply: proxy.Reply, peek: bytes) -> tuple[proxying.Label, str | None]:
        """Floor, record and report what a non-2xx answer says: its outcome, and a refusal's fix."""
        found = reply.headers
        verdict = forbidden.classify(
            status=reply.status,
            facts=errorbody.parse(peek) if reply.status >= 400 else None,
            retry_after_header=found.get("Retry-After"),
        )
        target, status, now = call.target, reply.status, self._clock.now()
        if status == 429 and verdict.retry_after is not None:
            target.access.gate.hold(now=now, seconds=verdict.retry_after)
        if not proxying.is_refusal(status, verdict.outcome):
            return verdict.outcome, None
        correlation = found.get(proxyanswers.CORRELATION_HEADER)
        proxyanswers.note_refusal(
            target,
            call.operation,
            outcome=verdict.outcome,
            http_status=status,
            now=now,
            verdict=verdict,
            correlation_id=correlation,
        )
        target.access.report_refusal(call.method, call.parsed.path, status, dict(found.items()), peek)
        return verdict.outcome, proxyanswers.refusal_fix(target, call.operation, verdict)


def _cut(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """End a response whose headers are out but whose body cannot be completed: close the
    connection, so the caller sees a truncated answer and never mistakes it for a whole one."""
    if request.transport is not None:
        request.transport.close()
    return response
