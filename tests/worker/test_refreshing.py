"""refreshing: the refresh loop sleeps until the box says act, then refreshes; nothing else.

Covers, on a ManualClock with a scripted mint: the first token at once; a tick before the planned
refresh does nothing, one at it mints; a failed mint is left to the box (logged there, retried
at its backoff) and the loop sleeps until then; a token dropped elsewhere (a 401) wakes the loop
at once; while a credential's fresh tokens are refused the loop mints nothing ahead of a probe;
the loop ends when the tenant stops, and a stop at the gate during a mint ends it too.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings
from grantwarden.remote import errors, gate, oauth
from grantwarden.worker import refreshing, tokenbox
from tests.worker import fakes


class Mint:
    """Mints 100 s tokens, or raises what it is told to, counting its calls."""

    def __init__(self, clock: clock_mod.Clock) -> None:
        self.clock = clock
        self.calls = 0
        self.failures: list[BaseException] = []

    async def __call__(self) -> oauth.TokenGrant:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return oauth.TokenGrant(
            access_token=f"t-{self.calls}", token_type="bearer", expires_in=100, received_at=self.clock.now()
        )


def setup() -> tuple[clock_mod.ManualClock, Mint, tokenbox.TokenBox]:
    clock = clock_mod.ManualClock(start=0.0)
    mint = Mint(clock)
    refresh = settings.RefreshSettings(at_fraction=0.75, jitter_fraction=0.0)  # refresh at 75 s exactly
    box = tokenbox.TokenBox(tenant="acme", mint=mint, clock=clock, rng=random.Random(1), refresh=refresh, metrics=None)
    return clock, mint, box


@pytest.mark.parametrize(
    ("at", "calls"),
    [
        pytest.param(0.0, 1, id="no-token-mints-at-once"),
        pytest.param(74.0, 1, id="before-refresh-at-nothing"),
        pytest.param(75.0, 2, id="at-refresh-at-mints"),
    ],
)
async def test_a_tick_refreshes_only_when_due(at: float, calls: int) -> None:
    clock, mint, box = setup()
    refresher = refreshing.Refresher(box=box, clock=clock)
    await refresher.tick()
    await clock.advance(at)
    await refresher.tick()
    assert mint.calls == calls


async def test_the_loop_follows_the_box_retries_a_failure_at_its_backoff_and_wakes_when_a_token_is_dropped() -> None:
    clock, mint, box = setup()
    mint.failures = [fakes.server_error()]
    stop = asyncio.Event()
    loop = asyncio.create_task(refreshing.Refresher(box=box, clock=clock).run(stop))
    await clock.settle()
    assert (mint.calls, box.token) == (1, None), "the first mint failed; the box keeps its error"
    assert box.retry_at is not None
    await clock.advance(box.retry_at - clock.now())
    assert mint.calls == 2, "retried at the backoff"
    assert box.token is not None
    box.invalidate(box.token)  # a probe's request got a 401
    await clock.settle()
    assert mint.calls == 3, "a dropped token wakes the loop at once"
    stop.set()
    await clock.settle()
    assert loop.done()
    await loop


async def test_while_fresh_tokens_are_refused_the_loop_mints_nothing_ahead_of_a_probe() -> None:
    clock, mint, box = setup()
    token = await box.get()
    box.refused(token, errors.Unauthorized(fakes.reply(401, {"code": "bad.credentials"})))
    stop = asyncio.Event()
    loop = asyncio.create_task(refreshing.Refresher(box=box, clock=clock).run(stop))
    await clock.advance(600)
    assert mint.calls == 1, "a probe mints after the backoff; the refresh loop does not"
    stop.set()
    await clock.settle()
    await loop


async def test_a_stop_at_the_gate_during_a_mint_ends_the_loop_with_the_stop() -> None:
    clock, mint, box = setup()
    mint.failures = [gate.StoppedError("the tenant is stopping; the request was not sent")]
    with pytest.raises(gate.StoppedError):
        await refreshing.Refresher(box=box, clock=clock).run(asyncio.Event())
    assert (box.failures, box.retry_at) == (0, None), "a stop is no failure of the credential"
