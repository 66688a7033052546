"""One tenant's worker: keep its token, probe on schedule, diagnose, and re-grant within limits.

The supervisor runs one ``Worker`` per owned tenant (``run(stop)``); ``check`` and ``plan`` run
one ``cycle(act=False)`` of the same code (``cycles``), so what they print is what the daemon
would do. Its parts are composed in ``assembly``; here is the loop: the refresher beside the
probe loop, whose first cycle starts at a random offset within what minting the starting tenants'
tokens takes (``assembly.Launch``, at most the probe interval), so thousands of tenants do not
start together and a handful is ready in seconds; a reconcile request (or a refusal the
integration reported) wakes the loop at once.

Here, and only here, a stop noticed anywhere below (``gate.StoppedError``) is handled, once: the
tenant's work ends, reporting nothing. A tenant whose secret references cannot be resolved is not
run (``resolving``). ``reconfigure`` hands a running worker new settings between cycles
(design.md §3.11). What it must not do: decide, or wait anywhere a stop cannot end the wait.
"""

from __future__ import annotations

import asyncio

from grantwarden.config import models as settings
from grantwarden.policy import scheduling
from grantwarden.remote import gate
from grantwarden.worker import access as access_mod
from grantwarden.worker import acting, assembly, cycles, refreshing, resolving
from grantwarden.worker import api as api_mod
from grantwarden.worker import status as health


class Worker:
    __slots__ = ("parts",)

    def __init__(
        self,
        *,
        tenant: settings.Tenant,
        blueprint: settings.Blueprint,
        status: health.TenantStatus,
        deps: assembly.Deps,
    ) -> None:
        self.parts = assembly.assemble(tenant=tenant, blueprint=blueprint, status=status, deps=deps)

    @property
    def tenant(self) -> settings.Tenant:
        return self.parts.tenant

    @property
    def status(self) -> health.TenantStatus:
        return self.parts.status

    @property
    def api(self) -> api_mod.TenantApi:
        return self.parts.api

    @property
    def access(self) -> access_mod.Access | None:
        """The tenant's access object: with a hand-off or a proxy configured, else None."""
        return self.parts.access

    def reconfigure(self, tenant: settings.Tenant, blueprint: settings.Blueprint) -> None:
        """New settings for the same identity, read by each part from its next use on (design.md §3.11)."""
        assembly.reconfigure(self.parts, tenant, blueprint)

    async def cycle(self, *, act: bool, stop: asyncio.Event | None = None, reconcile: bool = False) -> acting.Cycle:
        """One cycle (``cycles.run``); ``reconcile``: a person asked for it, which lifts a hold."""
        return await cycles.run(self.parts, act=act, stop=stop, reconcile=reconcile)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: the refresh loop and the probe loop. The one place a stop is handled."""
        parts = self.parts
        parts.api.gate.stop = stop  # from now on a stop ends any wait at the gate, and every request
        try:
            waited = await resolving.wait(parts, stop)
            if waited is None:
                return
            async with asyncio.TaskGroup() as group:
                group.create_task(refreshing.Refresher(box=parts.api.box, clock=parts.clock).run(stop))
                group.create_task(self._probe_loop(stop, at_once=waited))
        except* gate.StoppedError:
            pass  # stopped while a request, a mint or a re-grant's settle waited: nothing to report
        finally:
            if parts.access is not None:
                parts.access.close()  # its token goes out no more: a new worker proves itself again

    async def _probe_loop(self, stop: asyncio.Event, *, at_once: bool = False) -> None:
        parts = self.parts
        status, clock, rng = parts.status, parts.clock, parts.rng
        reported = () if parts.access is None else (parts.access.wake,)  # a refusal the integration met
        wake = (stop, status.reconcile_requested, *reported)
        started, interval = clock.now(), parts.tenant.probe_interval
        window = 0.0 if at_once else parts.deps.launch.window(interval)
        offset = scheduling.first_offset(window, rng)
        # Where its cycles settle within an interval once the first is done: first cycles bunch up
        # to be ready soon, the later ones spread as before (none when the first ones spread anyway).
        phase = rng.random() * interval if window < interval else None
        status.next_cycle_at = started + offset
        await clock.sleep(offset, wakeup=wake)
        while not stop.is_set():
            # Wait out a Retry-After floor here, where a stop ends the wait: inside a probe the
            # gate's wait would hold a SIGTERM up for as long as the platform asked (minutes).
            not_before = parts.api.gate.not_before
            if not_before > clock.now():
                status.next_cycle_at = not_before
            if await clock.sleep(not_before - clock.now(), wakeup=(stop,)):
                return
            resolving.retry_when_back(parts)
            # Read the request before clearing it: a reconcile also lifts a hold (acting.decide).
            requested = status.reconcile_requested.is_set()
            status.reconcile_requested.clear()
            for event in reported:
                event.clear()
            await self.cycle(act=True, stop=stop, reconcile=requested)
            interval = parts.tenant.probe_interval
            delay = interval
            if phase is not None:
                delay += scheduling.into_phase(elapsed=clock.now() - started, phase=phase, interval=interval)
                phase = None
            status.next_cycle_at = clock.now() + delay
            await clock.sleep(delay, wakeup=wake)
