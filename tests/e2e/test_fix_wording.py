"""``grantwarden check`` on the simulator: findings say what really happens, end to end.

Covers: with ``regrant.dry_run`` the secondary org's fix says grantwarden would add the role and
how to apply it (never "will add"), while its state stays degraded; a tenant whose secret
variable is unset by the time it mints gets a finding that its secret cannot be resolved
(needs attention, unauthorized, not an "unexpected answer"), a token error naming the config
path and the variable, and no token request at all.
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

pytestmark = pytest.mark.e2e


async def test_a_dry_run_fix_says_would_add_and_how_to_apply(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    async with testing.running(support.DEMO) as sim:
        edit = {"defaults": {"regrant": {"dry_run": True}}}
        loaded = support.demo_config(sim, monkeypatch, tmp_path, only=["acme-eu"], edit=edit)
        (result,) = await checking.check(
            loaded, names=None, clock=LoopClock(), redactor=redaction.Redactor(), environ=os.environ
        )

    assert result.status.state is labels.State.DEGRADED
    finding = next(f for f in result.status.findings if f.probe == "messaging-integrations")
    assert finding.fix.startswith("grantwarden would add the allow-listed role 'Messaging Viewer'")
    assert finding.fix.endswith("(dry run: set regrant.dry_run to false to apply).")
    assert "will add" not in finding.fix


async def test_an_unset_secret_variable_is_a_config_finding_and_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with testing.running(support.DEMO) as sim:
        loaded = support.demo_config(sim, monkeypatch, tmp_path, only=["acme-ca"])
        monkeypatch.delenv("GW_ACME_CA_SECRET")  # resolved when the file was loaded, gone at mint time
        redactor = redaction.Redactor()
        (result,) = await checking.check(loaded, names=None, clock=LoopClock(), redactor=redactor, environ=os.environ)
        token_requests = sim.requests(kind="token")

    status = result.status
    assert token_requests == []
    assert status.state is labels.State.NEEDS_ATTENTION
    (finding,) = status.findings
    assert finding.outcome == labels.Outcome.UNAUTHORIZED
    assert "client secret" in finding.summary
    assert "cannot be resolved, so no token was requested" in finding.summary
    assert "credentials.client_secret of tenant acme-ca names in demo-test.yaml" in finding.fix
    assert status.token_last_error is not None
    assert status.token_last_error.endswith(
        "credentials.client_secret of tenant acme-ca in demo-test.yaml cannot be resolved, so no token was "
        "requested: environment variable GW_ACME_CA_SECRET is not set or empty"
    )
    assert redactor.redact_text(status.token_last_error) == status.token_last_error
