"""The per-tenant Retry-After floor on a ManualClock.

Covers: an open gate does not sleep, a hold keeps ``wait`` until exactly ``now + seconds``, a
shorter later hold never lowers the floor, a hold raised while waiting is honoured, and the
tenant's stop ends a Retry-After wait at once and lets no further request leave.
"""

from __future__ import annotations

import asyncio

import pytest

from grantwarden.base import clock as clocks
from grantwarden.remote import gate as remote_gate


async def test_an_open_gate_does_not_sleep() -> None:
    clock = clocks.ManualClock()
    await remote_gate.Gate().wait(clock)
    assert clock.sleepers == 0


async def test_a_hold_keeps_waiters_until_it_passes() -> None:
    clock = clocks.ManualClock()
    gate = remote_gate.Gate()
    gate.hold(now=clock.now(), seconds=7)
    waiter = asyncio.create_task(gate.wait(clock))
    await clock.advance(6.5)
    assert not waiter.done()
    await clock.advance(0.5)
    await waiter
    assert gate.not_before == clock.now()


def test_a_shorter_hold_never_lowers_the_floor() -> None:
    gate = remote_gate.Gate()
    gate.hold(now=100.0, seconds=30)
    gate.hold(now=110.0, seconds=5)
    assert gate.not_before == 130.0


async def test_a_hold_raised_while_waiting_is_honoured() -> None:
    clock = clocks.ManualClock()
    gate = remote_gate.Gate()
    start = clock.now()
    gate.hold(now=start, seconds=5)
    waiter = asyncio.create_task(gate.wait(clock))
    await clock.advance(2)
    gate.hold(now=clock.now(), seconds=10)  # another request of the tenant got a 429 meanwhile
    await clock.advance(3)
    assert not waiter.done()
    await clock.advance(9)
    await waiter
    assert clock.now() == start + 14


async def test_a_stop_ends_a_retry_after_wait_at_once() -> None:
    clock = clocks.ManualClock()
    start = clock.now()
    gate = remote_gate.Gate()
    gate.stop = asyncio.Event()
    gate.hold(now=start, seconds=300)
    waiter = asyncio.create_task(gate.wait(clock))
    await clock.settle()
    gate.stop.set()
    with pytest.raises(remote_gate.StoppedError):
        await waiter
    assert clock.now() == start, "the stop, not the 300 s floor, ended the wait"


async def test_no_request_leaves_once_the_tenant_is_stopping() -> None:
    gate = remote_gate.Gate()
    gate.stop = asyncio.Event()
    gate.stop.set()
    with pytest.raises(remote_gate.StoppedError):
        await gate.wait(clocks.ManualClock())  # an open gate, but the tenant is stopping
