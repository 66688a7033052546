"""One proxied request, from the caller's bytes to the platform (design.md §2.9).

Checks, in order, each answered by grantwarden itself and never reaching the platform: the
caller's ``X-Grantwarden-Token`` (constant time), the request target (``allowlist.parse``), the
tenant, the method, the blueprint's ``proxy_allow``, the tenant's identity check, its Retry-After
floor (a local 429 with the time left, so one org's limit holds for all its callers together),
its concurrency (a local 429 at once: no queue hides a burst behind latency), the body's size.
Then the tenant's token (from its access object, ``proxy.Access``) goes in ``Authorization``
and the request streams out; ``proxyrelay`` brings the answer back and reports a refusal to the
access object. A 401 (the access object drops the token) sends an idempotent request once more
with the next token. A body too large is cut while it streams, never buffered whole (a
request that may be sent twice is read first, within ``max_request_bytes``). Called per request
by aiohttp (``proxylistener``).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator

import aiohttp
import structlog
from aiohttp import web

from grantwarden.base import clock as clock_mod
from grantwarden.config import proxysettings
from grantwarden.policy import allowlist, proxying, traffic
from grantwarden.policy.labels import Outcome
from grantwarden.policy.proxying import ProxyOutcome
from grantwarden.surface import proxy, proxyanswers, proxyrelay
from grantwarden.surface.proxyanswers import Call, Done, answer
from grantwarden.telemetry import metrics as metrics_mod

_log = structlog.get_logger("grantwarden.proxy")


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
        self._relay = proxyrelay.Relay(config=config, clock=clock)
        self._inflight: dict[str, int] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started, done = self._clock.now(), Done()
        try:
            return await self._checked(request, done)
        except Exception:  # noqa: BLE001 - the boundary: log it (redacted), answer without details
            _log.error("proxy_error", method=request.method, path=request.path, exc_info=True)
            return answer(done, 503, ProxyOutcome.INTERNAL, "internal error; the daemon's log has the details")
        finally:  # also when the caller went away and aiohttp cancelled the handler
            done.count(self._metrics, self._clock.now() - started)

    async def _checked(self, request: web.Request, done: Done) -> web.StreamResponse:
        if self._token is not None and not self._authentic(request):
            message = f"send the proxy's bearer token in {proxying.TOKEN_HEADER} (Authorization is the SDK's)"
            return answer(done, 401, ProxyOutcome.UNAUTHENTICATED, message)
        parsed = allowlist.parse(request.raw_path)
        if isinstance(parsed, allowlist.Refusal):
            return answer(done, 400, ProxyOutcome.BAD_TARGET, parsed.detail)
        target = self._targets.proxy_target(parsed.tenant)
        if target is None:
            message, where = "no such tenant on this replica", {"tenant": parsed.tenant}
            return answer(done, 404, ProxyOutcome.UNKNOWN_TENANT, message, where=where)
        done.series = self._metrics.tenant(target.tenant.name)
        call = Call(request, done, parsed, target)
        if call.method not in allowlist.METHODS:
            message = f"the proxy forwards {', '.join(allowlist.METHODS)}"
            return answer(done, 405, ProxyOutcome.BAD_METHOD, message, where=call.where)
        if not allowlist.allows(target.rules, call.method, parsed.segments):
            now = self._clock.now()
            proxyanswers.note_refusal(
                target, call.operation, outcome=ProxyOutcome.NOT_ALLOWED, http_status=403, now=now
            )
            fix = proxyanswers.not_allowed_fix(target)
            message = "not in the blueprint's proxy_allow"
            return answer(done, 403, ProxyOutcome.NOT_ALLOWED, message, fix=fix, where=call.where)
        return await self._admitted(call)

    def _authentic(self, request: web.Request) -> bool:
        offered = request.headers.getall(proxying.TOKEN_HEADER, [])
        token = self._token or b""
        return len(offered) == 1 and hmac.compare_digest(offered[0].strip().encode("utf-8", "surrogateescape"), token)

    async def _admitted(self, call: Call) -> web.StreamResponse:
        target, done, limit = call.target, call.done, self._config.per_tenant_concurrency
        if target.access is None:
            return proxyanswers.not_running(done, target, call.where)
        if (reason := target.access.why_not()) is not None:
            return proxyanswers.not_ready(done, reason, call.where, self._clock.now())
        floor = target.status.floor
        left = proxying.held_for(floor.not_before, self._clock.now()) if floor is not None else None
        if left is not None:
            fix, message = proxyanswers.held_fix(target), "inside the org's Retry-After"
            return answer(done, 429, ProxyOutcome.HELD, message, fix=fix, where=call.where, retry_after=left)
        name = target.tenant.name
        if self._inflight.get(name, 0) >= limit:
            message = f"{limit} requests of this tenant are in flight (per_tenant_concurrency)"
            return answer(done, 429, ProxyOutcome.BUSY, message, where=call.where, retry_after=1)
        if (call.request.content_length or 0) > self._config.max_request_bytes:
            return self._too_large(call)
        self._inflight[name] = self._inflight.get(name, 0) + 1
        try:
            return await self._forward(call)
        finally:
            if (count := self._inflight[name] - 1) > 0:
                self._inflight[name] = count
            else:
                del self._inflight[name]

    def _too_large(self, call: Call) -> web.Response:
        message = f"request bodies are limited to {self._config.max_request_bytes} bytes (proxy.max_request_bytes)"
        return answer(call.done, 413, ProxyOutcome.REQUEST_TOO_LARGE, message, where=call.where)

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

    async def _forward(self, call: Call) -> web.StreamResponse:
        request, target, method, access = call.request, call.target, call.method, call.target.access
        assert access is not None  # _admitted answered for a tenant without one
        attempts = 2 if proxying.retried(method) else 1
        try:
            body = await self._body(request, replayable=attempts > 1)
        except _TooLargeError:
            return self._too_large(call)
        headers = proxying.request_headers(request.headers.items())
        if isinstance(body, _Metered) and request.content_length is not None:
            headers.append(("Content-Length", str(request.content_length)))  # the caller's framing, kept
        url, timeout = target.api_url + call.parsed.upstream, self._config.timeout
        for attempt in range(1, attempts + 1):
            try:
                token = (await access.current(timeout)).value
            except traffic.NotReadyError as reason:
                return proxyanswers.not_ready(call.done, reason, call.where, self._clock.now())
            sent = [*headers, ("Authorization", f"Bearer {token}")]
            try:
                async with self._upstream.send(method, url, headers=sent, body=body, timeout_s=timeout) as reply:
                    response = await self._relay.back(call, reply, token, retry=attempt < attempts)
                if response is not None:
                    return response
            except proxying.UpstreamError as exc:
                if isinstance(body, _Metered) and body.exceeded:
                    return self._too_large(call)
                status, message = 504 if exc.outcome is Outcome.TIMEOUT else 502, f"the platform did not answer: {exc}"
                return answer(call.done, status, exc.outcome, message, where=call.where)
        raise AssertionError("unreachable: the last attempt always answers")
