"""What the in-path proxy says and remembers: its own answers, fixes, traffic refusals, metrics.

Every answer grantwarden gives in place of the platform (design.md §2.9) is JSON
``{"error": OUTCOME, "message", "tenant", "method", "path", "fix"}`` with
``X-Grantwarden-Outcome`` and, for refusals, ``X-Grantwarden-Fix``; a refusal forwarded from the
platform keeps its body and gains the same two headers, the fix being the one the tenant's
access object answers its report with (the tenant's finding, or the diagnosis of this refusal).
A refusal in traffic is recorded beside the probes' findings (``TenantStatus.traffic``) and
logged once per operation and outcome (``proxy_refused``); every request is counted per tenant
and outcome and timed per outcome. Nothing here ever sees a token. Called by ``proxyforward``
and ``proxyrelay``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping

import structlog
from aiohttp import web

from grantwarden.policy import allowlist, proxying, traffic
from grantwarden.policy.forbidden import Verdict
from grantwarden.surface import proxy
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.telemetry import series
from grantwarden.worker import status as health

_log = structlog.get_logger("grantwarden.proxy")
CORRELATION_HEADER = "ININ-Correlation-Id"  # platform.md §4.1


@dataclasses.dataclass(slots=True)
class Done:
    """How one request ended, filled in as it goes; counted once when its handler returns."""

    outcome: proxying.Label = proxying.ProxyOutcome.CLIENT_CLOSED  # until an answer is chosen
    series: series.TenantSeries | None = None  # the tenant's, once the request named an owned one

    def count(self, metrics: metrics_mod.Metrics, seconds: float) -> None:
        if self.series is not None:
            self.series.count_proxy_request(self.outcome)
        metrics.proxy_duration_of(self.outcome).observe(seconds)


class Call:
    """One proxied request as it goes: what was asked, of which tenant, and how it ended.

    The operation's name and the fields of an answer are made only when something needs them:
    a request that simply passes never builds either."""

    __slots__ = ("_operation", "done", "method", "parsed", "request", "target")

    def __init__(self, request: web.Request, done: Done, parsed: allowlist.Target, target: proxy.Target) -> None:
        self.request, self.done, self.parsed, self.target = request, done, parsed, target
        self.method = request.method
        self._operation: str | None = None

    @property
    def operation(self) -> str:
        if self._operation is None:
            self._operation = allowlist.operation(self.method, self.parsed.segments)
        return self._operation

    @property
    def where(self) -> dict[str, str]:
        return {"tenant": self.target.tenant.name, "method": self.method, "path": self.parsed.path}


def answer(
    done: Done,
    status: int,
    outcome: proxying.Label,
    message: str,
    *,
    fix: str | None = None,
    where: Mapping[str, str] | None = None,
    retry_after: float | None = None,
) -> web.Response:
    """grantwarden's own answer: JSON naming the outcome, what happened and (when known) the fix."""
    done.outcome = outcome
    body = {"error": str(outcome), "message": message, **(where or {})}
    headers = {proxying.OUTCOME_HEADER: str(outcome), "Cache-Control": "no-store"}
    if fix is not None:
        body["fix"] = fix
        headers[proxying.FIX_HEADER] = proxying.header_text(fix)
    if retry_after is not None:
        headers["Retry-After"] = proxying.retry_after(retry_after)
    text = json.dumps(body).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return web.Response(status=status, text=text, content_type="application/json", headers=headers)


def not_allowed_fix(target: proxy.Target) -> str:
    return f"add it to blueprints.{target.blueprint}.proxy_allow in {target.config_path}"


def held_fix(target: proxy.Target) -> str:
    return (
        f"org {target.tenant.org_id} asked grantwarden to wait (429 Retry-After); every caller of tenant "
        f"{target.tenant.name} waits with it: retry after Retry-After seconds."
    )


def not_ready(done: Done, reason: traffic.NotReadyError, where: Mapping[str, str], now: float) -> web.Response:
    """503: the tenant's token may not go out now (its access object says why, with the fix, and
    when to ask again); the platform is not asked."""
    outcome = proxying.not_ready(reason.error, reason.outcome)
    at = reason.retry_at
    retry_after = max(at - now, 0.0) if at is not None and math.isfinite(at) else None  # at least 1 s as sent
    message = _NOT_READY.get(reason.error, "no token for this tenant now")
    return answer(done, 503, outcome, message, fix=reason.fix, where=where, retry_after=retry_after)


_NOT_READY = {
    "wrong_org": "the tenant's token is not handed out",
    "identity_not_verified": "the tenant's token is not handed out",
    "not_running": "the tenant's worker is not running",
}


def not_running(done: Done, target: proxy.Target, where: Mapping[str, str]) -> web.Response:
    """503: the tenant's worker is starting or restarting: no access object to ask."""
    name = target.tenant.name
    fix = f"Tenant {name}'s worker is not running (starting, or restarting after a crash): see /status/{name}."
    return answer(done, 503, proxying.ProxyOutcome.UNAVAILABLE, _NOT_READY["not_running"], fix=fix, where=where)


def note_refusal(
    target: proxy.Target,
    operation: str,
    *,
    outcome: str,
    http_status: int,
    now: float,
    verdict: Verdict | None = None,
    correlation_id: str | None = None,
) -> None:
    """Record a refusal in the tenant's traffic records; log it when new for its operation."""
    kept = target.status.saw_traffic_refusal(
        health.TrafficRecord(
            operation=operation,
            outcome=str(outcome),
            http_status=http_status,
            code=verdict.code if verdict else None,
            message=verdict.message if verdict else None,
            count=1,
            first_at=now,
            at=now,
            correlation_id=correlation_id,
        )
    )
    if kept.count == 1:
        _log.warning(
            "proxy_refused",
            tenant=target.tenant.name,
            operation=operation,
            outcome=str(outcome),
            http_status=http_status,
            code=kept.code,
            message=kept.message,
            correlation_id=correlation_id,
        )
