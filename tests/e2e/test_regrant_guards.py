"""The guard rails of automatic re-grants, end to end: daemon and simulator on one ManualClock.

Covers: a 120 s propagation delay is waited out and verified without a second PUT; an admin
identity lacking the role is refused once (no PUT at all: the plan already knows) and the tenant
needs attention instead of looping; ``regrant.dry_run`` sends no PUT over several cycles and logs
``regrant_planned`` once; the wrong-org and unlicensed tenants never send a PUT; ``max_per_hour``
caps the attempts of an hour when verification keeps failing; three unverified re-grants hold the
tenant in needs_attention until a reconcile through the daemon's HTTP API lifts the hold; a stop
during the settle of an in-flight re-grant ends the daemon at once, without the grace period,
also while the settle waits out a long Retry-After; the gauges show the settle's partial re-probe
at once (no missing permission left behind until the next full pass).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from grantwarden.base.clock import ManualClock
from grantwarden.policy import labels
from grantwarden.simulator import control, faults, testing
from tests.e2e import support
from tests.e2e.daemon_harness import Running, running_daemon

ADMIN_TOKEN = "guards-admin-token-0123456789"


def puts(sim: testing.Simulator) -> list[dict[str, Any]]:
    return [r for r in sim.requests(kind="api") if r["method"] == "PUT"]


def events(logs: Sequence[Mapping[str, Any]], name: str, tenant: str = "acme-eu") -> list[Mapping[str, Any]]:
    return [e for e in logs if e["event"] == name and e.get("tenant") == tenant]


def states(logs: Sequence[Mapping[str, Any]], tenant: str = "acme-eu") -> list[str]:
    return [str(e["state"]) for e in events(logs, "tenant_state_changed", tenant)]


def regrants(run: Running, result: str, tenant: str = "acme-eu") -> float:
    value = run.registry.get_sample_value("grantwarden_regrants_total", {"tenant": tenant, "result": result})
    return value or 0.0


def regrant_config(
    sim: testing.Simulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    only: list[str],
    admin_token: bool = False,
    **regrant: object,
) -> Any:
    edit: dict[str, Any] = {"defaults": {"regrant": regrant}} if regrant else {}
    if admin_token:
        monkeypatch.setenv("GW_GUARDS_ADMIN", ADMIN_TOKEN)
        edit["server"] = {"listen": "127.0.0.1:0", "admin_token": {"env": "GW_GUARDS_ADMIN"}}
    return support.demo_config(sim, monkeypatch, tmp_path, only=only, edit=edit)


def gauge(run: Running, name: str, tenant: str = "acme-eu", **labels_: str) -> float | None:
    return run.registry.get_sample_value(name, {"tenant": tenant, **labels_})


def missing_permissions(run: Running, tenant: str = "acme-eu") -> set[str]:
    """The permissions ``grantwarden_missing_permission`` shows as missing now."""
    return {
        sample.labels["permission"]
        for family in run.registry.collect()
        if family.name == "grantwarden_missing_permission"
        for sample in family.samples
        if sample.labels["tenant"] == tenant and sample.value == 1
    }


async def advance(clock: ManualClock, seconds: float, step: float = 60.0) -> None:
    """Move time on in probe-interval steps, so every cycle of the way runs."""
    while seconds > 0:
        await clock.advance(min(step, seconds))
        seconds -= step


async def test_a_propagation_delay_of_two_minutes_is_waited_out_without_a_second_put(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    start = clock.now()
    async with testing.running(support.DEMO, clock=clock) as sim:
        control.set_propagation(sim.world, 120.0)
        loaded = regrant_config(sim, monkeypatch, tmp_path, only=["acme-eu"])
        with capture_logs(processors=[merge_contextvars]) as logs:
            async with running_daemon(loaded, clock) as run:
                await clock.advance(61)  # the first cycle: degraded, PUT, settling
                assert len(puts(sim)) == 1
                assert missing_permissions(run) == {"messaging:integration:view", "messaging:supportedContent:view"}
                status = run.daemon.statuses()["acme-eu"]
                assert status.state is labels.State.REMEDIATING
                cycles = status.cycles
                while status.state is labels.State.REMEDIATING and clock.now() < start + 61 + 300:
                    await clock.advance(5)
                assert status.state is labels.State.HEALTHY
                assert status.cycles == cycles, "verified by the settle's partial re-probe, not a new cycle"
                # The gauges already say what the partial re-probe saw.
                for probe in ("messaging-integrations", "messaging-supported-content"):
                    assert gauge(run, "grantwarden_probe_success", probe=probe) == 1
                    assert gauge(run, "grantwarden_probe_http_status", probe=probe) == 200
                assert missing_permissions(run) == set()
                await advance(clock, 180)  # later cycles find nothing to do
                assert regrants(run, "verified") == 1
                assert regrants(run, "failed") == 0
        assert len(puts(sim)) == 1, "propagation is waited out, never answered with another PUT"
        assert states(logs) == ["degraded", "remediating", "healthy"]
        verified = events(logs, "regrant_verified")
        assert len(verified) == 1
        applied_at = next(r["time"] for r in sim.requests(kind="api") if r["method"] == "PUT")
        # The re-probes that verified it ran after the grant took effect, not before.
        passing = [
            r
            for r in sim.requests(kind="api")
            if r["path"].endswith("/messaging/integrations") and r["status"] == 200 and r["time"] > applied_at
        ]
        assert passing
        assert min(r["time"] for r in passing) >= applied_at + 120.0


async def test_an_admin_identity_without_the_role_is_refused_once_and_needs_attention(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No PUT at all: the planner reads the admin identity's own roles (GET /api/v2/tokens/me)
    before it plans, sees that it does not hold 'Messaging Viewer' (a client may only be given
    roles its editor holds, platform.md §2.4) and refuses; the platform's 400 bad.client.role is
    never provoked."""
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        admin = sim.tenant("acme-eu").admin_client_id
        assert admin is not None
        control.remove_role(sim.world, admin, "Messaging Viewer")
        loaded = regrant_config(sim, monkeypatch, tmp_path, only=["acme-eu"])
        with capture_logs(processors=[merge_contextvars]) as logs:
            async with running_daemon(loaded, clock) as run:
                await advance(clock, 61 + 5 * 60)  # the first cycle and five more
                status = run.daemon.statuses()["acme-eu"]
                assert status.state is labels.State.NEEDS_ATTENTION
                assert regrants(run, "refused") == 1
                assert regrants(run, "applied") == 0
                assert status.cycles >= 6
        assert puts(sim) == []
        refused = events(logs, "regrant_refused")
        assert len(refused) == 1
        assert refused[0]["reason"] == "admin_lacks_role"
        assert "Messaging Viewer" in refused[0]["detail"]
        assert "remediating" not in states(logs), "nothing was attempted"
        finding = next(f for f in status.findings if f.probe == "messaging-integrations")
        assert not finding.fixable


async def test_a_dry_run_sends_no_put_and_announces_its_plan_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        loaded = regrant_config(sim, monkeypatch, tmp_path, only=["acme-eu"], dry_run=True)
        with capture_logs(processors=[merge_contextvars]) as logs:
            async with running_daemon(loaded, clock) as run:
                await advance(clock, 61 + 5 * 60)
                status = run.daemon.statuses()["acme-eu"]
                assert status.cycles >= 6
                assert status.state is labels.State.DEGRADED
                assert regrants(run, "planned") == 1
        assert puts(sim) == []
        planned = events(logs, "regrant_planned")
        assert len(planned) == 1
        assert planned[0]["dry_run"] is True
        assert planned[0]["roles"] == ["Messaging Viewer"]
        assert events(logs, "regrant_applied") == []


async def test_the_wrong_org_and_unlicensed_tenants_never_send_a_put(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        loaded = regrant_config(sim, monkeypatch, tmp_path, only=["acme-apac", "acme-latam"])
        with capture_logs(processors=[merge_contextvars]) as logs:
            async with running_daemon(loaded, clock) as run:
                await advance(clock, 61 + 5 * 60)
                statuses = run.daemon.statuses()
                for name in ("acme-apac", "acme-latam"):
                    assert statuses[name].state is labels.State.NEEDS_ATTENTION
                    assert statuses[name].cycles >= 6
                    assert regrants(run, "applied", name) == 0
        assert puts(sim) == []
        assert [e["reason"] for e in events(logs, "regrant_refused", "acme-apac")] == ["wrong_org"]
        assert [e["reason"] for e in events(logs, "regrant_refused", "acme-latam")] == ["unlicensed"]
        assert not [e for e in logs if e["event"] == "tenant_state_changed" and e["state"] == "remediating"]


async def test_max_per_hour_caps_the_attempts_when_verification_keeps_failing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        control.set_propagation(sim.world, 3 * 3600.0)  # far beyond settle_timeout: never verified
        loaded = regrant_config(sim, monkeypatch, tmp_path, only=["acme-eu"], max_per_hour=2, settle_timeout="60s")
        with capture_logs(processors=[merge_contextvars]) as logs:
            async with running_daemon(loaded, clock) as run:
                await advance(clock, 3540)  # the first cycle comes within a minute; then most of an hour
                status = run.daemon.statuses()["acme-eu"]
                assert len(status.regrant_attempts) == 2
                assert regrants(run, "failed") == 2
                assert status.state is labels.State.DEGRADED, "capped, not given up on"
        # Two attempts in the hour: the PUT, then a re-mint (the client already holds the role).
        assert len(puts(sim)) == 1
        assert states(logs).count("remediating") == 2
        assert len(events(logs, "regrant_failed")) == 2


async def test_three_unverified_regrants_hold_the_tenant_until_a_reconcile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        control.set_propagation(sim.world, 3 * 3600.0)
        loaded = regrant_config(sim, monkeypatch, tmp_path, only=["acme-eu"], admin_token=True, settle_timeout="60s")
        with capture_logs(processors=[merge_contextvars]) as logs:
            async with running_daemon(loaded, clock, environ={**os.environ, "GW_GUARDS_ADMIN": ADMIN_TOKEN}) as run:
                await advance(clock, 61 + 6 * 60)  # three attempts, each a cycle plus its settle
                status = run.daemon.statuses()["acme-eu"]
                assert regrants(run, "failed") == 3
                assert status.state is labels.State.NEEDS_ATTENTION
                await advance(clock, 10 * 60)  # ten more cycles: held, not retried
                assert regrants(run, "failed") == 3
                assert len(status.regrant_attempts) == 3
                assert status.state is labels.State.NEEDS_ATTENTION
                held = next(f for f in status.findings if f.probe == "messaging-integrations")
                assert not held.fixable, "grantwarden stopped retrying: a person must look"

                url = f"{run.http.url}/tenants/acme-eu/reconcile"
                async with (
                    aiohttp.ClientSession() as http,
                    http.post(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as answer,
                ):
                    assert answer.status == 202
                await clock.advance(1)  # the reconcile runs now, not at the next scheduled cycle
                assert len(status.regrant_attempts) == 4
                assert status.state is labels.State.REMEDIATING
                await clock.advance(60)
                assert regrants(run, "failed") == 4
                assert status.state is labels.State.DEGRADED, "the hold is lifted: the next failure is the first"
        assert len(puts(sim)) == 1
        assert states(logs)[-2:] == ["remediating", "degraded"]


async def test_a_stop_during_the_settle_of_a_regrant_ends_the_daemon_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        control.set_propagation(sim.world, 600.0)
        loaded = regrant_config(sim, monkeypatch, tmp_path, only=["acme-eu"])
        with capture_logs(processors=[merge_contextvars]) as logs:
            async with running_daemon(loaded, clock) as run:
                await clock.advance(61)
                await clock.advance(10)
                assert len(puts(sim)) == 1
                assert run.daemon.statuses()["acme-eu"].state is labels.State.REMEDIATING
                run.stop.set()
                # Far less than the 10 s grace of real time, and no fake time passes at all.
                await asyncio.wait_for(asyncio.shield(run.task), timeout=2.0)
                assert run.task.result() == 0
        assert [e["event"] for e in logs if e["event"].startswith("daemon_")][-2:] == [
            "daemon_stopping",
            "daemon_stopped",
        ]
        assert events(logs, "regrant_failed") == [], "a stop is not a failed re-grant"


async def test_a_stop_while_the_settle_waits_out_a_retry_after_ends_the_daemon_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        control.set_propagation(sim.world, 600.0)
        loaded = regrant_config(sim, monkeypatch, tmp_path, only=["acme-eu"])
        async with running_daemon(loaded, clock) as run:
            await clock.advance(61)
            assert len(puts(sim)) == 1
            # The next re-probe of the settle is answered 429 with ten minutes of Retry-After.
            limited = faults.Fault("/api/v2/tokens/me", faults.Action.STATUS, status=429, retry_after=600, times=1)
            control.set_fault(sim.world, limited)
            await clock.advance(30)
            status = run.daemon.statuses()["acme-eu"]
            assert status.probes["token"].outcome is labels.Outcome.RATE_LIMITED
            assert status.state is labels.State.REMEDIATING
            run.stop.set()
            assert await asyncio.wait_for(asyncio.shield(run.task), timeout=2.0) == 0
