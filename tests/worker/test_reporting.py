"""reporting: what a cycle shows, and which log lines it writes, only on change.

Covers: ``probe_failed`` when a probe's outcome becomes a different failure, never for a repeat,
a pass or a 429 (a table of previous and new outcomes); ``permission_missing`` once per newly
missing permission, its gauge cleared when the probe passes again; ``tenant_state_changed`` once
per move; every 429 counted and logged; ``regrant_planned`` and ``regrant_refused`` once per
distinct plan or refusal however many cycles find it, with one record each; the token's
schedule, a failure's retry and its error on the status; probes a reload drops take their
records, series and missing permissions along. Lines carry no tenant of their own.
"""

from __future__ import annotations

import prometheus_client
import pytest
from structlog.testing import capture_logs

from grantwarden.base import clock as clock_mod
from grantwarden.policy import labels
from grantwarden.policy.forbidden import Verdict
from grantwarden.policy.planning import Refusal, RefusalReason, RoleDivision, RolePlan
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import probing, reporting
from grantwarden.worker import status as health
from tests.worker import fakes

Outcome = labels.Outcome
PERMISSION = "messaging:integration:view"
ROLE_PLAN = RolePlan(
    add=(RoleDivision("r-mv", fakes.HOME),), role_names=("Messaging Viewer",), covers=frozenset(), division_id="h"
)
REFUSAL = Refusal(RefusalReason.NOT_ALLOW_LISTED, "only 'Admin' grants it", roles=("Admin",), missing=(PERMISSION,))


class Setup:
    def __init__(self) -> None:
        self.clock = clock_mod.ManualClock()
        self.registry = prometheus_client.CollectorRegistry()
        self.status = health.TenantStatus("acme", fakes.ORG, fakes.CLIENT, labels.GrantType.CLIENT_CREDENTIALS)
        metrics = metrics_mod.Metrics(registry=self.registry)
        self.reporter = reporting.Reporter(status=self.status, metrics=metrics, clock=self.clock)

    def sample(self, name: str, **labels_: str) -> float | None:
        return self.registry.get_sample_value(name, {"tenant": "acme", **labels_})


def passed(outcome: labels.Outcome | None, *permissions: str) -> probing.Pass:
    if outcome is None:
        return probing.Pass()
    verdict = Verdict(outcome=outcome, status=200 if outcome is Outcome.OK else 403, permissions=permissions)
    record = health.ProbeRecord("probe", outcome, verdict.status, None, None, 0.1, 0.0)
    return probing.Pass(verdicts={"probe": verdict}, records={"probe": record})


@pytest.mark.parametrize(
    ("before", "after", "logged"),
    [
        pytest.param(None, Outcome.MISSING_PERMISSION, True, id="first-failure"),
        pytest.param(Outcome.OK, Outcome.MISSING_PERMISSION, True, id="ok-then-failure"),
        pytest.param(Outcome.MISSING_PERMISSION, Outcome.MISSING_PERMISSION, False, id="same-failure-again"),
        pytest.param(Outcome.MISSING_PERMISSION, Outcome.SERVER_ERROR, True, id="another-failure"),
        pytest.param(Outcome.MISSING_PERMISSION, Outcome.OK, False, id="healed"),
        pytest.param(Outcome.OK, Outcome.RATE_LIMITED, False, id="429-has-its-own-line"),
    ],
)
def test_a_probe_failure_is_logged_when_it_changes(
    before: labels.Outcome | None, after: labels.Outcome, logged: bool
) -> None:
    setup = Setup()
    setup.reporter.probes(passed(before))
    with capture_logs() as logs:
        setup.reporter.probes(passed(after))
    assert [e["event"] for e in logs if e["event"] == "probe_failed"] == (["probe_failed"] if logged else [])
    assert setup.status.probes["probe"].outcome is after
    assert all("tenant" not in e for e in logs), "the tenant comes from the task's context"


def test_a_missing_permission_is_logged_once_and_its_gauge_clears_when_the_probe_passes() -> None:
    setup = Setup()
    with capture_logs() as logs:
        for _ in range(3):
            setup.reporter.probes(passed(Outcome.MISSING_PERMISSION, PERMISSION))
    assert [e["permission"] for e in logs if e["event"] == "permission_missing"] == [PERMISSION]
    assert setup.sample("grantwarden_missing_permission", permission=PERMISSION) == 1
    setup.reporter.probes(passed(Outcome.OK))
    assert setup.sample("grantwarden_missing_permission", permission=PERMISSION) is None


def test_a_state_change_is_logged_once_and_every_429_is_counted() -> None:
    setup = Setup()
    with capture_logs() as logs:
        setup.reporter.state(labels.State.DEGRADED, reason="lacks a permission")
        setup.reporter.state(labels.State.DEGRADED, reason="lacks a permission")
        setup.reporter.rate_limited("probe", 3.0)
        setup.reporter.rate_limited("token", None)
    changes = [(e["state"], e["previous"]) for e in logs if e["event"] == "tenant_state_changed"]
    assert changes == [("degraded", "starting")]
    assert [e["probe"] for e in logs if e["event"] == "rate_limited"] == ["probe", "token"]
    assert (setup.status.rate_limited, setup.status.rate_limited_probe) == (2, "token")
    assert setup.sample("grantwarden_rate_limited_total") == 2


def test_plans_and_refusals_are_announced_once_however_many_cycles_find_them() -> None:
    setup = Setup()
    plans = {"a": ROLE_PLAN, "b": ROLE_PLAN, "c": REFUSAL, "d": REFUSAL}
    with capture_logs() as logs:
        for _ in range(3):
            setup.reporter.refusals(plans)
            setup.reporter.planned(plans, dry_run=True)
        setup.reporter.planned(plans, dry_run=False)  # applying after a dry run is news
    told = [(e["event"], e.get("dry_run"), e.get("probes")) for e in logs]
    assert told == [
        ("regrant_refused", None, ["c", "d"]),
        ("regrant_planned", True, None),
        ("regrant_planned", False, None),
    ]
    results = [(r.result, r.detail) for r in setup.status.regrants]
    assert results == [
        (labels.RegrantResult.REFUSED, REFUSAL.detail),
        (labels.RegrantResult.PLANNED, "dry run: would add Messaging Viewer"),
        (labels.RegrantResult.PLANNED, "will add Messaging Viewer"),
    ]


def test_a_refusal_told_elsewhere_is_not_told_again() -> None:
    setup = Setup()
    setup.reporter.refused_already(REFUSAL)
    with capture_logs() as logs:
        setup.reporter.refusals({"c": REFUSAL})
    assert logs == []


async def test_the_token_schedule_a_retry_and_its_error_reach_the_status() -> None:
    setup = Setup()
    box = fakes.token_box(setup.clock)
    token = await box.get()
    setup.reporter.token(box)
    assert (setup.status.token_expires_at, setup.status.token_refresh_at) == (token.expires_at, token.refresh_at)
    assert setup.status.token_last_error is None
    box.retry_at, box.last_error = 42.0, fakes.server_error()
    setup.reporter.token(box)
    assert setup.status.token_refresh_at == 42.0
    assert setup.status.token_last_error is not None
    assert setup.status.token_last_error.startswith("ServerError: GET /api/v2/x answered 503")


def test_probes_a_reload_drops_take_their_records_series_and_missing_permissions_along() -> None:
    setup = Setup()
    setup.reporter.probes(passed(Outcome.MISSING_PERMISSION, PERMISSION))
    assert setup.sample("grantwarden_missing_permission", permission=PERMISSION) == 1
    assert setup.sample("grantwarden_probe_success", probe="probe") == 0
    setup.reporter.forget_probes({"probe"})
    assert "probe" not in setup.status.probes
    assert setup.sample("grantwarden_probe_success", probe="probe") is None
    assert setup.sample("grantwarden_missing_permission", permission=PERMISSION) is None
