"""The HTML status page (``GET /``): the ``/status`` data for a person, at 3 am, without JavaScript.

Tenants are grouped by how urgently someone must act (needs_attention first, healthy last); a
tenant that is not healthy gets its card (``cards``: findings with the exact fix, failing probes,
recent re-grants), so the page answers "what is wrong and what do I type" without a second tool.
Healthy and starting tenants get one compact row each. A group shows at most ``MAX_PER_GROUP``
tenants, so a fleet-wide outage does not produce a page the browser cannot open; ``/status``
always has everything. A tenant waiting out a Retry-After says so wherever it is listed; a
configuration reload that failed opens the page, with its problems, since the tenants below then
run on the previous file. Every value goes through ``markup.escape`` on its way into the markup.
The page loads nothing (no scripts, no external assets) and refreshes itself every 10 s, which
lets the server send ``Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'``.
Rendering is a pure function of the statuses and ``now``; ``server`` calls it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from grantwarden.policy import labels
from grantwarden.surface import cards, markup
from grantwarden.worker import status as health
from grantwarden.worker import statusjson

S = labels.State
STATE_ORDER = (S.NEEDS_ATTENTION, S.DEGRADED, S.REMEDIATING, S.UNREACHABLE, S.STARTING, S.HEALTHY)
TITLES = cards.TITLES
COMPACT = frozenset({S.STARTING, S.HEALTHY})
MAX_PER_GROUP = 250
REFRESH_S = 10

_e = markup.escape
_time = markup.time_element

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


def _waiting(status: health.TenantStatus, now: float) -> str:
    text = cards.waiting_text(status, now)
    return f' <span class="bad">· {_e(text)}</span>' if text else ""


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


def _compact(tenants: Sequence[health.TenantStatus], now: float) -> str:
    handing = any(s.handoff is not None for s in tenants)  # a column only with a hand-off configured
    rows = [
        (
            f"<b>{_e(s.tenant)}</b>",
            f"<code>{_e(s.org_id)}</code>",
            f"<code>{_e(s.client_id)}</code>",
            _e(markup.expiry_text(s.token_expires_at, now)),
            _time(s.last_cycle_at, now) + _waiting(s, now),
            *([_time(s.handoff.handed_out_at if s.handoff else None, now)] if handing else []),
        )
        for s in tenants
    ]
    heads = ("tenant", "org id", "client id", "token expires", "last cycle", *(["token handed out"] if handing else []))
    return markup.table("", heads, rows)


def _group(state: labels.State, tenants: Sequence[health.TenantStatus], now: float) -> str:
    shown = tenants[:MAX_PER_GROUP]
    body = _compact(shown, now) if state in COMPACT else "".join(cards.card(status, now) for status in shown)
    if state in COMPACT:  # a healthy tenant whose traffic is refused still gets its card
        refused = [status for status in shown if any(r.passed_at is None for r in status.traffic)]
        body += "".join(cards.card(status, now) for status in refused)
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
