"""What ``grantwarden demo`` prints, from tenant status records (``demo_story``, ``demo_consent``).

Covers: the banner; a state change prints once with its reason, and a fix line under needs_attention; a
tenant still starting prints nothing; each new re-grant record prints once, in time order, the
"verified: " prefix dropped; a 429 prints once per probe record, naming the probes and the
platform's message; the summary row says the fix when a person must act, what was re-granted
when all is well, and that no cycle finished yet; the time column; when the demo re-consents.
"""

from __future__ import annotations

import dataclasses

import pytest

from grantwarden.demo import consent as demo_consent
from grantwarden.demo import story as demo_story
from grantwarden.policy import labels
from grantwarden.worker import status as health

T0 = 1_800_000_000.0
State, Outcome, Result = labels.State, labels.Outcome, labels.RegrantResult

WRONG_ORG = health.FindingRecord("token", "wrong_org", (), False, "The token acts in another org.", "Use your client.")
MISSING = health.FindingRecord("messaging-integrations", "missing_permission", ("m:i:v",), True, "Lacks m:i:v.", "")
SCOPE = health.FindingRecord("webdeployments-deployments", "missing_scope", (), False, "No scope.", "Run authorize.")
PLANNED = health.RegrantRecord(T0 + 4, Result.PLANNED, "will add Messaging Viewer", ("Messaging Viewer",))
APPLIED = health.RegrantRecord(T0 + 5, Result.APPLIED, "added Messaging Viewer in division home", ("Messaging Viewer",))
VERIFIED = health.RegrantRecord(T0 + 15, Result.VERIFIED, "verified: added Messaging Viewer in division home")
SCOPE_ADDED = health.RegrantRecord(T0 + 5, Result.APPLIED, "added scope s", ("scope webdeployments:readonly",))
LIMITED = {"limited": 1, "limited_at": T0 + 3, "limited_probe": "organization", "retry_after": 60.0}


def look(state: State = State.STARTING, since: float = T0, **fields: object) -> demo_story.Seen:
    status = health.TenantStatus(tenant="acme", org_id="o", client_id="c", grant=labels.GrantType.CLIENT_CREDENTIALS)
    status.state, status.state_since = state, since
    seen = demo_story.seen(status)
    return dataclasses.replace(seen, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("before", "after", "texts"),
    [
        pytest.param(None, look(), [], id="starting-says-nothing"),
        pytest.param(look(), look(State.HEALTHY), ["healthy: every probe passes"], id="healthy"),
        pytest.param(look(State.HEALTHY), look(State.HEALTHY), [], id="no-change-no-line"),
        pytest.param(
            look(),
            look(State.NEEDS_ATTENTION, findings=(WRONG_ORG,)),
            ["needs attention: The token acts in another org.", "  fix: Use your client."],
            id="needs-attention-with-its-fix",
        ),
        pytest.param(
            look(),
            look(State.REMEDIATING, T0 + 4, findings=(MISSING,), regrants=(PLANNED, APPLIED)),
            [
                "remediating: Lacks m:i:v.",
                "re-grant planned: will add Messaging Viewer",
                "re-grant applied: added Messaging Viewer in division home",
            ],
            id="remediating-then-the-regrant-records-in-time-order",
        ),
        pytest.param(
            look(State.REMEDIATING, T0 + 4, regrants=(PLANNED, APPLIED)),
            look(State.HEALTHY, T0 + 15.01, regrants=(PLANNED, APPLIED, VERIFIED)),
            ["re-grant verified: added Messaging Viewer in division home", "healthy: every probe passes"],
            id="only-new-records-print",
        ),
        pytest.param(
            look(),
            look(**LIMITED),
            ["rate limited: 429 on organization (Retry-After 60 s); every request of this tenant waits it out"],
            id="a-429",
        ),
        pytest.param(look(**LIMITED), look(**LIMITED), [], id="the-same-429-prints-once"),
    ],
)
def test_changes_print_once_in_time_order(
    before: demo_story.Seen | None, after: demo_story.Seen, texts: list[str]
) -> None:
    assert [line.text for line in demo_story.changes(before, after)] == texts


@pytest.mark.parametrize(
    ("last", "row"),
    [
        pytest.param(look(State.HEALTHY, cycles=3), ("healthy", "every probe passes"), id="healthy"),
        pytest.param(
            look(State.NEEDS_ATTENTION, findings=(WRONG_ORG,), cycles=2),
            ("needs_attention", "wrong_org: Use your client."),
            id="the-fix-when-a-person-must-act",
        ),
        pytest.param(
            look(State.HEALTHY, regrants=(PLANNED, APPLIED, VERIFIED), cycles=4),
            ("healthy", "re-granted and verified: added Messaging Viewer in division home"),
            id="what-was-re-granted",
        ),
        pytest.param(look(), ("starting", "no probe cycle has finished yet"), id="no-cycle-yet"),
    ],
)
def test_the_summary_row_says_what_to_do_or_what_was_done(last: demo_story.Seen, row: tuple[str, str]) -> None:
    assert demo_story.summary_row(last) == ("acme", *row)


def test_the_banner_says_where_to_look_and_what_each_tenant_shows() -> None:
    defaults = {"probe_interval": "5s", "regrant": {"settle_timeout": "20s"}}
    lines = demo_story.banner(
        duration_s=45, places={"status page": "http://h:1/"}, notes={"acme": "healthy"}, defaults=defaults
    )
    assert "1 tenants" in lines[0]
    assert "running for 45 s" in lines[0]
    assert "  status page    http://h:1/" in lines
    assert "  acme                 healthy" in lines
    assert "until Ctrl-C" in demo_story.banner(duration_s=None, places={}, notes={}, defaults=defaults)[0]


def test_a_line_shows_the_seconds_since_the_demo_started_and_the_tenant() -> None:
    line = demo_story.Line(T0 + 12.34, "acme-eu", "healthy: every probe passes")
    assert demo_story.render(line, started_at=T0) == "[  12.3s] acme-eu              healthy: every probe passes"


@pytest.mark.parametrize(
    ("seen", "due"),
    [
        pytest.param(look(State.NEEDS_ATTENTION, findings=(SCOPE,), regrants=(SCOPE_ADDED,)), True, id="scope-added"),
        pytest.param(look(State.NEEDS_ATTENTION, findings=(SCOPE,)), False, id="nothing-added-yet"),
        pytest.param(look(State.REMEDIATING, findings=(SCOPE,), regrants=(SCOPE_ADDED,)), False, id="still-adding"),
        pytest.param(
            look(State.NEEDS_ATTENTION, findings=(MISSING,), regrants=(APPLIED,)), False, id="a-role-not-scope"
        ),
    ],
)
def test_the_demo_consents_again_once_a_scope_was_added_and_a_person_is_needed(
    seen: demo_story.Seen, due: bool
) -> None:
    assert demo_consent.needs_reconsent(seen) is due
