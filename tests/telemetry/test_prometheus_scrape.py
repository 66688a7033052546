"""The real Prometheus tools against the server's /metrics: what dashboards and alerts will see.

Covers: ``promtool check metrics`` finds no problem in the exposition of every metric family
with values; a real Prometheus scrapes the server (``up{job="grantwarden"} == 1``), reading it
gzip-compressed (a relay between the two sees only compressed answers go by), and its
``grantwarden_tenant_state{state="needs_attention"}`` query returns exactly the tenants in that
state. Both fail, never skip, when the binaries are missing (``make system-deps`` installs them).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator

import aiohttp
import prometheus_client as prom
import pytest

from grantwarden.base import clock as clock_mod
from grantwarden.policy import labels
from grantwarden.surface import server
from grantwarden.telemetry import metrics as metrics_mod
from tests import prom as prom_harness
from tests.surface.test_server import FakeBackend, tenant

pytestmark = pytest.mark.e2e
S = labels.State


def populated() -> tuple[FakeBackend, metrics_mod.Metrics]:
    """A backend of five tenants in four states, and metrics with a sample in every family."""
    backend = FakeBackend.of(
        tenant("acme"),
        tenant("acme-eu", S.NEEDS_ATTENTION),
        tenant("beta", S.NEEDS_ATTENTION),
        tenant("gamma", S.DEGRADED),
        tenant("delta", S.UNREACHABLE),
    )
    metrics = metrics_mod.Metrics(registry=prom.CollectorRegistry())
    for status in backend.tenants.values():
        metrics.set_state(status.tenant, status.state)
        series = metrics.tenant(status.tenant)
        series.token_expiry, series.token_refresh = 1_800_003_600, 1_800_002_700
        series.count_token_request(labels.TokenResult.OK)
        series.record_probe("organization", labels.Outcome.OK, 200)
    metrics.probe_duration_of("organization").observe(0.12)
    metrics.set_missing("acme-eu", ["messaging:integration:view"])
    metrics.tenant("gamma").count_regrant(labels.RegrantResult.PLANNED)
    metrics.tenant("delta").rate_limited += 1
    metrics.tenant("beta").worker_restarts += 1
    metrics.shard_ordinal.set(0)
    metrics.total_shards.set(1)
    metrics.config_reload_ok.set(1)
    return backend, metrics


@pytest.fixture
async def listening() -> AsyncIterator[server.Running]:
    backend, metrics = populated()
    running = await server.start(
        backend=backend, metrics=metrics, listen="127.0.0.1:0", admin_token=None, clock=clock_mod.LoopClock()
    )
    yield running
    await running.stop()


async def test_promtool_finds_no_problem_in_the_metrics(listening: server.Running) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install -y prometheus (Debian), or run make test as root"
    async with aiohttp.ClientSession() as http, http.get(listening.url + "/metrics") as response:
        exposition = await response.read()
    assert b"grantwarden_missing_permission{" in exposition
    checker = await asyncio.create_subprocess_exec(
        promtool,
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    report, _ = await checker.communicate(exposition)
    assert (checker.returncode, report.decode()) == (0, "")


@contextlib.asynccontextmanager
async def relay(port: int) -> AsyncIterator[tuple[int, bytearray]]:
    """A TCP relay on a free loopback port to ``port``: its port, and every byte the server sent back."""
    answers = bytearray()
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keep: bytearray | None) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(1 << 16):
                if keep is not None:
                    keep.extend(data)
                writer.write(data)
                await writer.drain()
        writer.close()

    async def connected(client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # a handler always runs in a task of its own
        tasks.add(task)
        server_in, server_out = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(client_in, server_out, None), pipe(server_in, client_out, answers))

    listener = await asyncio.start_server(connected, "127.0.0.1", 0)
    try:
        yield listener.sockets[0].getsockname()[1], answers
    finally:
        listener.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await listener.wait_closed()


async def test_prometheus_scrapes_the_server_compressed_and_sees_who_needs_attention(
    listening: server.Running,
) -> None:
    async with relay(listening.port) as (port, answers), prom_harness.running(f"127.0.0.1:{port}") as prometheus:
        await prometheus.wait_for('up{job="grantwarden"}', lambda result: prom_harness.sample(result) == [1.0])
        result = await prometheus.wait_for(
            'grantwarden_tenant_state{job="grantwarden",state="needs_attention"} == 1', lambda result: bool(result)
        )
    assert sorted(series["metric"]["tenant"] for series in result) == ["acme-eu", "beta"]
    assert b"\r\nContent-Encoding: gzip\r\n" in answers
    assert b"grantwarden_tenant_state{" not in answers, "an answer went out uncompressed"
