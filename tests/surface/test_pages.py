"""The HTML status page: relative times, grouping, escaping of every value, and a page that loads nothing.

Covers: durations and token expiry read as "in 17 h 3 min" / "expired 5 min ago"; groups appear
needs_attention, degraded, remediating, unreachable, starting, healthy, each sorted by name;
a sick tenant shows org, client, token expiry, failing probes, findings with fix and command,
and re-grants; every value a tenant status can carry is escaped (each field gets its own hostile
marker); the page has the refresh meta, no script and no external reference; a huge group is
cut with a pointer to /status; an empty replica says so.
"""

from __future__ import annotations

import re

import pytest

from grantwarden.policy import labels
from grantwarden.surface import markup, pages
from grantwarden.worker import status as health

NOW = 1_800_000_000.0
S = labels.State


def status(name: str, state: labels.State = S.HEALTHY, **fields: object) -> health.TenantStatus:
    values: dict[str, object] = {
        "org_id": f"org-{name}",
        "client_id": f"client-{name}",
        "grant": labels.GrantType.CLIENT_CREDENTIALS,
        "token_expires_at": NOW + 17 * 3600 + 3 * 60,
    }
    return health.TenantStatus(tenant=name, state=state, **(values | fields))  # type: ignore[arg-type]


def render(*statuses: health.TenantStatus, ready: bool = True) -> str:
    return pages.render(version="1.2.3", shard_index=0, shard_count=2, ready=ready, statuses=statuses, now=NOW)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0, "0 s", id="zero"),
        pytest.param(59.9, "59 s", id="seconds-floor"),
        pytest.param(60, "1 min", id="one-minute"),
        pytest.param(3599, "59 min", id="minutes"),
        pytest.param(3600, "1 h", id="whole-hour"),
        pytest.param(17 * 3600 + 3 * 60 + 20, "17 h 3 min", id="hours-and-minutes"),
        pytest.param(2 * 86400 + 4 * 3600 + 59, "2 d 4 h", id="days-and-hours"),
        pytest.param(3 * 86400, "3 d", id="whole-days"),
        pytest.param(-90, "1 min", id="sign-is-the-caller's"),
    ],
)
def test_duration_text_is_coarse_and_readable(seconds: float, text: str) -> None:
    assert markup.duration_text(seconds) == text


@pytest.mark.parametrize(
    ("expires_at", "text"),
    [
        pytest.param(None, "no token yet", id="none"),
        pytest.param(NOW + 17 * 3600 + 3 * 60, "in 17 h 3 min", id="future"),
        pytest.param(NOW - 300, "expired 5 min ago", id="past"),
        pytest.param(NOW, "expired 0 s ago", id="at-the-instant-is-expired"),
    ],
)
def test_expiry_text_says_in_or_expired_ago(expires_at: float | None, text: str) -> None:
    assert markup.expiry_text(expires_at, NOW) == text


def test_relative_times_point_both_ways() -> None:
    assert markup.relative(NOW - 120, NOW) == "2 min ago"
    assert markup.relative(NOW + 45, NOW) == "in 45 s"
    assert markup.relative(None, NOW) == "never"


def test_groups_run_from_most_urgent_to_healthy_each_sorted_by_name() -> None:
    page = render(
        status("h-b"),
        status("h-a"),
        status("s", S.STARTING),
        status("u", S.UNREACHABLE),
        status("r", S.REMEDIATING),
        status("d", S.DEGRADED),
        status("n-z", S.NEEDS_ATTENTION),
        status("n-a", S.NEEDS_ATTENTION),
    )
    sections = re.findall(r'<section id="(\w+)">', page)
    assert sections == ["needs_attention", "degraded", "remediating", "unreachable", "starting", "healthy"]
    anchors = ['id="tenant-n-a"', 'id="tenant-n-z"', 'id="tenant-d"', "<b>s</b>", "<b>h-a</b>", "<b>h-b</b>"]
    positions = [page.index(anchor) for anchor in anchors]
    assert positions == sorted(positions)


def test_a_sick_tenant_shows_what_is_wrong_and_how_to_fix_it() -> None:
    sick = status(
        "acme-eu",
        S.NEEDS_ATTENTION,
        token_expires_at=NOW - 300,
        token_last_error="invalid_client",
        probes={
            "organization": health.ProbeRecord("organization", labels.Outcome.OK, 200, None, None, 0.05, NOW - 10),
            "messaging-integrations": health.ProbeRecord(
                "messaging-integrations",
                labels.Outcome.MISSING_PERMISSION,
                403,
                "missing.permissions",
                "Missing permission messaging:integration:view",
                0.12,
                NOW - 30,
            ),
        },
        findings=(
            health.FindingRecord(
                probe="messaging-integrations",
                outcome="missing_permission",
                missing=("messaging:integration:view",),
                fixable=True,
                summary="The client lacks messaging:integration:view.",
                fix="Add the role Messaging Viewer to the client.",
                command="grantwarden plan --config grantwarden.yaml",
            ),
        ),
    )
    sick.add_regrant(
        health.RegrantRecord(NOW - 600, labels.RegrantResult.REFUSED, "admin lacks the role", ("Messaging Viewer",))
    )
    page = render(sick)
    for expected in (
        "org-acme-eu",
        "client-acme-eu",
        "expired 5 min ago",
        "invalid_client",
        "1 of 2 pass",
        "missing.permissions",
        "<b>missing_permission</b>",
        "<td>403</td>",
        "Missing permission messaging:integration:view",
        "Fix: Add the role Messaging Viewer to the client.",
        "<pre><code>grantwarden plan --config grantwarden.yaml</code></pre>",
        "admin lacks the role",
        "<b>refused</b>",
        "10 min ago",
    ):
        assert expected in page
    assert "<td>organization</td>" not in page  # passing probes are not listed as failing


def test_every_value_is_escaped() -> None:
    def mark(n: int) -> str:
        return f'<x{n} a="\'">&'

    evil = status(
        mark(1),
        S.DEGRADED,
        org_id=mark(2),
        client_id=mark(3),
        token_last_error=mark(4),
        identity_org_id=mark(5),
        probes={"p": health.ProbeRecord(mark(6), labels.Outcome.FORBIDDEN, 403, mark(7), mark(8), 0.1, NOW)},
        findings=(health.FindingRecord(mark(9), mark(10), (mark(11),), False, mark(12), mark(13), mark(14)),),
    )
    evil.add_regrant(health.RegrantRecord(NOW, labels.RegrantResult.FAILED, mark(15), (mark(16),), mark(17)))
    page = render(evil, status(mark(18)))
    assert "<x" not in page
    for n in range(1, 19):
        assert f"&lt;x{n} a=&quot;&#x27;&quot;&gt;&amp;" in page, n


def test_the_page_refreshes_itself_and_loads_nothing() -> None:
    page = render(status("acme"), status("zeta", S.NEEDS_ATTENTION))
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta http-equiv="refresh" content="10">' in page
    assert "<title>grantwarden — 1 need attention</title>" in page
    assert "1.2.3" in page
    assert "shard index 0, 2 shards in total" in page
    for forbidden in ("<script", "src=", "<link", "http://", "https://", "@import", "url("):
        assert forbidden not in page


def test_the_header_counts_every_state() -> None:
    page = render(status("a"), status("b"), status("c", S.UNREACHABLE), ready=False)
    assert '<li class="s-healthy"><b>2</b> healthy</li>' in page
    assert '<li class="s-unreachable"><b>1</b> unreachable</li>' in page
    assert '<li class="s-degraded zero"><b>0</b> degraded</li>' in page
    assert "starting: first cycles still running" in page


def test_a_huge_group_is_cut_with_a_pointer_to_status() -> None:
    many = [status(f"t{n:05d}", S.UNREACHABLE) for n in range(pages.MAX_PER_GROUP + 7)]
    page = render(*many)
    assert page.count('<article class="tenant') == pages.MAX_PER_GROUP
    assert "… and 7 more; GET /status lists every tenant." in page


def test_a_replica_without_tenants_says_so() -> None:
    assert "This replica owns no tenants." in render()


def test_refusals_in_proxied_traffic_show_beside_the_probes_even_for_a_healthy_tenant() -> None:
    """design.md §2.9: the probes pass, but the integration's own calls are refused."""
    healthy = status("acme", S.HEALTHY)
    healthy.saw_traffic_refusal(
        health.TrafficRecord(
            "GET /api/v2/conversations/messaging/integrations",
            "missing_permission",
            403,
            "missing.permissions",
            "You are missing <messaging:integration:view>",
            3,
            NOW - 120,
            NOW - 60,
            "corr-1",
        )
    )
    quiet = status("globex", S.HEALTHY)
    page = render(healthy, quiet)
    assert 'id="tenant-acme"' in page
    assert 'id="tenant-globex"' not in page, "a healthy tenant without refusals stays a compact row"
    for expected in (
        "Refused in proxied traffic",
        "<code>GET /api/v2/conversations/messaging/integrations</code>",
        "<b>missing_permission</b>",
        "You are missing &lt;messaging:integration:view&gt;",
        "<td>3</td>",
        "still refused",
    ):
        assert expected in page
    healthy.saw_traffic_pass("GET /api/v2/conversations/messaging/integrations", NOW - 5)
    assert 'id="tenant-acme"' not in render(healthy), "once it passes, the row is compact again"
    assert "passed" in render(status("x", S.DEGRADED, traffic=healthy.traffic))
