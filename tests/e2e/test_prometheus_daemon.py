"""A real Prometheus scraping the whole daemon while it works the simulator's demo world.

Covers: Prometheus scrapes the daemon (``up{job="grantwarden"} == 1``) and its
``grantwarden_tenant_state`` shows one current state per demo tenant: the primary and Canadian
orgs healthy, the repaired secondary org healthy after a verified re-grant (its counter scraped
too), the wrong-org, unlicensed and unauthorised user-grant tenants in needs_attention. Everything
runs in real time (``LoopClock``) with a 2 s probe interval, and fails, never skips, without
Prometheus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grantwarden.base.clock import LoopClock
from grantwarden.simulator import control, testing
from tests import prom
from tests.e2e import support
from tests.e2e.daemon_harness import running_daemon
from tests.e2e.test_run_command import ACME_CA, FAST

pytestmark = pytest.mark.e2e

EXPECTED = {
    "acme": "healthy",
    "acme-ca": "healthy",
    "acme-eu": "healthy",
    "acme-apac": "needs_attention",
    "acme-latam": "needs_attention",
    "acme-agent-desktop": "needs_attention",
}


def current_states(result: prom.Result) -> dict[str, str]:
    return {series["metric"]["tenant"]: series["metric"]["state"] for series in result}


async def test_prometheus_scrapes_the_daemon_and_sees_every_tenants_state(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with testing.running(support.DEMO) as sim:
        control.set_propagation(sim.world, 1.0)  # the re-grant verifies within seconds
        # Without acme-ca's demo budget (4 requests a minute), whose 429 a pass waits out for 60 s.
        control.set_rate_limits(sim.world, org_id=ACME_CA, token_requests_per_minute=300)
        loaded = support.demo_config(sim, monkeypatch, tmp_path, edit={"defaults": FAST})
        async with running_daemon(loaded, LoopClock()) as run, prom.running(f"127.0.0.1:{run.http.port}") as server:
            await server.wait_for('up{job="grantwarden"}', lambda result: prom.sample(result) == [1.0])
            result = await server.wait_for(
                'grantwarden_tenant_state{job="grantwarden"} == 1',
                lambda result: EXPECTED.items() <= current_states(result).items(),
                timeout_s=30.0,
            )
            assert len(result) == len(loaded.settings.tenants), "one current state per tenant"
            verified = await server.query('grantwarden_regrants_total{tenant="acme-eu",result="verified"}')
            assert prom.sample(verified) == [1.0]
