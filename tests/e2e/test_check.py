"""``grantwarden check`` against the simulator's demo world: each tenant's state and finding.

Covers: the healthy primary org; the secondary org whose client lacks a role, degraded with the
missing permissions and the allow-listed role that fixes it, planned as the one PUT ``run`` would
send (both probes' plans merged, one line, one JSON entry covering both permissions); the org configured with the
primary's credentials (wrong_org, never acted on); the unlicensed org; the JSON output; the exit
code; and that check sends no PUT (it changes nothing).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grantwarden.app import checking
from grantwarden.base import redaction
from grantwarden.base.clock import LoopClock
from grantwarden.policy import labels
from grantwarden.simulator import testing
from tests.e2e import support


@pytest.fixture
async def checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, checking.Checked]:
    async with testing.running(support.DEMO) as sim:
        loaded = support.demo_config(sim, monkeypatch, tmp_path)
        names = ["acme", "acme-eu", "acme-apac", "acme-latam"]
        results = await checking.check(
            loaded, names=names, clock=LoopClock(), redactor=redaction.Redactor(), environ=os.environ
        )
        assert not [r for r in sim.requests(kind="api") if r["method"] == "PUT"], "check must change nothing"
    return {r.status.tenant: r for r in results}


async def test_the_primary_org_is_healthy(checked: dict[str, checking.Checked]) -> None:
    status = checked["acme"].status
    assert status.state is labels.State.HEALTHY
    assert status.findings == ()
    assert {p.outcome for p in status.probes.values()} == {labels.Outcome.OK}


async def test_the_secondary_org_is_degraded_with_the_missing_permission_and_the_role_that_fixes_it(
    checked: dict[str, checking.Checked],
) -> None:
    result = checked["acme-eu"]
    assert result.status.state is labels.State.DEGRADED
    failing = {p.probe: p.outcome for p in result.status.probes.values() if p.outcome is not labels.Outcome.OK}
    assert failing == {
        "messaging-integrations": labels.Outcome.MISSING_PERMISSION,
        "messaging-supported-content": labels.Outcome.MISSING_PERMISSION,
    }
    finding = next(f for f in result.status.findings if f.probe == "messaging-integrations")
    assert finding.fixable
    assert finding.missing == ("messaging:integration:view",)
    assert "Messaging Viewer" in finding.fix
    assert "'Messaging Viewer'" in checking.plan_text(result.cycle)


async def test_the_plan_says_the_one_put_run_would_send(checked: dict[str, checking.Checked]) -> None:
    result = checked["acme-eu"]
    text = checking.plan_text(result.cycle)
    assert text.count("Messaging Viewer") == 1, "two probes need the role; run sends it once"
    assert text.startswith("add role 'Messaging Viewer' in division ")
    assert "one PUT; covers messaging:integration:view, messaging:supportedContent:view" in text
    plan = checking.plan_json(result)
    assert {k: plan[k] for k in ("tenant", "org_id", "client_id", "dry_run", "managed_by", "scopes")} == {
        "tenant": "acme-eu",
        "org_id": result.tenant.org_id,
        "client_id": result.tenant.credentials.client_id,
        "dry_run": False,
        "managed_by": "grantwarden",
        "scopes": [],
    }
    (entry,) = plan["add"]
    assert entry["role"] == "Messaging Viewer"
    assert entry["covers"] == ["messaging:integration:view", "messaging:supportedContent:view"]
    assert entry["role_id"]
    assert entry["division_id"]


async def test_credentials_of_another_org_are_wrong_org_and_never_fixable(
    checked: dict[str, checking.Checked],
) -> None:
    status = checked["acme-apac"].status
    assert status.state is labels.State.NEEDS_ATTENTION
    assert status.probes["token"].outcome is labels.Outcome.WRONG_ORG
    assert set(status.probes) == {"token"}, "nothing else is probed with another org's token"
    assert [f.outcome for f in status.findings] == ["wrong_org"]
    assert not status.findings[0].fixable
    assert "own OAuth client" in status.findings[0].fix


async def test_an_unlicensed_permission_needs_attention_and_asks_for_a_licence(
    checked: dict[str, checking.Checked],
) -> None:
    status = checked["acme-latam"].status
    assert status.state is labels.State.NEEDS_ATTENTION
    assert status.probes["webdeployments-configurations"].outcome is labels.Outcome.UNLICENSED
    finding = next(f for f in status.findings if f.outcome == "unlicensed")
    assert finding.missing == ("webDeployments:configuration:view",)
    assert not finding.fixable
    assert "licen" in finding.fix


async def test_the_json_report_carries_states_and_plans(checked: dict[str, checking.Checked]) -> None:
    report = checking.as_json(list(checked.values()), with_plan=True)
    assert report["healthy"] is False
    by_name = {t["tenant"]: t for t in report["tenants"]}
    assert by_name["acme-eu"]["plan"]["action"] == "remediate"
    assert by_name["acme-apac"]["state"] == "needs_attention"
