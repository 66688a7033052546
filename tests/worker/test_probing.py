"""probing: a tenant's probes run at most ``probe_concurrency`` at a time, every one of them.

Covers: with five endpoint probes and a concurrency of 2 (then 4, then 8), the identity check
runs first and alone, no more than the concurrency are ever in flight, the next starts as soon
as one finishes, and every probe gets its record; a stop noticed in one lane ends the pass with
the one stop signal and cancels the other lanes' requests.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings
from grantwarden.policy import catalog
from grantwarden.remote import client as remote_client
from grantwarden.remote import errors, gate, models, oauth
from grantwarden.simulator import tenancy
from grantwarden.worker import probing, tokenbox
from tests.worker import fakes

ORG = "org-1"


class SlowPlatform:
    """The tenant's API, answering probes when told to; records how many were in flight at most."""

    def __init__(self, box: tokenbox.TokenBox) -> None:
        self.box = box
        self.gate = gate.Gate()
        self.in_flight = 0
        self.most = 0
        self.started: list[str] = []
        self.release = asyncio.Queue[None]()

    async def tokens_me(self) -> models.TokenInfo:
        assert self.in_flight == 0, "the identity check runs before any other probe"
        return models.TokenInfo.model_validate({"organization": {"id": ORG}})

    async def get(self, path: str, *, read: bool = True) -> remote_client.ApiReply:
        self.started.append(path)
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await self.release.get()
        self.in_flight -= 1
        return remote_client.ApiReply(200, None, errors.Reply(method="GET", path=path, status=200))


class NoRateLimits:
    def rate_limited(self, probe: str, retry_after: float | None) -> None:
        raise AssertionError("no 429 here")


async def mint() -> oauth.TokenGrant:
    return oauth.TokenGrant(access_token="t", token_type="bearer", expires_in=3600, received_at=0.0)


@pytest.mark.parametrize("concurrency", [2, 4, 8])
async def test_probes_run_at_most_the_concurrency_at_once_and_all_of_them(concurrency: int) -> None:
    clock = clock_mod.ManualClock()
    box = tokenbox.TokenBox(
        tenant="t", mint=mint, clock=clock, rng=random.Random(1), refresh=settings.RefreshSettings(), metrics=None
    )
    platform = SlowPlatform(box)
    probes = tuple(catalog.BUILTIN[name] for name in tenancy.DEFAULT_PROBES)
    prober = probing.Prober(
        org_id=ORG,
        probes=probes,
        api=platform,  # type: ignore[arg-type]  # the two calls a prober makes
        clock=clock,
        concurrency=concurrency,
        rate_limits=NoRateLimits(),
    )
    endpoint_probes = len(probes) - 1
    running = asyncio.ensure_future(prober.run())
    for answered in range(endpoint_probes):
        await clock.settle()
        assert platform.in_flight == min(concurrency, endpoint_probes - answered)
        platform.release.put_nowait(None)
    observed = await running
    assert platform.most == min(concurrency, endpoint_probes)
    assert len(platform.started) == endpoint_probes
    assert set(observed.records) == {p.name for p in probes}


class StopsAtTheGate(fakes.FakeApi):
    """One probe's request meets the tenant's stop at the gate; the others hang until cancelled."""

    def __init__(self, clock: clock_mod.Clock) -> None:
        super().__init__(clock)
        self.cancelled = 0

    async def get(self, path: str, *, read: bool = True) -> remote_client.ApiReply:
        if path == fakes.SETTINGS.path:
            raise gate.StoppedError("the tenant is stopping; the request was not sent")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        raise AssertionError("unreachable")


async def test_a_stop_in_one_lane_ends_the_pass_and_cancels_the_other_lanes() -> None:
    clock = clock_mod.ManualClock()
    api = StopsAtTheGate(clock)
    probes = (fakes.INTEGRATIONS, fakes.DEPLOYMENTS, fakes.SETTINGS)
    prober = probing.Prober(
        org_id=fakes.ORG, probes=probes, api=api, clock=clock, concurrency=3, rate_limits=NoRateLimits()
    )  # type: ignore[arg-type]
    stopped = False
    try:
        await prober.run()
    except* gate.StoppedError:
        stopped = True
    assert stopped, "the stop reaches the tenant's loop as it was raised"
    assert api.cancelled == 2
