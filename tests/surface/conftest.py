"""Fixtures of the surface tests: a ManualClock at NOW, a fresh metrics registry, a server on a
free loopback port (stopped afterwards) and an HTTP client session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import prometheus_client as prom
import pytest

from grantwarden.base import clock as clock_mod
from grantwarden.surface import server
from grantwarden.telemetry import metrics as metrics_mod
from tests.surface.test_server import ADMIN, NOW, Serve


@pytest.fixture
def clock() -> clock_mod.ManualClock:
    return clock_mod.ManualClock(start=NOW)


@pytest.fixture
def metrics() -> metrics_mod.Metrics:
    return metrics_mod.Metrics(registry=prom.CollectorRegistry())


@pytest.fixture
async def serve(clock: clock_mod.ManualClock, metrics: metrics_mod.Metrics) -> AsyncIterator[Serve]:
    started: list[server.Running] = []

    async def _serve(backend: Any, *, admin_token: str | None = ADMIN, **extra: Any) -> server.Running:
        running = await server.start(
            backend=backend, metrics=metrics, listen="127.0.0.1:0", admin_token=admin_token, clock=clock, **extra
        )
        started.append(running)
        return running

    yield _serve
    for running in started:
        await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
