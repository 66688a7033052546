"""status: what a tenant's record says about its identity check, for anyone handing a token out.

Covers, as a table: the identity check has passed only when the last ``token`` probe passed and
the token acted in the tenant's own org; never before the first check, after a ``wrong_org`` or a
refused token, or when an earlier pass named the org but the last one failed. Also: the status
says how long a tenant still waits out a Retry-After and which request got the 429 (its gate's
floor, nothing once it passed); a tenant whose secret cannot be resolved needs attention with a
``secret_unavailable`` finding per secret naming the variable or file and how to fix it, never a
value, and does not hold readiness back.
"""

from __future__ import annotations

import pytest

from grantwarden.policy import catalog, labels
from grantwarden.remote import gate
from grantwarden.worker import status as health
from grantwarden.worker import statusjson

ORG = "org-1"
Outcome = labels.Outcome


def record(outcome: labels.Outcome) -> health.ProbeRecord:
    return health.ProbeRecord(catalog.TOKEN, outcome, 200 if outcome is Outcome.OK else 401, None, None, 0.1, 0.0)


@pytest.mark.parametrize(
    ("outcome", "identity_org_id", "verified"),
    [
        pytest.param(None, None, False, id="never-checked"),
        pytest.param(Outcome.OK, ORG, True, id="passed-in-its-org"),
        pytest.param(Outcome.WRONG_ORG, "org-2", False, id="another-org"),
        pytest.param(Outcome.UNAUTHORIZED, ORG, False, id="passed-once-refused-now"),
        pytest.param(Outcome.OK, None, False, id="no-org-named"),
    ],
)
def test_the_identity_check_has_passed_only_for_the_tenants_own_org(
    outcome: labels.Outcome | None, identity_org_id: str | None, verified: bool
) -> None:
    status = health.TenantStatus("acme", ORG, "client-1", labels.GrantType.CLIENT_CREDENTIALS)
    status.identity_org_id = identity_org_id
    if outcome is not None:
        status.probes[catalog.TOKEN] = record(outcome)
    assert status.identity_verified is verified


@pytest.mark.parametrize(
    ("held_for", "now_after", "until", "waiting"),
    [
        pytest.param(None, 0.0, None, 0.0, id="no-429"),
        pytest.param(60.0, 20.0, "2027-01-15T08:01:00Z", 40.0, id="forty-seconds-to-go"),
        pytest.param(60.0, 60.0, None, 0.0, id="passed"),
    ],
)
def test_the_status_says_how_long_a_retry_after_is_still_waited_out_and_what_got_the_429(
    held_for: float | None, now_after: float, until: str | None, waiting: float
) -> None:
    start = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    status = health.TenantStatus("acme", ORG, "client-1", labels.GrantType.CLIENT_CREDENTIALS)
    limit = status.floor = gate.Gate()
    if held_for is not None:
        limit.hold(now=start, seconds=held_for)
        status.saw_rate_limit(start, "webdeployments-configurations", held_for)
    limited = statusjson.tenant_json(status, now=start + now_after)["rate_limited"]
    assert (limited["waiting_until"], limited["waiting_s"]) == (until, waiting)
    if held_for is not None:
        assert limited["last_probe"] == "webdeployments-configurations"


def test_an_unresolvable_secret_needs_attention_naming_the_variable_or_file_never_a_value() -> None:
    status = health.TenantStatus("acme", ORG, "client-1", labels.GrantType.CLIENT_CREDENTIALS)
    unresolved = [
        health.Unresolved(
            "credentials.client_secret", "environment variable ACME_SECRET is not set or empty", env="ACME_SECRET"
        ),
        health.Unresolved(
            "admin_credentials.client_secret", "cannot read secret file /run/s/admin", file="/run/s/admin"
        ),
    ]
    summary = status.secrets_unavailable(1_800_000_000.0, unresolved, "gw.yaml")
    assert [f.outcome for f in status.findings] == ["secret_unavailable", "secret_unavailable"]
    env, file = status.findings
    assert summary == env.summary
    assert "credentials.client_secret in gw.yaml cannot be resolved (environment variable ACME_SECRET" in env.summary
    assert "restart" in env.fix
    assert "ACME_SECRET" in env.fix
    assert "/run/s/admin" in file.fix
    assert "every probe interval" in file.fix
    assert not env.fixable
    assert status.first_cycle_done.is_set(), "a tenant waiting for a person does not hold /readyz back"


def traffic(operation: str, outcome: str = "missing_permission", *, at: float = 100.0) -> health.TrafficRecord:
    return health.TrafficRecord(operation, outcome, 403, "missing.permissions", "lacks x", 1, at, at, "corr")


def test_traffic_refusals_count_up_per_operation_and_become_history_once_it_passes() -> None:
    """design.md §2.9: one record per operation; the same refusal counts, a pass marks it, a new
    refusal after a pass starts a new count; at most ten operations, the oldest dropped."""
    status = health.TenantStatus("acme", ORG, "client-1", labels.GrantType.CLIENT_CREDENTIALS)
    status.saw_traffic_refusal(traffic("GET /api/v2/a", at=100.0))
    kept = status.saw_traffic_refusal(traffic("GET /api/v2/a", at=130.0))
    assert (kept.count, kept.first_at, kept.at) == (2, 100.0, 130.0)
    changed = status.saw_traffic_refusal(traffic("GET /api/v2/a", "unauthorized", at=140.0))
    assert (changed.count, changed.outcome) == (1, "unauthorized"), "another outcome starts again"
    status.saw_traffic_pass("GET /api/v2/a", 150.0)
    assert status.traffic[0].passed_at == 150.0
    again = status.saw_traffic_refusal(traffic("GET /api/v2/a", "unauthorized", at=160.0))
    assert (again.count, again.passed_at) == (1, None)
    status.saw_traffic_pass("GET /api/v2/never-refused", 170.0)
    for index in range(12):
        status.saw_traffic_refusal(traffic(f"GET /api/v2/op{index}", at=200.0 + index))
    assert len(status.traffic) == health.MAX_TRAFFIC_RECORDS
    assert [r.operation for r in status.traffic][:2] == ["GET /api/v2/op2", "GET /api/v2/op3"]


def test_traffic_is_in_the_status_document_newest_first() -> None:
    status = health.TenantStatus("acme", ORG, "client-1", labels.GrantType.CLIENT_CREDENTIALS)
    status.saw_traffic_refusal(traffic("GET /api/v2/a", at=1_800_000_000.0))
    status.saw_traffic_refusal(traffic("POST /api/v2/b", "not_allowed", at=1_800_000_060.0))
    shown = statusjson.tenant_json(status)["traffic"]
    assert [(t["operation"], t["outcome"], t["at"], t["passed_at"]) for t in shown] == [
        ("POST /api/v2/b", "not_allowed", "2027-01-15T08:01:00Z", None),
        ("GET /api/v2/a", "missing_permission", "2027-01-15T08:00:00Z", None),
    ]
