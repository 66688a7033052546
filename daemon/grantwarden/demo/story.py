"""What ``grantwarden demo`` prints: a banner, tenant statuses as sentences, a closing table.

The demo polls the daemon's own status records (the data behind ``/status``) and prints what
changed since the last look: a state change with its reason (and the fix when a person must
act), each new re-grant record (planned, applied, verified, refused, failed), and each new 429.
Reading the status instead of the log stream keeps the demo independent of logging: the JSON
log goes to a file, the terminal gets sentences. Everything here is a pure function of the
records and the demo's start time, so the tests feed it tables. ``demo`` calls it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from grantwarden.policy import labels
from grantwarden.worker import status as health

NAME_WIDTH = 20
STATE_WIDTH = 16


@dataclasses.dataclass(frozen=True, slots=True)
class Seen:
    """One tenant as the demo last saw it: only what its lines are made of."""

    tenant: str
    state: str
    state_since: float | None
    findings: tuple[health.FindingRecord, ...]
    regrants: tuple[health.RegrantRecord, ...]  # oldest first
    limited: int  # 429 answers so far
    limited_at: float | None
    limited_probe: str | None
    retry_after: float | None
    cycles: int


def seen(status: health.TenantStatus) -> Seen:
    return Seen(
        tenant=status.tenant,
        state=str(status.state),
        state_since=status.state_since,
        findings=status.findings,
        regrants=tuple(status.regrants),
        limited=status.rate_limited,
        limited_at=status.rate_limited_at,
        limited_probe=status.rate_limited_probe,
        retry_after=status.rate_limited_retry_after,
        cycles=status.cycles,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Line:
    at: float  # when it happened (epoch seconds, the daemon's clock): lines print in this order
    tenant: str
    text: str


def changes(before: Seen | None, after: Seen) -> list[Line]:
    """The lines for what happened to one tenant between two looks, oldest first."""
    lines: list[Line] = []
    if before is None or before.state != after.state:
        lines += _state_lines(after)
    known = set(before.regrants) if before is not None else set()
    lines += [_regrant_line(after.tenant, r) for r in after.regrants if r not in known]
    if after.limited > (before.limited if before is not None else 0):
        lines.append(_limited_line(after))
    return sorted(lines, key=lambda line: line.at)


def _state_lines(after: Seen) -> list[Line]:
    at = after.state_since or 0.0
    first = after.findings[0] if after.findings else None
    state = after.state
    if state == labels.State.STARTING:
        return []
    if state == labels.State.HEALTHY:
        return [Line(at, after.tenant, "healthy: every probe passes")]
    reason = first.summary if first is not None else "no finding recorded"
    if state == labels.State.REMEDIATING:  # the findings are those the re-grant answers
        return [Line(at, after.tenant, f"remediating: {reason}")]
    lines = [Line(at, after.tenant, f"{state.replace('_', ' ')}: {reason}")]
    if state == labels.State.NEEDS_ATTENTION and first is not None and first.fix:
        lines.append(Line(at, after.tenant, f"  fix: {first.fix}"))
    return lines


def _regrant_line(tenant: str, record: health.RegrantRecord) -> Line:
    detail = record.detail.removeprefix("verified: ")
    return Line(record.at, tenant, f"re-grant {record.result}: {detail}")


def _limited_line(after: Seen) -> Line:
    wait = f" (Retry-After {after.retry_after:g} s)" if after.retry_after is not None else ""
    text = f"rate limited: 429 on {after.limited_probe}{wait}; every request of this tenant waits it out"
    return Line(after.limited_at or 0.0, after.tenant, text)


def banner(
    *, duration_s: float | None, places: Mapping[str, str], notes: Mapping[str, str], defaults: Mapping[str, Any]
) -> list[str]:
    """Where to look (status page, /metrics, ...) and what each tenant is there to show."""
    until = f"for {duration_s:g} s" if duration_s is not None else "until Ctrl-C"
    return [
        f"grantwarden demo: {len(notes)} tenants on the embedded Genesys Cloud simulator "
        f"(the built-in demo world), running {until} (Ctrl-C ends it sooner)",
        *(f"  {label:<14} {value}" for label, value in places.items()),
        f"Probes every {defaults['probe_interval']}; re-grants settle within {defaults['regrant']['settle_timeout']}. "
        "The tenants, as the scenario describes them:",
        *(f"  {name:<{NAME_WIDTH}} {note}" for name, note in notes.items()),
        "",
    ]


def render(line: Line, *, started_at: float) -> str:
    """``[  12.3s] acme-eu              text``: time since the demo started, tenant, sentence."""
    return f"[{max(0.0, line.at - started_at):6.1f}s] {line.tenant:<{NAME_WIDTH}} {line.text}"


def summary_row(last: Seen) -> tuple[str, str, str]:
    """(tenant, state, one line): the fix when a person must act, else what grantwarden did."""
    verified = [r for r in last.regrants if r.result is labels.RegrantResult.VERIFIED]
    applied = [r for r in last.regrants if r.result is labels.RegrantResult.APPLIED]
    first = last.findings[0] if last.findings else None
    if last.state == labels.State.NEEDS_ATTENTION and first is not None:
        text = f"{first.outcome}: {first.fix or first.summary}"
    elif first is not None:
        text = f"{first.outcome}: {first.summary}"
    elif verified:
        text = "re-granted and verified: " + verified[-1].detail.removeprefix("verified: ")
    elif applied:
        text = "re-granted: " + applied[-1].detail
    elif last.cycles == 0:
        text = "no probe cycle has finished yet"
    else:
        text = "every probe passes"
    return last.tenant, last.state, text


def table(rows: Iterable[tuple[str, str, str]]) -> list[str]:
    head = f"{'tenant':<{NAME_WIDTH}} {'state':<{STATE_WIDTH}} finding / fix"
    body = [f"{name:<{NAME_WIDTH}} {state:<{STATE_WIDTH}} {text}" for name, state, text in rows]
    return [head, "-" * len(head), *body]


def summary(last: Mapping[str, Seen], order: Sequence[str]) -> list[str]:
    """The closing table, tenants in the scenario's order."""
    return table(summary_row(last[name]) for name in order if name in last)
