"""The integration beside grantwarden, written with the official Python SDK, on the hand-off alone.

Covers design.md §2.8 end to end, daemon and simulator on one ManualClock, the hand-off on a unix
socket in a temporary directory: the integration never holds a secret; it takes acme's token from
``GET /v1/tenants/acme/token`` and calls the messaging API with ``PureCloudPlatformClientV2``
(``ApiClient(host=api_base_url)`` with ``access_token``); a role removed from its OAuth client makes
the SDK raise a 403, which the integration reports to ``/refusals``; grantwarden diagnoses the
operation, which none of its own probes covers, re-grants the allow-listed role with the admin
identity, verifies it by repeating that GET, and the integration's next call passes. The token is
handed out only after the identity check, and is the one the platform issued for acme's client.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import control, testing
from tests.e2e import integration, support
from tests.e2e.daemon_harness import running_daemon

pytestmark = pytest.mark.e2e


async def test_an_sdk_integration_reports_a_403_and_grantwarden_regrants_the_role(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    sock = tmp_path / "handoff.sock"
    # grantwarden's own probes do not cover the messaging API: only the integration's report tells
    grants = {"roles": ["Messaging Viewer", "Web Deployments Viewer"], "division": "home"}
    edit = {
        "handoff": {"listen": f"unix:{sock}"},
        "defaults": {"probe_interval": "300s"},
        "blueprints": {"messaging-core": {"probes": ["token", "organization"], "grants": grants}},
    }
    async with testing.running(support.DEMO, clock=clock) as sim:
        acme = sim.tenant("acme")
        loaded = support.demo_config(sim, monkeypatch, tmp_path, only=["acme"], edit=edit)
        app = integration.Integration(str(sock), "acme")
        with capture_logs(processors=[merge_contextvars]) as logs:
            async with running_daemon(loaded, clock):
                status, refused, _ = await asyncio.to_thread(
                    integration.ask, str(sock), "GET", "/v1/tenants/acme/token"
                )
                assert (status, refused["error"]) == (503, "identity_not_verified"), (
                    "no token before the identity check"
                )
                await clock.advance(301)  # the first cycle: identity checked
                handout = await asyncio.to_thread(app.handout)
                assert handout["org_id"] == acme.org_id
                assert handout["access_token"] in sim.world.tokens.access, "a token the platform issued"
                assert await asyncio.to_thread(app.messaging_settings) == 200

                control.remove_role(sim.world, acme.client_id, "Messaging Viewer")
                assert await asyncio.to_thread(app.messaging_settings) == 403
                (answer,) = app.reports
                assert answer["outcome"] == "missing_permission"
                assert answer["operation"] == "traffic:get-conversations-messaging-settings"
                assert answer["action"] == "diagnosing"
                assert "messaging:setting:view" in answer["finding"]

                for _ in range(12):  # the woken cycle re-grants; the 5 s propagation is waited out
                    await clock.advance(5)
                assert await asyncio.to_thread(app.messaging_settings) == 200
        events = [e["event"] for e in logs if e["event"].startswith("regrant_") or e["event"] == "refusal_reported"]
        assert events == ["refusal_reported", "regrant_planned", "regrant_applied", "regrant_verified"]
        verified = next(e for e in logs if e["event"] == "regrant_verified")
        assert verified["probes"] == ["traffic:get-conversations-messaging-settings"]
