"""The status page's hand-off rows (design.md §2.8): when a token last went out, what was reported.

Covers: a tenant's card shows when its token was last handed out and the last refusal the
integration reported (request, status, code, outcome, what grantwarden did), every value escaped;
healthy tenants get a "token handed out" column only when a hand-off is configured; without one
the page says nothing of it.
"""

from __future__ import annotations

from grantwarden.policy import labels
from grantwarden.worker import status as health
from grantwarden.worker import statusjson
from tests.surface.test_pages import NOW, render, status

HOSTILE = "<b>x</b>"


def test_a_card_shows_the_last_handout_and_the_last_reported_refusal_escaped() -> None:
    refusal = health.RefusalRecord(
        NOW - 120, "traffic:get-x", "GET", f"/api/v2/x/{HOSTILE}", 403, "missing_permission", HOSTILE, "diagnosing"
    )
    sick = status("acme", labels.State.DEGRADED, handoff=health.HandoffRecord(NOW - 60, refusal))
    page = render(sick)
    assert "<dt>token handed out</dt>" in page
    assert "1 min ago" in page
    assert "<dt>refusal reported</dt>" in page
    assert "GET /api/v2/x/&lt;b&gt;x&lt;/b&gt; → 403 &lt;b&gt;x&lt;/b&gt;" in page
    assert "<b>missing_permission</b>" in page
    assert "(diagnosing)" in page
    assert HOSTILE not in page


def test_healthy_tenants_get_a_handout_column_only_with_a_handoff() -> None:
    with_handoff = render(status("acme", handoff=health.HandoffRecord(NOW - 30)), status("acme-eu"))
    assert "<th>token handed out</th>" in with_handoff
    assert "30 s ago" in with_handoff
    without = render(status("acme"), status("acme-eu"))
    assert "handed out" not in without
    assert "refusal reported" not in render(status("acme", labels.State.DEGRADED))


def test_the_status_json_has_the_handoff_or_null() -> None:
    refusal = health.RefusalRecord(
        NOW, "traffic:post-y", "POST", "/api/v2/y", 401, "unauthorized", None, "token_dropped"
    )
    shown = statusjson.tenant_json(status("acme", handoff=health.HandoffRecord(NOW - 5, refusal)))
    assert shown["handoff"] == {
        "last_handed_out_at": statusjson.iso(NOW - 5),
        "last_refusal": {
            "at": statusjson.iso(NOW),
            "operation": "traffic:post-y",
            "method": "POST",
            "path": "/api/v2/y",
            "http_status": 401,
            "outcome": "unauthorized",
            "code": None,
            "action": "token_dropped",
        },
    }
    assert statusjson.tenant_json(status("acme"))["handoff"] is None
    assert statusjson.tenant_json(status("acme", handoff=health.HandoffRecord()))["handoff"] == {
        "last_handed_out_at": None,
        "last_refusal": None,
    }
