"""Test helpers: a simulator on loopback for the length of an ``async with``.

Other engineers' tests (remote client, token box, probing, end-to-end) need a platform that
behaves like Genesys Cloud and runs on their ``ManualClock``; ``running`` gives them one on
127.0.0.1 with a free port, and ``Simulator`` the few handles a test needs (URLs per region,
secrets, the scenario's tenants, the request log). Knobs are in ``control``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from grantwarden.base.clock import Clock, LoopClock
from grantwarden.simulator import emitting, requestlog, scenarios, serving, tenancy, world


@dataclasses.dataclass(slots=True)
class Simulator:
    world: world.World
    base_url: str

    def url(self, region: str | None = None) -> str:
        """Base URL of ``region`` (default: the scenario's default region, served at the root)."""
        return emitting.tenant_url(self.world, self.base_url, region or self.world.default_region)

    def requests(self, kind: requestlog.Kind | None = None) -> list[dict[str, Any]]:
        """Logged requests, oldest first; ``kind`` is "token", "api" or "control"."""
        return self.world.requests.entries(kind=kind)

    def secret(self, client_id: str) -> str:
        return self.world.clients[client_id].secret

    def tenant(self, name: str) -> tenancy.TenantSpec:
        found = next((t for t in self.world.tenants if t.name == name), None)
        if found is None:
            raise KeyError(f"the scenario has no tenant {name!r}")
        return found


@contextlib.asynccontextmanager
async def running(
    source: world.World | str | Path, *, clock: Clock | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[Simulator]:
    """Serve ``source`` on ``host:port`` (0: a free port) until the block ends.

    ``source`` is a scenario path or a ``World`` (already built on the clock it should use);
    with a path and no ``clock`` the platform runs on real time (``LoopClock``). Pass the
    ``ManualClock`` the daemon under test runs on, so that one ``advance`` moves both::

        from grantwarden.base.clock import ManualClock
        from grantwarden.simulator import control, scenarios, testing

        clock = ManualClock()
        async with testing.running(scenarios.DEMO_SCENARIO, clock=clock) as sim:
            sim.base_url                    # "http://127.0.0.1:PORT": login and API host at once
            sim.url("eu-west-1")            # the same platform's eu-west-1: ".../regions/eu-west-1"
            tenant = sim.tenant("acme-eu")  # org_id, client_id, admin_client_id, region, ...
            sim.secret(tenant.client_id)    # the client's secret, to build credentials
            control.remove_role(sim.world, tenant.client_id, "Messaging Viewer")  # drift, faults, ...
            await clock.advance(5)          # propagation, code expiry, rate windows, idle timeouts
            sim.requests(kind="api")        # the request log: time, method, path, status, client_id
    """
    if isinstance(source, world.World):
        if clock is not None and clock is not source.clock:
            raise ValueError("a World runs on the clock it was built with; build it on this clock")
        sim = source
    else:
        sim = scenarios.load(source, clock=clock or LoopClock())
    served = await serving.start(sim, host=host, port=port)
    try:
        yield Simulator(sim, served.base_url)
    finally:
        await served.stop()
