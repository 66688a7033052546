"""Findings that need facts beyond the probes, end to end: the daemon and the simulator on one ManualClock.

Covers: a disabled client is named as disabled, with the person's fix and no new secret advised
(the admin identity reads its state), and while another tenant of the configuration uses the
same client the fix says to leave its secret alone; a Terraform-managed client is never PUT and its finding
gives the ``roles`` block and the ``genesyscloud_auth_role`` lookup to add, as ``plan --format
terraform`` does; a role a person removes after a healthy cycle is named with who removed it,
when and from which address, from the org's audit trail, with one audit query for the
regression, not one per cycle (and, without audit rights, the permission that would allow it);
a role that keeps disappearing is re-added once after grantwarden's own add, then reported as
"something keeps removing"; an org IP allowlist that leaves grantwarden out is
``ip_not_authorized``, naming the refused address and the org setting, and no token is minted
again for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grantwarden.app import checking
from grantwarden.base import redaction
from grantwarden.base.clock import LoopClock, ManualClock
from grantwarden.config import loading as configfile
from grantwarden.policy import labels
from grantwarden.simulator import control, control_orgs, emitting, testing
from tests.e2e import support
from tests.e2e.daemon_harness import running_daemon

MESSAGING = "messaging-integrations"


def configured(
    sim: testing.Simulator,
    monkeypatch: pytest.MonkeyPatch,
    state_dir: Path,
    name: str,
    *,
    tenant: Callable[[dict[str, Any]], None] = lambda t: None,
    blueprint: dict[str, Any] | None = None,
) -> configfile.Loaded:
    """The demo's configuration of tenant ``name`` alone (its parent dropped), changed in place."""
    raw, env = emitting.render(sim.world, sim.base_url, state_dir=str(state_dir))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (chosen,) = [{k: v for k, v in t.items() if k != "parent"} for t in raw["tenants"] if t["name"] == name]
    tenant(chosen)
    raw["tenants"] = [chosen]
    if blueprint:
        for spec in raw["blueprints"].values():
            spec["grants"] |= blueprint
    raw.setdefault("server", {})["listen"] = "127.0.0.1:0"
    loaded = configfile.load_mapping(raw, source="facts-test.yaml", environ={})
    configfile.resolve_secrets(loaded, environ=os.environ)
    return loaded


async def walk(clock: ManualClock, seconds: float, step: float = 5.0) -> None:
    """``clock.advance`` in steps: a cycle's later requests (an audit query, then the roles) are real
    I/O, and each step's settling lets them finish before time moves on."""
    while seconds > 0:
        await clock.advance(min(step, seconds))
        seconds -= step


def puts(sim: testing.Simulator) -> list[dict[str, Any]]:
    return [r for r in sim.requests(kind="api") if r["method"] == "PUT"]


def audit_queries(sim: testing.Simulator) -> list[dict[str, Any]]:
    return [r for r in sim.requests(kind="api") if r["path"] == "/api/v2/audits/query/realtime"]


def finding(status: Any, probe: str) -> Any:
    return next(f for f in status.findings if f.probe == probe)


def may_read_audits(sim: testing.Simulator, org_id: str) -> None:
    """The org's admin client (role OAuth Client Admin) may read the audit trail too."""
    control_orgs.edit_role(sim.world, org_id, "OAuth Client Admin", add=["audits:audit:view"])


async def test_a_disabled_client_is_named_disabled_with_the_persons_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with testing.running(support.DEMO) as sim:
        spec = sim.tenant("acme")
        loaded = configured(sim, monkeypatch, tmp_path, "acme")
        control.set_client_state(sim.world, spec.client_id, "disabled")
        (result,) = await checking.check(
            loaded, names=["acme"], clock=LoopClock(), redactor=redaction.Redactor(), environ=os.environ
        )
        looked_up = [r for r in sim.requests(kind="api") if r["path"] == f"/api/v2/oauth/clients/{spec.client_id}"]
    status = result.status
    assert status.state is labels.State.NEEDS_ATTENTION
    (token,) = status.findings
    assert (token.probe, token.outcome, token.fixable) == ("token", "unauthorized", False)
    assert "invalid_client; the client is disabled" in token.summary
    assert f"OAuth client {spec.client_id} in org {spec.org_id} is disabled" in token.fix
    assert "re-activating it is a person's decision in Admin > OAuth" in token.fix
    assert "re-create" not in token.fix, "a known state rules out guesses"
    assert "region" not in token.fix
    assert [r["client_id"] for r in looked_up] == [spec.admin_client_id], "read once, by the admin identity"


async def test_a_rejected_client_another_tenant_uses_keeps_its_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with testing.running(support.DEMO) as sim:
        spec = sim.tenant("acme")
        loaded = support.demo_config(sim, monkeypatch, tmp_path)  # acme-apac uses acme's client too
        control.set_client_state(sim.world, spec.client_id, "inactive")
        (result,) = await checking.check(
            loaded, names=["acme"], clock=LoopClock(), redactor=redaction.Redactor(), environ=os.environ
        )
    (token,) = result.status.findings
    assert f"OAuth client {spec.client_id} in org {spec.org_id} is inactive" in token.fix
    assert "leave its secret alone: tenant acme-apac also uses" in token.fix


async def test_a_terraform_managed_client_is_never_put_and_gets_the_blocks_to_add(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        spec = sim.tenant("acme-eu")
        home = next(o for o in control.snapshot(sim.world)["orgs"] if o["id"] == spec.org_id)["home_division_id"]
        loaded = configured(sim, monkeypatch, tmp_path, "acme-eu", blueprint={"managed_by": "terraform"})
        async with running_daemon(loaded, clock) as run:
            await walk(clock, 61)
            await walk(clock, 120)
            status = run.daemon.statuses()["acme-eu"]
        assert puts(sim) == [], "a Terraform-managed client is never edited"
        (result,) = await checking.check(
            loaded, names=["acme-eu"], clock=LoopClock(), redactor=redaction.Redactor(), environ=os.environ
        )
    assert status.state is labels.State.NEEDS_ATTENTION
    fix = finding(status, MESSAGING)
    assert not fix.fixable
    assert "is managed by Terraform (grants.managed_by), so grantwarden does not edit it" in fix.fix
    block = f'roles {{ role_id = data.genesyscloud_auth_role.messaging_viewer.id, division_id = "{home}" }}'
    assert block in fix.fix
    assert 'data "genesyscloud_auth_role" "messaging_viewer" { name = "Messaging Viewer" }' in fix.fix
    assert fix.command == "grantwarden plan --config facts-test.yaml --tenant acme-eu --format terraform"
    hcl = checking.terraform_report([result])
    assert 'data "genesyscloud_auth_role" "messaging_viewer" {' in hcl
    assert "  role_id     = data.genesyscloud_auth_role.messaging_viewer.id" in hcl
    assert f'  division_id = "{home}"' in hcl
    assert hcl.count("roles {") == 1, "one block per role, however many probes need it"
    assert checking.plan_json(result)["managed_by"] == "terraform"


async def test_a_role_removed_after_a_healthy_cycle_names_who_removed_it_from_the_audit_trail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        spec = sim.tenant("acme")
        may_read_audits(sim, spec.org_id)
        control_orgs.set_ui_user(sim.world, spec.org_id, "agent")
        agent = next(u for u in sim.world.orgs[spec.org_id].users.values() if u.name == "Avery Agent")
        loaded = configured(sim, monkeypatch, tmp_path, "acme", tenant=lambda t: t.update(regrant={"mode": "off"}))
        async with running_daemon(loaded, clock) as run:
            await walk(clock, 61)
            assert run.daemon.statuses()["acme"].state is labels.State.HEALTHY
            control.remove_role(sim.world, spec.client_id, "Messaging Viewer")
            removed_at = clock.now()
            await walk(clock, 60)
            status = run.daemon.statuses()["acme"]
            change = finding(status, MESSAGING).change
            await walk(clock, 180)  # three more cycles of the same failure
            later = finding(run.daemon.statuses()["acme"], MESSAGING).change
        assert status.state is labels.State.NEEDS_ATTENTION
        assert change is not None
        assert f"OAuthClient {spec.client_id}" in change
        assert f"by user Avery Agent ({agent.id}) from 198.51.100.7" in change
        assert "roleDivisions removed 'Messaging Viewer' in division" in change
        assert removed_at > 0
        assert " at 20" in change
        assert later == change, "the story stays with the finding until the probe passes"
        assert len(audit_queries(sim)) == 1, "one query per regression, not per cycle"


async def test_without_audit_rights_the_finding_names_the_permission_that_would_tell(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        spec = sim.tenant("acme")
        loaded = configured(sim, monkeypatch, tmp_path, "acme", tenant=lambda t: t.update(regrant={"mode": "off"}))
        async with running_daemon(loaded, clock) as run:
            await walk(clock, 61)
            control.remove_role(sim.world, spec.client_id, "Messaging Viewer")
            await walk(clock, 60)
            change = finding(run.daemon.statuses()["acme"], MESSAGING).change
    assert change is not None
    assert change.startswith("the audit trail could not be read")
    assert f"OAuth client {spec.admin_client_id}" in change
    assert "audits:audit:view (scope audits:readonly) would allow it" in change


async def test_a_role_that_keeps_disappearing_is_re_added_once_then_reported_with_who_removes_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        spec = sim.tenant("acme")
        may_read_audits(sim, spec.org_id)
        control_orgs.set_ui_user(sim.world, spec.org_id, "agent")
        loaded = configured(sim, monkeypatch, tmp_path, "acme")
        async with running_daemon(loaded, clock) as run:
            await walk(clock, 61)
            states = []
            for _ in range(3):
                control.remove_role(sim.world, spec.client_id, "Messaging Viewer")
                await walk(clock, 120)
                states.append(run.daemon.statuses()["acme"].state)
            status = run.daemon.statuses()["acme"]
        assert states == [labels.State.HEALTHY, labels.State.HEALTHY, labels.State.NEEDS_ATTENTION]
        assert len(puts(sim)) == 2, "added once, re-added once, then left to a person"
    fix = finding(status, MESSAGING)
    assert "something keeps removing role 'Messaging Viewer' from OAuth client" in fix.summary
    assert "grantwarden added it and re-added it once" in fix.fix
    assert "POST /tenants/acme/reconcile" in fix.fix
    assert fix.change is not None
    assert "by user Avery Agent" in fix.change
    assert "removed 'Messaging Viewer'" in fix.change


async def test_an_ip_allowlist_that_leaves_grantwarden_out_names_the_address_and_never_re_mints(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        spec = sim.tenant("acme")
        control_orgs.set_ip_allowlist(sim.world, spec.org_id, ["203.0.113.0/24"])
        loaded = configured(sim, monkeypatch, tmp_path, "acme")
        async with running_daemon(loaded, clock) as run:
            await walk(clock, 61)
            await walk(clock, 180)
            status = run.daemon.statuses()["acme"]
        mints = [r for r in sim.requests(kind="token") if r["client_id"] == spec.client_id]
    assert status.state is labels.State.NEEDS_ATTENTION
    assert status.probes["token"].outcome is labels.Outcome.IP_NOT_AUTHORIZED
    assert set(status.probes) == {"token"}, "every call would be refused the same"
    (refused,) = status.findings
    assert refused.outcome == "ip_not_authorized"
    assert "refuses address 127.0.0.1" in refused.summary
    assert "add 127.0.0.1 to the org's IP address allowlist" in refused.fix
    assert "PATCH /api/v2/organizations/authentication/settings ipAddressAllowlist" in refused.fix
    assert len(mints) == 1, "the address is refused, not the token: no new token is minted for it"
