"""A tenant's card on the status page: its facts, findings with the exact fix, failing probes, re-grants.

Why apart from the page (``pages``), which groups tenants by state and shows healthy ones as
compact rows: the card is what someone reads at 3 am for a tenant that is not healthy ("what is
wrong and what do I type"), and it grows with every record the status gains (the hand-off's rows
(design.md §2.8), the proxy's refused traffic (design.md §2.9), a Retry-After waited out).

What it must not do: interpolate a value without ``markup.escape``, or read the clock (``now`` is
passed in). Caller: ``pages`` (``card`` and ``waiting_text``).
"""

from __future__ import annotations

from collections.abc import Sequence

from grantwarden.policy import labels
from grantwarden.surface import markup
from grantwarden.worker import status as health

_e = markup.escape
_time = markup.time_element
TITLES = {state: state.value.replace("_", " ") for state in labels.State}


def waiting_text(status: health.TenantStatus, now: float) -> str | None:
    """``waiting out a Retry-After, 20 s more (429 on token)``; None when the tenant waits for none."""
    until = status.waiting_until(now)
    if until is None:
        return None
    by = f" (429 on {status.rate_limited_probe})" if status.rate_limited_probe else ""
    return f"waiting out a Retry-After, {markup.duration_text(until - now)} more{by}"


def _rate_limits(status: health.TenantStatus, now: float) -> str | None:
    """The facts row of a tenant that ever got a 429: waiting now, or when the last one came."""
    if (text := waiting_text(status, now)) is not None:
        return f'<span class="bad">{_e(text)}</span>'
    if not status.rate_limited:
        return None
    last = _time(status.rate_limited_at, now)
    return f"{status.rate_limited} × 429, the last {last} on {_e(status.rate_limited_probe)}"


def _facts(status: health.TenantStatus, now: float) -> str:
    passing = sum(1 for record in status.probes.values() if record.outcome is labels.Outcome.OK)
    client = f'<code>{_e(status.client_id)}</code> <span class="muted">{_e(status.grant)}</span>'
    expiry = markup.expiry_text(status.token_expires_at, now)
    token = _e(f"expires {expiry}" if expiry.startswith("in ") else expiry)
    if status.token_refresh_at is not None:
        token += f", next refresh {_time(status.token_refresh_at, now)}"
    cycles = f"{status.cycles}, last {_time(status.last_cycle_at, now)}, next {_time(status.next_cycle_at, now)}"
    rows = [
        ("org id", f"<code>{_e(status.org_id)}</code>"),
        ("client id", client),
        ("token", token),
        ("probes", f"{passing} of {len(status.probes)} pass"),
        ("cycles", cycles),
    ]
    if (limits := _rate_limits(status, now)) is not None:
        rows.append(("rate limited", limits))
    if status.token_last_error:
        rows.insert(3, ("token error", f'<span class="bad">{_e(status.token_last_error)}</span>'))
    if status.identity_org_id and status.identity_org_id != status.org_id:
        rows.insert(3, ("token acts in", f'<span class="bad"><code>{_e(status.identity_org_id)}</code></span>'))
    rows += _handoff(status.handoff, now)
    return "<dl>" + "".join(f"<dt>{_e(name)}</dt><dd>{value}</dd>" for name, value in rows) + "</dl>"


def _handoff(record: health.HandoffRecord | None, now: float) -> list[tuple[str, str]]:
    """The token hand-off's rows (design.md §2.8): when the token last went out, the last refusal reported."""
    if record is None:
        return []
    rows = [("token handed out", _time(record.handed_out_at, now))]
    if (refusal := record.refusal) is not None:
        what = f"{refusal.method} {refusal.path} → {refusal.http_status} {refusal.code or ''}".rstrip()
        rows.append(
            ("refusal reported", f"{_time(refusal.at, now)}: <code>{_e(what)}</code> <b>{_e(refusal.outcome)}</b> "
             f'<span class="muted">({_e(refusal.action)})</span>')
        )  # fmt: skip
    return rows


def _findings(findings: Sequence[health.FindingRecord]) -> str:
    if not findings:
        return ""
    items = []
    for finding in findings:
        missing = f'<p class="muted">missing: {_e(", ".join(finding.missing))}</p>' if finding.missing else ""
        command = f"<pre><code>{_e(finding.command)}</code></pre>" if finding.command else ""
        where = f"{finding.outcome} on {finding.probe}" if finding.probe else finding.outcome
        items.append(
            f'<li><p>{_e(finding.summary)} <span class="muted">({_e(where)})</span></p>'
            f'{missing}<p class="fix">Fix: {_e(finding.fix)}</p>{command}</li>'
        )
    return f'<section class="findings"><h4>Findings</h4><ol>{"".join(items)}</ol></section>'


def _probes(status: health.TenantStatus, now: float) -> str:
    failing = sorted((r for r in status.probes.values() if r.outcome is not labels.Outcome.OK), key=lambda r: r.probe)
    rows = [
        (_e(r.probe), f"<b>{_e(r.outcome)}</b>", _e(r.http_status), _e(r.code), _e(r.message), _time(r.at, now))
        for r in failing
    ]
    return markup.table("Failing probes", ("probe", "outcome", "HTTP", "code", "message", "when"), rows)


def _regrants(status: health.TenantStatus, now: float) -> str:
    rows = [
        (_time(r.at, now), f"<b>{_e(r.result)}</b>", _e(", ".join(r.added)), _e(r.detail), _e(r.correlation_id))
        for r in reversed(status.regrants)
    ]
    return markup.table("Last re-grants", ("when", "result", "added", "detail", "correlation id"), rows)


def _traffic(status: health.TenantStatus, now: float) -> str:
    """Refusals the in-path proxy saw (design.md §2.9), beside the probes' findings."""
    rows = [
        (
            f"<code>{_e(r.operation)}</code>",
            f"<b>{_e(r.outcome)}</b>",
            _e(r.http_status),
            _e(r.code),
            _e(r.message),
            _e(r.count),
            _time(r.at, now),
            f"passed {_time(r.passed_at, now)}"
            if r.passed_at is not None
            else '<span class="bad">still refused</span>',
        )
        for r in reversed(status.traffic)
    ]
    heads = ("operation", "outcome", "HTTP", "code", "message", "count", "last", "since")
    return markup.table("Refused in proxied traffic", heads, rows)


def card(status: health.TenantStatus, now: float) -> str:
    return (
        f'<article class="tenant s-{_e(status.state)}" id="tenant-{_e(status.tenant)}">'
        f'<h3>{_e(status.tenant)} <span class="badge s-{_e(status.state)}">{_e(TITLES[status.state])}</span> '
        f'<span class="muted">since {_time(status.state_since, now)}</span></h3>'
        f"{_facts(status, now)}{_findings(status.findings)}{_probes(status, now)}{_regrants(status, now)}"
        f"{_traffic(status, now)}</article>"
    )
