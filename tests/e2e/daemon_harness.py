"""Running the whole daemon in-process on a ManualClock beside the simulator.

``running_daemon`` starts ``runtime.run`` exactly as ``grantwarden run`` does (minus signal
handlers; the environment a snapshot of the process's, where ``support.demo_config`` put the
secrets, unless the test gives one), on the test's clock, and stops it on exit; the watchdog ticks hourly so that
``clock.advance`` does not spend its time waking it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Mapping

import prometheus_client

from grantwarden.app import runtime
from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction
from grantwarden.config import loading as configfile
from grantwarden.surface import server


@dataclasses.dataclass
class Running:
    daemon: runtime.Daemon
    http: server.Running
    registry: prometheus_client.CollectorRegistry
    stop: asyncio.Event
    task: asyncio.Task[int]


@contextlib.asynccontextmanager
async def running_daemon(
    loaded: configfile.Loaded, clock: clock_mod.Clock, *, seed: int = 7, environ: Mapping[str, str] | None = None
) -> AsyncIterator[Running]:
    registry = prometheus_client.CollectorRegistry()
    started: asyncio.Future[tuple[runtime.Daemon, server.Running]] = asyncio.get_running_loop().create_future()
    options = runtime.Options(
        clock=clock,
        environ=dict(os.environ) if environ is None else environ,
        redactor=redaction.Redactor(),
        registry=registry,
        install_signals=False,
        watchdog_interval_s=3600.0,
        seed=seed,
        on_started=lambda daemon, http: started.set_result((daemon, http)),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(loaded, options, stop), name="daemon")
    daemon, http = await started
    try:
        yield Running(daemon, http, registry, stop, task)
    finally:
        stop.set()
        if isinstance(clock, clock_mod.ManualClock):
            while not task.done():
                await clock.advance(1.0)
        assert await task == 0
