"""A refusal the integration met, read by the probes' own classifier and acted on by outcome.

The integration reports ``{method, path, status, headers, body}`` of a platform answer it got
(``POST /v1/tenants/{tenant}/refusals``, design.md §2.8), and the in-path proxy reports every
refusal a proxied request met (design.md §2.9: ``Report.proxied``, always naming the token it sent). The
answer is snapshotted and classified exactly as a probe's (``errors.snapshot``,
``verdicts.of_exception``, so the same redaction and ``forbidden.classify``); a hand-off report is
counted in ``grantwarden_refusals_reported_total``, shown and logged (the proxy counts, shows and
logs its own), then, whoever reported it:

* 429: its ``Retry-After`` raises the tenant's gate floor: every request of the tenant waits;
* 401: the current token is dropped and minted again once (``Access.drop``), unless the report
  names another token (``token_sha256``), or, naming none, the current token never went out or
  a blind drop happened within the probe interval; ``ip_not_authorized`` drops nothing (the org's
  IP allowlist refuses the integration's address, not its token);
* a 403 (or a 400 grant-type refusal): kept as an observed probe (``observed``) and the tenant's
  loop woken, at most once per operation per probe interval, to diagnose and maybe re-grant;
* anything else is counted and told, nothing more.

The answer is ``{outcome, finding, fix}`` (plus ``operation`` and ``action``), from the tenant's
findings when they know the operation, else from the diagnosis of this one verdict. No work
of a cycle happens here: a report costs a parse, a classification and a few assignments.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import hmac
from typing import Any, Protocol

import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction
from grantwarden.config import models as settings
from grantwarden.policy import diagnosis, findings, labels, traffic
from grantwarden.policy.forbidden import Verdict
from grantwarden.remote import errors
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import observed, tokenbox, verdicts
from grantwarden.worker import status as health

_HEADER_NAMES = {"retry-after": "Retry-After", errors.CORRELATION_HEADER.lower(): errors.CORRELATION_HEADER}
_LOG = structlog.get_logger("grantwarden.handoff")


class Action(enum.StrEnum):
    DIAGNOSING = "diagnosing"  # the tenant's loop was woken (or is due) to diagnose it
    KNOWN = "known"  # answered from the tenant's findings; diagnosed again after a probe interval
    TOKEN_DROPPED = "token_dropped"
    TOKEN_KEPT = "token_kept"
    GATE_RAISED = "gate_raised"
    NOTED = "noted"


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    outcome: str
    finding: str
    fix: str
    operation: str
    action: Action

    def as_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "finding": self.finding, "fix": self.fix, "operation": self.operation,
                "action": str(self.action)}  # fmt: skip


class Reported(Protocol):
    """What a report needs of the tenant's ``access.Access``."""

    @property
    def name(self) -> str: ...

    @property
    def org_id(self) -> str: ...

    @property
    def tenant(self) -> settings.Tenant: ...

    @property
    def status(self) -> health.TenantStatus: ...

    @property
    def box(self) -> tokenbox.TokenBox: ...

    @property
    def clock(self) -> clock_mod.Clock: ...

    @property
    def metrics(self) -> metrics_mod.Metrics: ...

    @property
    def observed(self) -> observed.Observed: ...

    @property
    def wake(self) -> asyncio.Event: ...

    @property
    def config_path(self) -> str: ...

    @property
    def redactor(self) -> redaction.Redactor: ...

    def gate_hold(self, now: float, seconds: float) -> None: ...

    def drop(self, token: tokenbox.Token, exc: errors.HttpError, *, reason: str) -> None: ...

    def blind_drop_allowed(self, current: tokenbox.Token, now: float) -> bool: ...


def handle(access: Reported, report: traffic.Report) -> Answer:
    path, query = traffic.split(report.path)
    name = traffic.operation(report.method, path)
    headers = {_HEADER_NAMES[k.lower()]: v for k, v in report.headers.items() if k.lower() in _HEADER_NAMES}
    reply = errors.snapshot(
        method=report.method, path=path, status=report.status, headers=headers, body=report.body[: traffic.MAX_BODY],
        redactor=access.redactor,
    )  # fmt: skip
    verdict = verdicts.of_exception(errors.for_reply(reply))
    if not report.proxied:
        access.metrics.tenant(access.name).count_refusal(verdict.outcome)
    if verdict.outcome is labels.Outcome.RATE_LIMITED:
        answer = _rate_limited(access, name, verdict)
    elif verdict.outcome is labels.Outcome.IP_NOT_AUTHORIZED:
        answer = _ip_refused(access, name, verdict)
    elif verdict.outcome is labels.Outcome.UNAUTHORIZED:
        answer = _unauthorized(access, name, verdict, reply, report.token_sha256)
    elif verdict.outcome in traffic.DIAGNOSED:
        fresh = observed.Observation(
            name, report.method, path, traffic.reprobe_path(report.method, path, query), verdict,
            reply.correlation_id, access.clock.now(),
        )  # fmt: skip
        answer = _diagnose(access, fresh)
    else:
        answer = Answer(str(verdict.outcome), _finding(access, name, verdict), _NOT_AUTHZ, name, Action.NOTED)
    if not report.proxied:
        _record(access, report, path, name, verdict, answer)
    return answer


_NOT_AUTHZ = "Nothing about the tenant's authorisation: retry as the platform's answer says."


def _rate_limited(access: Reported, name: str, verdict: Verdict) -> Answer:
    seconds = verdict.retry_after
    finding = f"Tenant {access.name}'s client was rate limited calling {name}."
    if seconds is None:
        fix = "Back off: the answer named no Retry-After, so grantwarden keeps its own schedule."
        return Answer(str(verdict.outcome), finding, fix, name, Action.NOTED)
    access.gate_hold(access.clock.now(), seconds)
    fix = f"Wait {seconds:g} s: grantwarden sends no request of tenant {access.name} before then either."
    return Answer(str(verdict.outcome), finding, fix, name, Action.GATE_RAISED)


def _unauthorized(access: Reported, name: str, verdict: Verdict, reply: errors.Reply, sha256: str | None) -> Answer:
    code = verdict.code or "HTTP 401"
    finding = f"Org {access.org_id}'s API refused tenant {access.name}'s token calling {name} ({code})."
    current, now = access.box.token, access.clock.now()
    if current is None:
        fix = f"Fetch tenant {access.name}'s token again: a new one is on its way."
        return Answer(str(verdict.outcome), finding, fix, name, Action.TOKEN_KEPT)
    if sha256 is not None:
        drop = hmac.compare_digest(traffic.digest(current.value), sha256.strip().lower())
    else:
        drop = access.blind_drop_allowed(current, now)
    if not drop:
        fix = f"Fetch tenant {access.name}'s current token: the one refused is older, or was dropped a moment ago."
        return Answer(str(verdict.outcome), finding, fix, name, Action.TOKEN_KEPT)
    access.drop(current, errors.Unauthorized(reply), reason=f"the integration's {reply.method} {reply.path} met a 401")
    fix = f"Fetch tenant {access.name}'s token again: the refused one was dropped and a new one is minted."
    return Answer(str(verdict.outcome), finding, fix, name, Action.TOKEN_DROPPED)


def _ip_refused(access: Reported, name: str, verdict: Verdict) -> Answer:
    """401 ``ip.not.authorized``: the org's IP allowlist refuses the integration's address; a new
    token would be refused alike, so none is minted."""
    finding = f"Org {access.org_id}'s IP allowlist refuses the integration's address calling {name}."
    fix = f"Allow the integration's egress IP address in org {access.org_id}'s IP allowlist; the token is fine."
    return Answer(str(verdict.outcome), finding, fix, name, Action.NOTED)


def _diagnose(access: Reported, fresh: observed.Observation) -> Answer:
    woken = access.observed.record(fresh, interval_s=access.tenant.probe_interval)
    if woken:
        access.wake.set()
    outcome = str(fresh.verdict.outcome)
    known = next((f for f in access.status.findings if f.probe == fresh.name and f.outcome == outcome), None)
    if known is not None and not woken:
        return Answer(outcome, known.summary, known.fix, fresh.name, Action.KNOWN)
    found = _provisional(access, fresh.name, fresh.verdict)
    return Answer(outcome, found.summary, found.fix, fresh.name, Action.DIAGNOSING)


def _provisional(access: Reported, name: str, verdict: Verdict) -> findings.Finding:
    """The finding of this one verdict before the tenant's cycle plans for it."""
    tenant = access.tenant
    return diagnosis.diagnose(
        tenant=tenant.name, org_id=tenant.org_id, client_id=tenant.credentials.client_id,
        grant_type=tenant.credentials.grant, mode=tenant.regrant.mode, identity_org_id=None, token_problem=None,
        verdicts={name: verdict}, plans={}, config_path=access.config_path, dry_run=tenant.regrant.dry_run,
    ).findings[0]  # fmt: skip


def _finding(access: Reported, name: str, verdict: Verdict) -> str:
    answer = f"HTTP {verdict.status}" + (f" {verdict.code}" if verdict.code else "")
    return f"Org {access.org_id} answered tenant {access.name}'s {name} with {answer}."


def _record(access: Reported, report: traffic.Report, path: str, name: str, verdict: Verdict, answer: Answer) -> None:
    if (record := access.status.handoff) is not None:
        record.refusal = health.RefusalRecord(
            access.clock.now(), name, report.method, path, report.status, str(verdict.outcome), verdict.code,
            str(answer.action),
        )  # fmt: skip
    log = _LOG.warning if verdict.outcome in traffic.DIAGNOSED else _LOG.info
    log(
        "refusal_reported",
        tenant=access.name,
        org_id=access.org_id,
        operation=name,
        method=report.method,
        path=path,
        http_status=report.status,
        outcome=str(verdict.outcome),
        code=verdict.code,
        action=str(answer.action),
    )
