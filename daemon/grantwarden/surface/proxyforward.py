"""One proxied request, from the caller's bytes to the platform and back (design.md §2.7).

Checks, in order, each answered by grantwarden itself and never reaching the platform: the
caller's ``X-Grantwarden-Token`` (constant time), the request target (``allowlist.parse``), the
tenant, the method, the blueprint's ``proxy_allow``, the tenant's identity check, its Retry-After
floor (a local 429 with the time left, so one org's limit holds for all its callers together),
its concurrency (a local 429 at once: no queue hides a burst behind latency), the body's size.
Then the tenant's token goes in ``Authorization``, the request streams out, the answer streams
back unchanged plus ``X-Grantwarden-Outcome``. A 401 drops the token and, for idempotent methods
only, tries once more with a fresh one; a 429 raises the tenant's floor; every refusal is
recorded, fixed in a header and reported to the tenant's access object. Size limits hold while
streaming: a body too large is cut, never buffered whole. Called per request by aiohttp.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from grantwarden.base import clock as clock_mod
from grantwarden.config import proxysettings
from grantwarden.policy import allowlist, errorbody, forbidden, proxying
from grantwarden.policy.labels import Outcome
from grantwarden.policy.proxying import ProxyOutcome
from grantwarden.surface import proxy, proxyanswers
from grantwarden.surface.proxyanswers import Done, answer
from grantwarden.telemetry import metrics as metrics_mod

PEEK_BYTES = 64 * 1024  # of an error answer, read before its headers go out: what classify reads


class _TooLargeError(Exception):
    """The caller's body passed ``max_request_bytes``."""


class _Metered:
    """The caller's body as it arrives, for the platform; cut off past ``limit`` bytes."""

    __slots__ = ("_content", "_limit", "exceeded")

    def __init__(self, content: aiohttp.StreamReader, limit: int) -> None:
        self._content, self._limit, self.exceeded = content, limit, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        while chunk := await self._content.readany():
            size += len(chunk)
            if size > self._limit:
                self.exceeded = True
                raise _TooLargeError
            yield chunk


class Forwarder:
    """The proxy's one handler; per-tenant in-flight counts are its only state."""

    def __init__(
        self,
        *,
        config: proxysettings.ProxySettings,
        token: bytes | None,
        targets: proxy.Targets,
        upstream: proxy.Upstream,
        metrics: metrics_mod.Metrics,
        clock: clock_mod.Clock,
    ) -> None:
        self._config, self._token, self._targets, self._upstream = config, token, targets, upstream
        self._metrics, self._clock = metrics, clock
        self._inflight: dict[str, int] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started, done = self._clock.now(), Done()
        try:
            return await self._checked(request, done)
        finally:  # also when the caller went away and aiohttp cancelled the handler
            done.count(self._metrics, self._clock.now() - started)

    async def _checked(self, request: web.Request, done: Done) -> web.StreamResponse:
        if self._token is not None and not self._authentic(request):
            message = f"send the proxy's bearer token in {proxying.TOKEN_HEADER} (Authorization is the SDK's)"
            return answer(done, 401, ProxyOutcome.UNAUTHENTICATED, message)
        parsed = allowlist.parse(request.raw_path)
        if isinstance(parsed, allowlist.Refusal):
            return answer(done, 400, ProxyOutcome.BAD_TARGET, parsed.detail)
        target, method = self._targets.proxy_target(parsed.tenant), request.method
        if target is None:
            return answer(
                done,
                404,
                ProxyOutcome.UNKNOWN_TENANT,
                "no such tenant on this replica",
                where={"tenant": parsed.tenant},
            )
        done.series = self._metrics.tenant(target.tenant.name)
        where = proxyanswers.where(target, method, parsed.path)
        if method not in allowlist.METHODS:
            return answer(
                done, 405, ProxyOutcome.BAD_METHOD, f"the proxy forwards {', '.join(allowlist.METHODS)}", where=where
            )
        operation = allowlist.operation(method, parsed.segments)
        if not allowlist.allows(target.rules, method, parsed.segments):
            now = self._clock.now()
            proxyanswers.note_refusal(target, operation, outcome=ProxyOutcome.NOT_ALLOWED, http_status=403, now=now)
            fix = proxyanswers.not_allowed_fix(target)
            return answer(
                done, 403, ProxyOutcome.NOT_ALLOWED, "not in the blueprint's proxy_allow", fix=fix, where=where
            )
        return await self._admitted(request, done, target, parsed, operation, where)

    def _authentic(self, request: web.Request) -> bool:
        offered = request.headers.getall(proxying.TOKEN_HEADER, [])
        token = self._token or b""
        return len(offered) == 1 and hmac.compare_digest(offered[0].strip().encode("utf-8", "surrogateescape"), token)

    async def _admitted(
        self,
        request: web.Request,
        done: Done,
        target: proxy.Target,
        parsed: allowlist.Target,
        operation: str,
        where: dict[str, str],
    ) -> web.StreamResponse:
        if not target.status.identity_verified:
            outcome, fix = proxyanswers.identity_problem(target)
            return answer(done, 503, outcome, "the tenant's token is not handed out", fix=fix, where=where)
        left = proxying.held_for(target.access.gate.not_before, self._clock.now())
        if left is not None:
            fix = proxyanswers.held_fix(target)
            return answer(
                done, 429, ProxyOutcome.HELD, "inside the org's Retry-After", fix=fix, where=where, retry_after=left
            )
        name = target.tenant.name
        if self._inflight.get(name, 0) >= self._config.per_tenant_concurrency:
            message = (
                f"{self._config.per_tenant_concurrency} requests of this tenant are in flight (per_tenant_concurrency)"
            )
            return answer(done, 429, ProxyOutcome.BUSY, message, where=where, retry_after=1)
        if (request.content_length or 0) > self._config.max_request_bytes:
            return self._too_large(done, where)
        self._inflight[name] = self._inflight.get(name, 0) + 1
        try:
            return await self._forward(request, done, target, parsed, operation, where)
        finally:
            if (count := self._inflight[name] - 1) > 0:
                self._inflight[name] = count
            else:
                del self._inflight[name]

    def _too_large(self, done: Done, where: dict[str, str]) -> web.Response:
        message = f"request bodies are limited to {self._config.max_request_bytes} bytes (proxy.max_request_bytes)"
        return answer(done, 413, ProxyOutcome.REQUEST_TOO_LARGE, message, where=where)

    async def _body(self, request: web.Request, *, replayable: bool) -> bytes | _Metered | None:
        """None without a body; the whole body (bounded) when it may be sent twice; else a stream."""
        if not request.body_exists:
            return None
        if not replayable:
            return _Metered(request.content, self._config.max_request_bytes)
        parts, size = [], 0
        while chunk := await request.content.readany():
            size += len(chunk)
            if size > self._config.max_request_bytes:
                raise _TooLargeError
            parts.append(chunk)
        return b"".join(parts)

    async def _forward(
        self,
        request: web.Request,
        done: Done,
        target: proxy.Target,
        parsed: allowlist.Target,
        operation: str,
        where: dict[str, str],
    ) -> web.StreamResponse:
        method = request.method
        attempts = 2 if proxying.retried(method) else 1
        try:
            body = await self._body(request, replayable=attempts > 1)
        except _TooLargeError:
            return self._too_large(done, where)
        headers = proxying.request_headers(request.headers.items())
        if isinstance(body, _Metered) and request.content_length is not None:
            headers.append(("Content-Length", str(request.content_length)))  # the caller's framing, kept
        url = target.tenant.api_url + parsed.upstream
        for attempt in range(1, attempts + 1):
            try:
                token = await target.access.token(self._config.timeout)
            except proxy.UnavailableError as exc:
                outcome = proxying.label_of(exc.outcome)
                return answer(done, 503, outcome, "no token for this tenant now", fix=exc.fix, where=where)
            sent = [*headers, ("Authorization", f"Bearer {token}")]
            try:
                async with self._upstream.send(
                    method, url, headers=sent, body=body, timeout_s=self._config.timeout
                ) as reply:
                    if reply.status == 401:
                        target.access.invalidate(token)
                        if attempt < attempts:
                            continue  # the block's exit settles the refused answer's connection
                    return await self._relay(request, done, target, parsed, operation, reply, token)
            except proxying.UpstreamError as exc:
                if isinstance(body, _Metered) and body.exceeded:
                    return self._too_large(done, where)
                status = 504 if exc.outcome is Outcome.TIMEOUT else 502
                return answer(done, status, exc.outcome, f"the platform did not answer: {exc}", where=where)
        raise AssertionError("unreachable: the last attempt always answers")

    async def _relay(
        self,
        request: web.Request,
        done: Done,
        target: proxy.Target,
        parsed: allowlist.Target,
        operation: str,
        reply: proxy.Reply,
        token: str,
    ) -> web.StreamResponse:
        """The platform's answer, streamed back as it came, plus grantwarden's headers."""
        status, limit = reply.status, self._config.max_response_bytes
        peek = await reply.prefix(PEEK_BYTES) if status >= 400 else b""
        found = dict(reply.headers)
        verdict = forbidden.classify(
            status=status,
            facts=errorbody.parse(peek) if status >= 400 else None,
            retry_after_header=found.get("Retry-After"),
        )
        fix = self._observe(request.method, target, parsed, operation, reply, verdict, peek, found)
        if reply.content_length is not None and reply.content_length > limit:
            message = f"the platform's answer is over {limit} bytes (proxy.max_response_bytes)"
            return answer(
                done,
                502,
                ProxyOutcome.RESPONSE_TOO_LARGE,
                message,
                where=proxyanswers.where(target, request.method, parsed.path),
            )
        response = web.StreamResponse(status=status, reason=reply.reason)
        for key, value in proxying.response_headers(reply.headers, token=token):
            response.headers.add(key, value)
        response.headers[proxying.OUTCOME_HEADER] = done.outcome = verdict.outcome
        if fix is not None:
            response.headers[proxying.FIX_HEADER] = proxying.header_text(fix)
        if reply.content_length is not None:
            response.content_length = reply.content_length
        try:
            await response.prepare(request)
            sent = len(peek)
            if peek:
                await response.write(peek)
            while chunk := await reply.chunk():
                sent += len(chunk)
                if sent > limit:
                    done.outcome = ProxyOutcome.RESPONSE_TOO_LARGE
                    return self._cut(request, response)
                await response.write(chunk)
            await response.write_eof()
        except proxying.UpstreamError as exc:  # the headers are out: only cutting the connection tells
            done.outcome = exc.outcome
            return self._cut(request, response)
        except ConnectionResetError:
            done.outcome = (
                ProxyOutcome.CLIENT_CLOSED
            )  # the caller went away; leaving the block closes the platform's side
        return response

    def _observe(
        self,
        method: str,
        target: proxy.Target,
        parsed: allowlist.Target,
        operation: str,
        reply: proxy.Reply,
        verdict: forbidden.Verdict,
        peek: bytes,
        found: dict[str, str],
    ) -> str | None:
        """Floor, record and report what the answer says; the fix for a refusal, else None."""
        now, status = self._clock.now(), reply.status
        if status == 429 and verdict.retry_after is not None:
            target.access.gate.hold(now=now, seconds=verdict.retry_after)
        if not proxying.is_refusal(status, verdict.outcome):
            if 200 <= status < 300 and target.status.traffic:
                target.status.saw_traffic_pass(operation, now)
            return None
        correlation = found.get(proxyanswers.CORRELATION_HEADER)
        proxyanswers.note_refusal(
            target,
            operation,
            outcome=verdict.outcome,
            http_status=status,
            now=now,
            verdict=verdict,
            correlation_id=correlation,
        )
        target.access.report_refusal(method, parsed.path, status, found, peek)
        return proxyanswers.refusal_fix(target, operation, verdict)

    @staticmethod
    def _cut(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        """End a response whose headers are out but whose body cannot be completed: close the
        connection, so the caller sees a truncated answer and never mistakes it for a whole one."""
        if request.transport is not None:
            request.transport.close()
        return response
