"""A tenant that acts in its org through an org trust, end to end against the demo world.

Covers: the partner's consultant signs in with ``target=`` and ``check`` names the trust tenant
healthy, acting in acme; with a trustor role taken away, the messaging probes are
``missing_trustor_permission``, the tenant needs attention and the fix names the trust (both
orgs), the trustee user and the missing trustor role read with the tenant's admin identity, or,
without one, the permission that would let grantwarden read it; nothing is ever PUT; a trusted
user's token is not accepted by a tenant that does not declare the trust, and a trust tenant
whose sign-in acts in the partner's own org is told to sign in with ``target=``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from grantwarden.app import checking
from grantwarden.base import redaction
from grantwarden.base.clock import LoopClock
from grantwarden.config import loading as configfile
from grantwarden.demo import consent as demo_consent
from grantwarden.policy import labels
from grantwarden.simulator import control, control_orgs, emitting, testing
from tests.e2e import support

TENANT = "acme-via-partner"
PARTNER_ORG = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
MESSAGING = ("messaging-integrations", "messaging-supported-content")


def configured(
    sim: testing.Simulator, monkeypatch: pytest.MonkeyPatch, state_dir: Path, **changes: Any
) -> configfile.Loaded:
    """The demo's configuration of the trust tenant alone, with ``changes`` to that tenant."""
    raw, env = emitting.render(sim.world, sim.base_url, state_dir=str(state_dir))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tenant,) = [t for t in raw["tenants"] if t["name"] == TENANT]
    trust = changes.pop("trust", True)
    if not trust:
        del tenant["credentials"]["trust"]
    if admin := changes.pop("admin", None):
        tenant["admin_credentials"] = admin
    raw["tenants"] = [{**tenant, **changes}]
    loaded = configfile.load_mapping(raw, source="trust-test.yaml", environ={})
    configfile.resolve_secrets(loaded, environ=os.environ)
    return loaded


def acme_admin(sim: testing.Simulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """acme's admin client, given a role that reads trust members and roles (authorization:*)."""
    admin_id = sim.tenant("acme").admin_client_id
    assert admin_id is not None
    control.add_role(sim.world, admin_id, "Everything", "*")
    monkeypatch.setenv("TRUST_TEST_ADMIN_SECRET", sim.secret(admin_id))
    return {"client_id": admin_id, "client_secret": {"env": "TRUST_TEST_ADMIN_SECRET"}}


async def sign_in(loaded: configfile.Loaded) -> str:
    """``grantwarden authorize`` for the trust tenant, the simulator consenting at once; its line."""
    async with aiohttp.ClientSession() as session:
        person = demo_consent.Consent(
            loaded, environ=os.environ, session=session, clock=LoopClock(), redactor=redaction.Redactor()
        )
        (line,) = await person.authorize(TENANT, first=True)
    return line.text


async def check(loaded: configfile.Loaded) -> checking.Checked:
    (result,) = await checking.check(
        loaded, names=[TENANT], clock=LoopClock(), redactor=redaction.Redactor(), environ=os.environ
    )
    return result


def puts(sim: testing.Simulator) -> list[dict[str, Any]]:
    return [r for r in sim.requests(kind="api") if r["method"] == "PUT"]


async def test_check_names_the_trust_tenant_healthy_acting_in_its_org(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with testing.running(support.DEMO) as sim:
        loaded = configured(sim, monkeypatch, tmp_path)
        acme = sim.tenant(TENANT).org_id
        said = await sign_in(loaded)
        result = await check(loaded)
    assert f"target={acme}" in said
    assert f"the token acts in org {acme} through the org trust" in said
    status = result.status
    assert (status.state, status.identity_org_id, status.findings) == (labels.State.HEALTHY, acme, ())
    assert {p.outcome for p in status.probes.values()} == {labels.Outcome.OK}


async def test_a_member_lacking_a_trustor_role_is_named_with_the_role_the_trust_and_the_user(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with testing.running(support.DEMO) as sim:
        acme = sim.tenant(TENANT).org_id
        loaded = configured(sim, monkeypatch, tmp_path, admin=acme_admin(sim, monkeypatch))
        await sign_in(loaded)
        control_orgs.remove_trust_role(sim.world, acme, PARTNER_ORG, "consultant", "Messaging Viewer")
        result = await check(loaded)
        assert puts(sim) == [], "a trust is never changed, nor the partner's client"
    status = result.status
    assert status.state is labels.State.NEEDS_ATTENTION
    failing = {name: p.outcome for name, p in status.probes.items() if p.outcome is not labels.Outcome.OK}
    assert failing == dict.fromkeys(MESSAGING, labels.Outcome.MISSING_TRUSTOR_PERMISSION)
    finding = next(f for f in status.findings if f.probe == "messaging-integrations")
    assert not finding.fixable
    assert finding.missing == ("messaging:integration:view",)
    assert "user Pat Partner (" in finding.summary
    assert f"the org trust from org {acme} (trustor) to org {PARTNER_ORG} (trustee)" in finding.summary
    assert f"Ask an admin of org {acme} (the trustor)" in finding.fix
    assert "the trustor role 'Messaging Viewer'" in finding.fix
    assert "it holds 'Web Deployments Viewer' there now" in finding.fix
    assert "grantwarden changes no trust" in finding.fix
    assert "refused (trustor_role)" in checking.plan_text(result.cycle)


async def test_without_an_admin_identity_the_fix_names_the_permission_that_would_name_the_role(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with testing.running(support.DEMO) as sim:
        acme = sim.tenant(TENANT).org_id
        loaded = configured(sim, monkeypatch, tmp_path)
        await sign_in(loaded)
        control_orgs.remove_trust_role(sim.world, acme, PARTNER_ORG, "consultant", "Messaging Viewer")
        result = await check(loaded)
    finding = next(f for f in result.status.findings if f.probe == "messaging-integrations")
    assert finding.outcome == "missing_trustor_permission"
    assert "a trustor role granting messaging:integration:view" in finding.fix
    assert "the tenant has no admin_credentials" in finding.fix
    assert "authorization:orgTrusteeUser:view" in finding.fix


async def test_a_trusted_users_token_is_wrong_org_for_a_tenant_that_declares_no_trust(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with testing.running(support.DEMO) as sim:
        await sign_in(configured(sim, monkeypatch, tmp_path))  # with target=: the token acts in acme
        result = await check(configured(sim, monkeypatch, tmp_path, trust=False))
    status = result.status
    assert status.state is labels.State.NEEDS_ATTENTION
    assert status.probes["token"].outcome is labels.Outcome.WRONG_ORG
    (finding,) = status.findings
    assert f"as a trusted user of org {PARTNER_ORG}" in finding.summary
    assert f"set credentials.trust.home_org_id to {PARTNER_ORG}" in finding.fix


async def test_a_trust_tenant_signed_in_without_target_is_told_to_sign_in_with_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with testing.running(support.DEMO) as sim:
        acme = sim.tenant(TENANT).org_id
        await sign_in(configured(sim, monkeypatch, tmp_path, trust=False))  # no target=: the partner's own org
        result = await check(configured(sim, monkeypatch, tmp_path))
    (finding,) = result.status.findings
    assert finding.outcome == "wrong_org"
    assert f"acts in org {PARTNER_ORG} (home org {PARTNER_ORG}), not in org {acme}" in finding.summary
    assert f"target={acme}" in finding.fix
    assert f"the trust from org {acme} to org {PARTNER_ORG} is disabled, expired" in finding.fix
    assert finding.command is not None
    assert "grantwarden authorize" in finding.command
