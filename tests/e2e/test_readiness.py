"""Readiness in seconds and rate limits where people look: the daemon on a ManualClock beside the simulator.

Covers: the demo world with the default 60 s probe interval is ready (``/readyz`` 200) within
10 s, since first cycles spread over what minting six tokens takes, not over the interval; a
tenant waiting out a probe's 60 s Retry-After is marked on ``/status`` (seconds to go, the probe
that got the 429) and on the page, even while its state is healthy, and the mark goes once the
wait is over; a 429 from the token endpoint is counted in the tenant's status as a 429 on
``token`` (not only in the metric).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from grantwarden.base.clock import ManualClock
from grantwarden.policy import labels
from grantwarden.simulator import control, faults, testing
from tests.e2e import support
from tests.e2e.daemon_harness import running_daemon

CONFIGURATIONS = "/api/v2/webdeployments/configurations"


async def get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        return answer.status, await (answer.json() if "json" in answer.content_type else answer.text())


async def test_the_demo_with_a_60_s_interval_is_ready_within_10_s(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        loaded = support.demo_config(sim, monkeypatch, tmp_path, edit={"defaults": {"probe_interval": "60s"}})
        assert all(t.probe_interval == 60.0 for t in loaded.settings.tenants)
        async with running_daemon(loaded, clock) as d:
            start = clock.now()
            assert (await get(d.http.url + "/readyz"))[0] == 503
            while not d.daemon.ready() and clock.now() - start < 60:
                await clock.advance(1)
            took = clock.now() - start
            assert took <= 10, f"ready after {took:g} s"
            status, body = await get(d.http.url + "/readyz")
            assert (status, body["starting"], body["tenants"]) == (200, 0, len(loaded.settings.tenants))


async def test_a_tenant_waiting_out_a_retry_after_is_marked_while_it_waits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        loaded = support.demo_config(sim, monkeypatch, tmp_path, only=["acme"])
        async with running_daemon(loaded, clock) as d:
            await clock.advance(5)
            status = d.daemon.statuses()["acme"]
            assert status.state is labels.State.HEALTHY
            control.set_fault(
                sim.world, faults.Fault(CONFIGURATIONS, faults.Action.STATUS, status=429, retry_after=60, times=1)
            )
            status.reconcile_requested.set()  # a cycle now, which meets the 429 and waits it out
            await clock.advance(20)
            _, body = await get(d.http.url + "/status")
            [tenant] = body["tenants"]
            assert tenant["state"] == "healthy", "a 429 never changes the state"
            limited = tenant["rate_limited"]
            assert limited["last_probe"] == "webdeployments-configurations"
            assert 35 <= limited["waiting_s"] <= 40
            _, page = await get(d.http.url + "/")
            assert "waiting out a Retry-After" in page
            assert "429 on webdeployments-configurations" in page

            await clock.advance(45)
            _, body = await get(d.http.url + "/status")
            assert body["tenants"][0]["rate_limited"]["waiting_s"] == 0
            assert status.probes["webdeployments-configurations"].outcome is labels.Outcome.OK, "retried past it"
            assert "waiting out a Retry-After" not in (await get(d.http.url + "/"))[1]


async def test_a_429_from_the_token_endpoint_shows_in_the_tenants_status(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        control.set_fault(sim.world, faults.Fault("/oauth/token", faults.Action.STATUS, status=429, retry_after=30))
        loaded = support.demo_config(sim, monkeypatch, tmp_path, only=["acme"])
        async with running_daemon(loaded, clock) as d:
            await clock.advance(2)
            _, body = await get(d.http.url + "/status")
            limited = body["tenants"][0]["rate_limited"]
            assert limited["count"] >= 1
            assert limited["last_probe"] == "token"
            assert limited["waiting_s"] > 0
            assert d.registry.get_sample_value("grantwarden_rate_limited_total", {"tenant": "acme"}) == limited["count"]
            control.clear_faults(sim.world)
