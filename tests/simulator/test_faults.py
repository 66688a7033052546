"""Injected faults: latency on the clock, error statuses, drops, bad JSON, load-balancer pages.

Covers: latency holds the answer until the ManualClock passes it; a status fault answers the
platform ErrorBody (and 429 with Retry-After); ``times`` limits a fault; ``rate`` draws from a
seeded RNG (same seed, same draws); a drop closes the connection (logged with status 0);
malformed JSON is a 200 with a truncated body; the load-balancer page is HTML without a
correlation id; the longest prefix wins, prefixes match region-prefixed paths too, faults
never touch the control API, and clearing restores service.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterable
from typing import Any

import aiohttp
import pytest

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import control, faults

from .conftest import Api

ME = "/api/v2/tokens/me"


class WatchedClock(ManualClock):
    """A ManualClock that tells when someone started sleeping on it (a request under latency)."""

    def __init__(self) -> None:
        super().__init__()
        self.slept = asyncio.Event()

    async def sleep(self, delay: float, *, wakeup: Iterable[asyncio.Event] = ()) -> bool:
        self.slept.set()
        return await super().sleep(delay, wakeup=wakeup)


@pytest.fixture
def clock() -> ManualClock:
    return WatchedClock()


async def test_latency_holds_the_answer_until_the_clock_passes_it(api: Api, clock: ManualClock) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    control.set_fault(api.sim.world, faults.Fault("/api/v2/tokens", latency_seconds=2.0))
    pending = asyncio.ensure_future(api.get(ME, token))
    assert isinstance(clock, WatchedClock)
    await asyncio.wait_for(clock.slept.wait(), timeout=5)
    await clock.settle()
    assert not pending.done()
    await clock.advance(2)
    assert (await pending).status == 200


async def test_a_status_fault_answers_the_platform_error_body(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    control.set_fault(api.sim.world, faults.Fault("/api/v2/", action=faults.Action.STATUS, status=503))
    reply = await api.get(ME, token)
    assert (reply.status, reply.code) == (503, "service.unavailable")
    assert reply.json["contextId"] == reply.headers["ININ-Correlation-Id"]
    custom = faults.Fault("/api/v2/", action=faults.Action.STATUS, status=500, code="internal.server.error")
    control.set_fault(api.sim.world, custom)
    assert (await api.get(ME, token)).code == "internal.server.error"


async def test_a_429_fault_carries_retry_after(api: Api) -> None:
    control.set_fault(
        api.sim.world, faults.Fault("/oauth/token", action=faults.Action.STATUS, status=429, retry_after=7)
    )
    reply = await api.token_request({"grant_type": "client_credentials"})
    assert (reply.status, reply.headers["Retry-After"], reply.code) == (429, "7", "too.many.requests.retry.after")


async def test_a_fault_with_times_goes_away_after_that_many_requests(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    control.set_fault(api.sim.world, faults.Fault(ME, action=faults.Action.STATUS, status=500, times=2))
    assert [(await api.get(ME, token)).status for _ in range(3)] == [500, 500, 200]
    assert control.snapshot(api.sim.world)["faults"] == []


def test_a_fault_rate_draws_from_the_seeded_rng() -> None:
    def draws(seed: int) -> list[bool]:
        table = faults.Table()
        table.set(faults.Fault("/", action=faults.Action.DROP, rate=0.5))
        rng = random.Random(seed)
        return [table.draw(("/x",), rng) is not None for _ in range(40)]

    assert draws(7) == draws(7)
    assert 5 < sum(draws(7)) < 35


async def test_a_drop_closes_the_connection_without_an_answer(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    control.set_fault(api.sim.world, faults.Fault(ME, action=faults.Action.DROP))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.get(ME, token)
    assert api.sim.requests(kind="api")[-1]["status"] == 0


async def test_malformed_json_is_a_200_with_a_truncated_body(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    control.set_fault(api.sim.world, faults.Fault("/api/v2/webdeployments", action=faults.Action.MALFORMED))
    reply = await api.get("/api/v2/webdeployments/deployments", token)
    assert reply.status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.text)


async def test_a_load_balancer_page_is_html_without_a_correlation_id(api: Api) -> None:
    token = await api.mint(api.sim.tenant("acme").client_id)
    control.set_fault(api.sim.world, faults.Fault("/api/", action=faults.Action.HTML, status=502))
    reply = await api.get(ME, token)
    assert reply.status == 502
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "<title>502 Bad Gateway</title>" in reply.text
    assert "ININ-Correlation-Id" not in reply.headers


async def test_the_longest_prefix_wins_and_region_prefixed_paths_match(api: Api) -> None:
    eu = api.sim.tenant("acme-eu")
    token = await api.mint(eu.client_id)
    control.set_fault(api.sim.world, faults.Fault("/api/", action=faults.Action.STATUS, status=503))
    control.set_fault(api.sim.world, faults.Fault("/api/v2/tokens/me", action=faults.Action.STATUS, status=504))
    assert (await api.get(ME, token, region=eu.region)).status == 504
    assert (await api.get("/api/v2/organizations/me", token, region=eu.region)).status == 503
    control.clear_faults(api.sim.world, "/api/v2/tokens/me")
    assert (await api.get(ME, token, region=eu.region)).status == 503
    control.clear_faults(api.sim.world)
    assert (await api.get(ME, token, region=eu.region)).status == 200


async def test_faults_never_touch_the_control_api(api: Api) -> None:
    control.set_fault(api.sim.world, faults.Fault("/", action=faults.Action.STATUS, status=500))
    assert (await api.call("GET", "/__sim/state")).status == 200


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        pytest.param({"prefix": "api"}, "starting with /", id="relative-prefix"),
        pytest.param({"prefix": "/", "rate": 2.0}, "between 0 and 1", id="rate"),
        pytest.param({"prefix": "/", "latency_seconds": -1.0}, "must not be negative", id="latency"),
        pytest.param({"prefix": "/", "action": faults.Action.STATUS, "status": 200}, "HTTP error status", id="status"),
        pytest.param({"prefix": "/", "times": 0}, "at least 1", id="times"),
    ],
)
def test_a_fault_refuses_impossible_values(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        faults.Fault(**fields)
