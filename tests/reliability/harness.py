"""The fault matrix's stage: a small generated world, the whole daemon, one ManualClock.

Three tenants, each its own org in its own region, so that a fault injected under one region's
path prefix (``/regions/eu-west-1/...``) reaches one tenant and leaves the others clean:

    tenant-00000  us-east-1       served at the root           clean
    tenant-00001  eu-west-1       /regions/eu-west-1/...        the tenant under fault
    tenant-00002  ap-southeast-2  /regions/ap-southeast-2/...   clean

The daemon runs in-process (``runtime.run``, SIGHUP handled as in production) beside the
simulator on the same ManualClock. Two things there run on real time and the stage deals with
them: the HTTP timeouts (aiohttp measures them on the event loop, so a "slow" answer is one the
test holds back on the ManualClock while real time passes) and loopback I/O itself. ``step``
therefore moves the clock to its next deadline and then waits, in real time, until no watched
tenant is in the middle of a cycle: a cycle that does not end within ``STUCK_S`` real seconds is
a hang, and the stage fails on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import prometheus_client
import yaml
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from grantwarden.app import runtime
from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction
from grantwarden.config import loading as configfile
from grantwarden.remote import client as remote_client
from grantwarden.simulator import emitting, generator, testing
from grantwarden.surface import server
from grantwarden.worker import status as health

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
FAULTED = "tenant-00001"
CLEAN = ("tenant-00000", "tenant-00002")
TENANTS = (CLEAN[0], FAULTED, CLEAN[1])
FAULTED_REGION = REGIONS[1]
PREFIX = f"/regions/{FAULTED_REGION}"  # every request of the tenant under fault starts with this

INTERVAL_S = 10.0  # probe_interval of every tenant
FAULTED_TIMEOUT_S = 0.5  # the faulted tenant's probe_timeout: real seconds a timeout costs
TOKEN_TIMEOUT_S = 0.5  # the token endpoint's timeout while the matrix runs (production: 10 s)
STUCK_S = 5.0  # real seconds a cycle may take before the stage calls it a hang


@contextlib.contextmanager
def short_token_timeout(seconds: float = TOKEN_TIMEOUT_S) -> Iterator[None]:
    """Shorten the token endpoint's timeout, which no setting reaches (remote/client.py).

    Minting uses ``Client(timeout_s=DEFAULT_TIMEOUT_S)``, 10 s, whatever the tenant's
    probe_timeout; a matrix row that lets the token endpoint hang would spend 10 real seconds
    per attempt. Only the constant changes: the code path is the production one.
    """
    defaults = remote_client.Client.__init__.__kwdefaults__
    assert defaults is not None
    before = defaults["timeout_s"]
    defaults["timeout_s"] = seconds
    try:
        yield
    finally:
        defaults["timeout_s"] = before


def render(sim: testing.Simulator, state_dir: Path, *, faulted_url: str | None = None) -> dict[str, Any]:
    """The daemon's configuration for the world, secrets inline (no process environment)."""
    raw, env = emitting.render(sim.world, sim.base_url, state_dir=str(state_dir))
    for tenant in raw["tenants"]:
        for key in ("credentials", "admin_credentials"):
            if key in tenant:
                tenant[key]["client_secret"] = env[tenant[key]["client_secret"]["env"]]
        if tenant["name"] == FAULTED:
            tenant["probe_timeout"] = FAULTED_TIMEOUT_S
            if faulted_url is not None:
                tenant["api_base_url"] = tenant["login_base_url"] = faulted_url
    raw["server"] = {"listen": "127.0.0.1:0"}
    raw["defaults"] = {"probe_interval": INTERVAL_S, "probe_timeout": 5.0}
    # The harness settles cycles at one clock instant; let the three tenants' mints go out together.
    raw["minting"] = {"rate_per_second": 20, "burst": 5}
    return raw


@dataclasses.dataclass
class Stage:
    clock: clock_mod.ManualClock
    sim: testing.Simulator
    daemon: runtime.Daemon
    http: server.Running
    registry: prometheus_client.CollectorRegistry
    task: asyncio.Task[int]
    config_path: Path
    logs: list[dict[str, Any]]
    stop: asyncio.Event  # SIGTERM, as runtime.run sees it
    watch_faulted: bool = True  # False while its cycles wait on the clock itself (a Retry-After floor)

    def status(self, tenant: str) -> health.TenantStatus:
        return self.daemon.statuses()[tenant]

    def probe_count(self, tenant: str) -> float:
        """Identity probes the tenant ran: ``grantwarden_probe_outcomes_total{probe="token"}``, any outcome."""
        total = 0.0
        for family in self.registry.collect():
            for sample in family.samples:
                labels = sample.labels
                if sample.name == "grantwarden_probe_outcomes_total" and labels.get("tenant") == tenant:
                    total += sample.value if labels.get("probe") == "token" else 0.0
        return total

    def requests(self, tenant: str, kind: str | None = None) -> list[dict[str, Any]]:
        """What reached the simulator on behalf of ``tenant`` (by its region's path prefix)."""
        index = TENANTS.index(tenant)
        entries = self.sim.requests(kind=kind)  # type: ignore[arg-type]
        if index == 0:
            return [e for e in entries if not e["path"].startswith("/regions/") and e["kind"] != "control"]
        return [e for e in entries if e["path"].startswith(f"/regions/{REGIONS[index]}/")]

    def mid_cycle(self) -> list[str]:
        """Watched tenants whose cycle is due or running (``next_cycle_at`` not moved on yet)."""
        now = self.clock.now()
        watched = TENANTS if self.watch_faulted else CLEAN
        statuses = self.daemon.statuses()
        return [t for t in watched if t in statuses and (statuses[t].next_cycle_at or now + 1) <= now]

    async def quiesce(self) -> None:
        """Let real time pass until no watched tenant is inside a cycle; fail on a hang."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + STUCK_S
        await self.clock.settle()
        while busy := self.mid_cycle():
            if loop.time() > give_up:
                raise AssertionError(f"{', '.join(busy)} stuck in a cycle for {STUCK_S:g} real seconds")
            await self.clock.settle(pause=0.005, quiet_rounds=2)

    async def step(self, limit_s: float) -> None:
        """Move the clock to its next deadline (at most ``limit_s`` on), then quiesce."""
        now = self.clock.now()
        deadline = self.clock.next_deadline()
        target = now + limit_s if deadline is None else min(deadline, now + limit_s)
        await self.clock.advance(max(0.0, target - now))
        await self.quiesce()

    async def reload(self, raw: dict[str, Any]) -> None:
        """Write a new configuration and send SIGHUP, as an operator does."""
        self.config_path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        signal.raise_signal(signal.SIGHUP)
        await self.clock.settle(pause=0.01)
        # The reload parses in a thread: wait for it, not only for the clock to go quiet.
        await asyncio.gather(*[task for task in asyncio.all_tasks() if task.get_name() == "reload"])
        await self.clock.settle(pause=0.01)


@contextlib.asynccontextmanager
async def staged(tmp: Path, *, faulted_url: str | None = None, seed: int = 11) -> AsyncIterator[Stage]:
    """The world served, the daemon running on it; both stopped (daemon exit 0) on the way out."""
    clock = clock_mod.ManualClock()
    world = generator.generate(tenants=len(TENANTS), clock=clock, seed=seed, regions=REGIONS)
    async with testing.running(world, clock=clock) as sim:
        config_path = tmp / "grantwarden.yaml"
        config_path.write_text(yaml.safe_dump(render(sim, tmp / "state", faulted_url=faulted_url)), encoding="utf-8")
        loaded = configfile.load(config_path, environ={})
        registry = prometheus_client.CollectorRegistry()
        loop = asyncio.get_running_loop()
        started: asyncio.Future[tuple[runtime.Daemon, server.Running]] = loop.create_future()
        options = runtime.Options(
            clock=clock,
            environ={},
            redactor=redaction.Redactor(),
            registry=registry,
            install_signals=True,  # SIGHUP reloads the file, as in production
            watchdog_interval_s=3600.0,
            seed=seed,
            on_started=lambda daemon, http: started.set_result((daemon, http)),
        )
        stop = asyncio.Event()
        with capture_logs(processors=[merge_contextvars]) as logs:
            task = asyncio.create_task(runtime.run(loaded, options, stop), name="daemon")
            daemon, http = await started
            stage = Stage(clock, sim, daemon, http, registry, task, config_path, logs, stop)
            try:
                yield stage
            finally:
                stop.set()
                while not task.done():
                    await clock.advance(1.0)
                assert await task == 0, "the daemon exits 0 after a stop"
                await _release(clock)


async def _release(clock: clock_mod.ManualClock) -> None:
    """Answers the simulator still holds back (a hanging endpoint) go out now.

    Its handlers must finish before the server stops. The daemon gave up on them long ago, so
    a handler that still wants the request body finds the connection gone and the simulator
    logs that with a traceback: expected here, and kept out of the output.
    """
    handlers = logging.getLogger("grantwarden.simulator.app")
    was = handlers.disabled
    handlers.disabled = True
    try:
        while (deadline := clock.next_deadline()) is not None:
            await clock.advance(deadline - clock.now())
    finally:
        handlers.disabled = was
