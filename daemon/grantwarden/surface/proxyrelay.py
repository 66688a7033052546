"""The platform's answer to a proxied request, back to the caller unchanged (design.md §2.9).

Status, headers (minus hop-by-hop ones, any ``X-Grantwarden-*`` and any that would carry the
token) and body go back as they came, plus ``X-Grantwarden-Outcome`` and, for a refusal,
``X-Grantwarden-Fix``. A refusal (401, 403, 429, a grant-type 400) is reported to the tenant's
access object, which acts on it as on a hand-off report: a 429's ``Retry-After`` raises the
tenant's floor, a 401 drops the token sent (named by its SHA-256), a 403 is diagnosed and
re-granted in the tenant's own loop; its answer is the fix. The refusal is also recorded beside
the probes' findings; a pass closes an operation's refusal record. A 401 that the request may
be sent again after is not relayed: the forwarder sends it once more. An error answer's first
``PEEK_BYTES`` are read before its headers go out (that is what classification reads); a small
answer of known length goes back in one piece; anything else streams, within
``max_response_bytes``: past it, or when the platform fails midway, the connection is cut, so
the caller never takes half an answer for a whole one. Called by ``proxyforward``.
"""

from __future__ import annotations

from aiohttp import web

from grantwarden.base import clock as clock_mod
from grantwarden.config import proxysettings
from grantwarden.policy import errorbody, forbidden, proxying, traffic
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

    async def back(
        self, call: Call, reply: proxy.Reply, token: str, *, retry: bool = False
    ) -> web.StreamResponse | None:
        """The answer to ``call``; None for a 401 when ``retry`` (the token is dropped: send
        again). Raises ``UpstreamError`` only while nothing was sent yet."""
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
        outcome: proxying.Label = Outcome.OK
        fix = None
        if status >= 300:
            verdict = forbidden.classify(
                status=status,
                facts=errorbody.parse(peek) if status >= 400 else None,
                retry_after_header=reply.headers.get("Retry-After"),
            )
            outcome = verdict.outcome
            if proxying.is_refusal(status, outcome):
                fix = self._report(call, reply, peek, token)
                if retry and outcome is Outcome.UNAUTHORIZED:
                    return None  # the access object dropped the token: the request goes once more
                self._note(call, reply, verdict)
        elif call.target.status.traffic:
            call.target.status.saw_traffic_pass(call.operation, self._clock.now())
        call.done.outcome = outcome
        headers = proxying.response_headers(reply.headers.items(), token=token)
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

    @staticmethod
    def _report(call: Call, reply: proxy.Reply, peek: bytes, token: str) -> str:
        """Tell the tenant's access object (which floors, drops or diagnoses); its fix."""
        access = call.target.access
        assert access is not None  # the forwarder sent nothing for a tenant without one
        report = traffic.Report(
            method=call.method,
            path=call.parsed.upstream,
            status=reply.status,
            headers=reply.headers,
            body=peek,  # the access object reads at most traffic.MAX_BODY of it
            token_sha256=traffic.digest(token),
            proxied=True,
        )
        return access.report_refusal(report).fix

    def _note(self, call: Call, reply: proxy.Reply, verdict: forbidden.Verdict) -> None:
        """The refusal in the tenant's traffic records (and its log line, once per operation)."""
        proxyanswers.note_refusal(
            call.target,
            call.operation,
            outcome=verdict.outcome,
            http_status=reply.status,
            now=self._clock.now(),
            verdict=verdict,
            correlation_id=reply.headers.get(proxyanswers.CORRELATION_HEADER),
        )


def _cut(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """End a response whose headers are out but whose body cannot be completed: close the
    connection, so the caller sees a truncated answer and never mistakes it for a whole one."""
    if request.transport is not None:
        request.transport.close()
    return response
