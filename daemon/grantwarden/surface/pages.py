"""The HTML status page (``GET /``): the ``/status`` data for a person, at 3 am, without JavaScript.

Tenants are grouped by how urgently someone must act (needs_attention first, healthy last); a
tenant that is not healthy shows its findings with the exact fix, its failing probes and its
recent re-grants, so the page answers "what is wrong and what do I type" without a second tool.
Healthy and starting tenants get one compact row each. A group shows at most ``MAX_PER_GROUP``
tenants, so a fleet-wide outage does not produce a page the browser cannot open; ``/status``
always has everything. A tenant waiting out a Retry-After says so (how much longer, and which
request got the 429) wherever it is listed, healthy or not; a configuration reload that failed
opens the page, with its problems, since the tenants below then run on the previous file.

Every value is untrusted (tenant names come from configuration, messages from the platform) and
goes through ``_e`` (``html.escape``) on its way into the markup; nothing else is interpolated.
The page loads nothing (no scripts, no external assets) and refreshes itself every 10 s, which
lets the server send ``Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'``.
Rendering is a pure function of the statuses and ``now``; ``server`` calls it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from grantwarden.policy import labels
from grantwarden.worker import status as health
from grantwarden.worker import statusjson

S = labels.State
STATE_ORDER = (S.NEEDS_ATTENTION, S.DEGRADED, S.REMEDIATING, S.UNREACHABLE, S.STARTING, S.HEALTHY)
TITLES = {state: state.value.replace("_", " ") for state in S}
COMPACT = frozenset({S.STARTING, S.HEALTHY})
MAX_PER_GROUP = 250
REFRESH_S = 10

_CSS = """
:root{--fg:#1d2939;--muted:#667085;--bg:#f9fafb;--card:#fff;--line:#eaecf0;
--needs_attention:#b42318;--degraded:#b54708;--remediating:#175cd3;--unreachable:#6941c6;
--starting:#475467;--healthy:#067647}
@media (prefers-color-scheme:dark){:root{--fg:#e4e7ec;--muted:#98a2b3;--bg:#101828;--card:#1d2939;
--line:#344054;--needs_attention:#f97066;--degraded:#fdb022;--remediating:#53b1fd;--unreachable:#9e77ed;
--starting:#98a2b3;--healthy:#32d583}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:72rem;padding:1rem 1.5rem 3rem;font:15px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{margin:.2rem 0;font-size:1.5rem}h1 small,.muted,.meta{color:var(--muted);font-weight:normal}
h2{margin:2rem 0 .6rem;font-size:1.15rem;border-bottom:2px solid currentColor;padding-bottom:.2rem}
h3{margin:0 0 .4rem;font-size:1.05rem}h4{margin:.9rem 0 .3rem;font-size:.9rem;color:var(--muted)}
.counts{display:flex;flex-wrap:wrap;gap:.5rem;padding:0;list-style:none}
.counts li{padding:.3rem .7rem;border-radius:1rem;background:var(--card);border:1px solid var(--line)}
.counts li.zero{opacity:.45}.counts b{font-size:1.1rem}
.tenant{background:var(--card);border:1px solid var(--line);border-left:5px solid currentColor;
border-radius:6px;padding:.8rem 1rem;margin:.7rem 0}
.tenant>*{color:var(--fg)}
.badge{font-size:.8rem;font-weight:600;text-transform:uppercase;letter-spacing:.03em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:0}dt{color:var(--muted)}dd{margin:0}
table{border-collapse:collapse;width:100%;background:var(--card);font-size:.9rem}
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid var(--line)}
th{color:var(--muted);font-weight:600}code,pre{font:.85rem/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:var(--bg);border:1px solid var(--line);border-radius:4px;padding:.5rem;white-space:pre-wrap}
.findings li{margin-bottom:.6rem}.findings p{margin:.1rem 0}.fix{font-weight:600}.bad{color:var(--needs_attention)}
.s-needs_attention{color:var(--needs_attention)}.s-degraded{color:var(--degraded)}.s-healthy{color:var(--healthy)}
.s-remediating{color:var(--remediating)}.s-unreachable{color:var(--unreachable)}.s-starting{color:var(--starting)}
.alert{border:1px solid var(--needs_attention);border-left-width:5px;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
"""


def _e(value: object) -> str:
    """Escape anything for HTML text and attribute values; None shows as a dash."""
    return "—" if value is None else html.escape(str(value), quote=True)


def duration_text(seconds: float) -> str:
    """``42 s``, ``5 min``, ``17 h 3 min``, ``2 d 4 h``: coarse enough to read at a glance."""
    whole = int(abs(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def relative(at: float | None, now: float, *, never: str = "never") -> str:
    if at is None:
        return never
    return f"in {duration_text(at - now)}" if at > now else f"{duration_text(now - at)} ago"


def expiry_text(expires_at: float | None, now: float) -> str:
    """``in 17 h 3 min`` or ``expired 5 min ago``: a token at its expiry instant is expired."""
    if expires_at is None:
        return "no token yet"
    if expires_at > now:
        return f"in {duration_text(expires_at - now)}"
    return f"expired {duration_text(now - expires_at)} ago"


def _time(at: float | None, now: float) -> str:
    stamp = statusjson.iso(at)
    if stamp is None:
        return "—"
    return f'<time datetime="{_e(stamp)}" title="{_e(stamp)}">{_e(relative(at, now))}</time>'


def order(statuses: Iterable[health.TenantStatus]) -> dict[labels.State, list[health.TenantStatus]]:
    """Tenants grouped by state in ``STATE_ORDER``, each group sorted by name; empty groups left out."""
    groups: dict[labels.State, list[health.TenantStatus]] = {state: [] for state in STATE_ORDER}
    for status in statuses:
        groups[status.state].append(status)
    return {state: sorted(group, key=lambda s: s.tenant) for state, group in groups.items() if group}


def _header(
    *, version: str, shard: str, ready: bool, counts: dict[labels.State, int], now: float, notes: str = ""
) -> str:
    pills = "".join(
        f'<li class="s-{state}{" zero" if not counts.get(state) else ""}">'
        f"<b>{counts.get(state, 0)}</b> {_e(TITLES[state])}</li>"
        for state in STATE_ORDER
    )
    readiness = "ready" if ready else "starting: first cycles still running"
    return (
        f"<header><h1>grantwarden <small>{_e(version)}</small></h1>"
        f'<p class="meta">{_e(shard)} · {_e(readiness)}{notes} · generated {_e(statusjson.iso(now))} · '
        f"this page refreshes every {REFRESH_S} s</p>"
        f'<ul class="counts">{pills}</ul></header>'
    )


# --- waiting out Retry-After, and the configuration's last reload ---


def waiting_text(status: health.TenantStatus, now: float) -> str | None:
    """``waiting out a Retry-After, 20 s more (429 on token)``; None when the tenant waits for none."""
    until = status.waiting_until(now)
    if until is None:
        return None
    by = f" (429 on {status.rate_limited_probe})" if status.rate_limited_probe else ""
    return f"waiting out a Retry-After, {duration_text(until - now)} more{by}"


def _waiting(status: health.TenantStatus, now: float) -> str:
    text = waiting_text(status, now)
    return f' <span class="bad">· {_e(text)}</span>' if text else ""


def _rate_limits(status: health.TenantStatus, now: float) -> str | None:
    """The facts row of a tenant that ever got a 429: waiting now, or when the last one came."""
    if (text := waiting_text(status, now)) is not None:
        return f'<span class="bad">{_e(text)}</span>'
    if not status.rate_limited:
        return None
    last = _time(status.rate_limited_at, now)
    return f"{status.rate_limited} × 429, the last {last} on {_e(status.rate_limited_probe)}"


def _reload_banner(record: health.ReloadRecord | None, now: float) -> str:
    """A failed reload, first thing on the page: the tenants below run on the previous file."""
    if record is None or record.ok:
        return ""
    what = "was valid but not applied" if record.refused else "was not applied"
    problems = "".join(f"<li><code>{_e(problem)}</code></li>" for problem in record.problems)
    return (
        f'<section class="alert" id="reload"><h2 class="s-needs_attention">Configuration reload failed</h2>'
        f"<p>{_e(record.source)} was read again {_time(record.attempted_at, now)} and {_e(what)}: "
        f"the configuration loaded {_time(record.loaded_at, now)} keeps running.</p><ul>{problems}</ul></section>"
    )


def _facts(status: health.TenantStatus, now: float) -> str:
    passing = sum(1 for record in status.probes.values() if record.outcome is labels.Outcome.OK)
    client = f'<code>{_e(status.client_id)}</code> <span class="muted">{_e(status.grant)}</span>'
    expiry = expiry_text(status.token_expires_at, now)
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


def _table(title: str, heads: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of already-escaped cells; nothing when there are no rows."""
    if not rows:
        return ""
    head = "".join(f"<th>{_e(name)}</th>" for name in heads)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    heading = f"<h4>{_e(title)}</h4>" if title else ""
    return f"{heading}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _probes(status: health.TenantStatus, now: float) -> str:
    failing = sorted((r for r in status.probes.values() if r.outcome is not labels.Outcome.OK), key=lambda r: r.probe)
    rows = [
        (_e(r.probe), f"<b>{_e(r.outcome)}</b>", _e(r.http_status), _e(r.code), _e(r.message), _time(r.at, now))
        for r in failing
    ]
    return _table("Failing probes", ("probe", "outcome", "HTTP", "code", "message", "when"), rows)


def _regrants(status: health.TenantStatus, now: float) -> str:
    rows = [
        (_time(r.at, now), f"<b>{_e(r.result)}</b>", _e(", ".join(r.added)), _e(r.detail), _e(r.correlation_id))
        for r in reversed(status.regrants)
    ]
    return _table("Last re-grants", ("when", "result", "added", "detail", "correlation id"), rows)


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
    return _table("Refused in proxied traffic", heads, rows)


def _card(status: health.TenantStatus, now: float) -> str:
    return (
        f'<article class="tenant s-{_e(status.state)}" id="tenant-{_e(status.tenant)}">'
        f'<h3>{_e(status.tenant)} <span class="badge s-{_e(status.state)}">{_e(TITLES[status.state])}</span> '
        f'<span class="muted">since {_time(status.state_since, now)}</span></h3>'
        f"{_facts(status, now)}{_findings(status.findings)}{_probes(status, now)}{_regrants(status, now)}"
        f"{_traffic(status, now)}</article>"
    )


def _compact(tenants: Sequence[health.TenantStatus], now: float) -> str:
    handing = any(s.handoff is not None for s in tenants)  # a column only with a hand-off configured
    rows = [
        (
            f"<b>{_e(s.tenant)}</b>",
            f"<code>{_e(s.org_id)}</code>",
            f"<code>{_e(s.client_id)}</code>",
            _e(expiry_text(s.token_expires_at, now)),
            _time(s.last_cycle_at, now) + _waiting(s, now),
            *([_time(s.handoff.handed_out_at if s.handoff else None, now)] if handing else []),
        )
        for s in tenants
    ]
    heads = ("tenant", "org id", "client id", "token expires", "last cycle", *(["token handed out"] if handing else []))
    return _table("", heads, rows)


def _group(state: labels.State, tenants: Sequence[health.TenantStatus], now: float) -> str:
    shown = tenants[:MAX_PER_GROUP]
    body = _compact(shown, now) if state in COMPACT else "".join(_card(status, now) for status in shown)
    if state in COMPACT:  # a healthy tenant whose traffic is refused still gets its card
        refused = [status for status in shown if any(r.passed_at is None for r in status.traffic)]
        body += "".join(_card(status, now) for status in refused)
    more = len(tenants) - len(shown)
    tail = f'<p class="muted">… and {more} more; GET /status lists every tenant.</p>' if more > 0 else ""
    return (
        f'<section id="{_e(state)}"><h2 class="s-{_e(state)}">{_e(TITLES[state].capitalize())} '
        f'<span class="muted">({len(tenants)})</span></h2>{body}{tail}</section>'
    )


def _notes(
    groups: dict[labels.State, list[health.TenantStatus]], now: float, reload: health.ReloadRecord | None
) -> str:
    """The header's extra facts: tenants waiting out a Retry-After, when the configuration was loaded."""
    waiting = sum(1 for group in groups.values() for status in group if status.waiting_until(now) is not None)
    notes = f" · {waiting} waiting out a Retry-After" if waiting else ""
    if reload is not None:
        notes += f" · configuration loaded {_time(reload.loaded_at, now)}"
    return notes


def render(
    *,
    version: str,
    shard_index: int,
    shard_count: int,
    ready: bool,
    statuses: Iterable[health.TenantStatus],
    now: float,
    reload: health.ReloadRecord | None = None,
) -> str:
    """The whole page as a string; ``now`` is the clock's, for every relative time on it;
    ``reload``: how the configuration was last loaded (a failure opens the page)."""
    groups = order(statuses)
    counts = {state: len(group) for state, group in groups.items()}
    urgent = counts.get(S.NEEDS_ATTENTION, 0)
    title = f"grantwarden — {urgent} need attention" if urgent else "grantwarden"
    shard = f"shard index {shard_index}, {shard_count} shard{'s' if shard_count != 1 else ''} in total"
    sections = "".join(_group(state, group, now) for state, group in groups.items())
    main = sections or '<p class="muted">This replica owns no tenants.</p>'
    notes = _notes(groups, now, reload)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_S}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{_e(title)}</title><style>{_CSS}</style></head>'
        f"<body>{_header(version=version, shard=shard, ready=ready, counts=counts, now=now, notes=notes)}"
        f"{_reload_banner(reload, now)}<main>{main}</main></body></html>\n"
    )
