"""Supervision: one guarded task per owned tenant, restarts with backoff, reloads in place.

A tenant's worker (``tenant.Worker``) runs until told to stop. When it crashes, the supervisor
logs ``worker_crashed``, waits a backoff (``policy.backoff.delay``), counts
``grantwarden_worker_restarts_total`` and starts a fresh worker; more than 5 crashes in 60 s
(``policy.backoff.restart_allowed``) marks the tenant ``needs_attention`` and parks it until its
configuration changes or a person asks for a reconcile, instead of looping. A crash never
reaches another tenant or the daemon.

``apply()`` takes a new tenant list (a SIGHUP reload, or the first start): added tenants start,
removed ones stop, tenants whose identity changed (``Spec.key``) restart with a fresh status,
tenants whose settings alone changed (``Spec.settings``) are reconfigured in place (the running
worker takes them between cycles: no restart, no new token, the same status), and unchanged
ones keep running untouched. A parked tenant restarts on any change (design.md §3.9).

Each unit's task binds its tenant and org to the log context first thing
(``structlog.contextvars``): every line logged in it, or in the tasks it starts, names the
tenant, and no logger is bound and kept per tenant.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable, Hashable, Sequence
from typing import Protocol

import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.policy import backoff, labels
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import status as health

RESTART_WINDOW_S = 60.0  # crashes older than this no longer count (design.md §3)
LOG = structlog.get_logger("grantwarden.supervisor")  # the tenant comes from the unit task's context


class Worker(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Spec:
    """What a unit runs: a tenant name, a comparable key of who the tenant is (its org, hosts and
    credentials: a change restarts the worker and mints anew) and one of how it runs (timing,
    probes, re-grant settings: a change is handed to the running worker, ``Reconfigure``)."""

    name: str
    key: Hashable
    settings: Hashable = None


WorkerFactory = Callable[[Spec, health.TenantStatus], Worker]
Reconfigure = Callable[[Spec, Worker], None]  # hands the running worker the settings ``Spec`` stands for


@dataclasses.dataclass(frozen=True)
class Applied:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    reconfigured: tuple[str, ...] = ()


@dataclasses.dataclass(eq=False, slots=True)
class _Unit:
    spec: Spec
    status: health.TenantStatus
    stop: asyncio.Event
    poke: asyncio.Event  # a reconcile request: un-parks a crash-looping tenant
    task: asyncio.Task[None] | None = None
    worker: Worker | None = None  # the one running, or the last one (crashed, parked)
    running: bool = False  # ``worker`` runs now (not crashed, parked or waiting to restart)
    parked: bool = False
    crashes: list[float] = dataclasses.field(default_factory=list)


class Supervisor:
    def __init__(
        self,
        *,
        factory: WorkerFactory,
        status_factory: Callable[[Spec], health.TenantStatus],
        clock: clock_mod.Clock,
        metrics: metrics_mod.Metrics,
        rng: random.Random,
        grace_s: float = 10.0,
        reconfigure: Reconfigure | None = None,
    ) -> None:
        """``reconfigure``: how a running worker takes new settings; without it, any change restarts."""
        self._factory = factory
        self._reconfigure = reconfigure
        self._status_factory = status_factory
        self._clock = clock
        self._metrics = metrics
        self._rng = rng
        self._grace_s = grace_s
        self._units: dict[str, _Unit] = {}
        self._retired: set[asyncio.Task[None]] = set()
        self.alive = True

    @property
    def statuses(self) -> dict[str, health.TenantStatus]:
        return {name: unit.status for name, unit in self._units.items()}

    def apply(self, specs: Sequence[Spec]) -> Applied:
        wanted = {spec.name: spec for spec in specs}
        removed = [name for name in self._units if name not in wanted]
        added, changed, unchanged, reconfigured = [], [], [], []
        for name in removed:
            self._retire(name)
        for name, spec in wanted.items():
            unit = self._units.get(name)
            if unit is None:
                added.append(name)
            elif unit.spec == spec:
                unchanged.append(name)
                continue
            elif unit.spec.key == spec.key and self._reconfigure is not None and not unit.parked:
                reconfigured.append(name)
                unit.spec = spec  # a restart after a crash builds from the new settings anyway
                if unit.worker is not None:
                    self._reconfigure(spec, unit.worker)
                continue
            else:
                changed.append(name)
                self._retire(name)
            self._start(spec)
        return Applied(tuple(added), tuple(removed), tuple(changed), tuple(unchanged), tuple(reconfigured))

    def running(self, name: str) -> Worker | None:
        """The worker running for tenant ``name`` now (a restart replaces it), or None."""
        unit = self._units.get(name)
        return unit.worker if unit is not None and unit.running else None

    def poke(self, name: str) -> bool:
        """Ask a tenant for a cycle now (and un-park it after a crash loop). False if unknown."""
        unit = self._units.get(name)
        if unit is None:
            return False
        unit.status.reconcile_requested.set()
        unit.poke.set()
        return True

    async def stop(self) -> None:
        """Stop every unit: ask nicely, wait up to the grace period, then cancel."""
        self.alive = False
        for unit in self._units.values():
            unit.stop.set()
        tasks = [unit.task for unit in self._units.values() if unit.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self._grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._retired:  # units a reload removed: cancelled already, let them finish unwinding
            await asyncio.wait(self._retired)
        self._units.clear()

    def _start(self, spec: Spec) -> None:
        status = self._status_factory(spec)
        unit = _Unit(spec=spec, status=status, stop=clock_mod.Event(), poke=clock_mod.Event())
        unit.task = asyncio.create_task(self._guard(unit), name=f"tenant:{spec.name}")
        self._units[spec.name] = unit
        self._metrics.set_state(spec.name, status.state)  # "starting" is a state dashboards show too

    def _retire(self, name: str) -> None:
        unit = self._units.pop(name)
        unit.stop.set()
        if unit.task is not None:
            unit.task.cancel()
            self._retired.add(unit.task)
            unit.task.add_done_callback(self._retired.discard)
        self._metrics.forget_tenant(name)

    async def _guard(self, unit: _Unit) -> None:
        # The unit's task runs in a context of its own (create_task copies it), which ends with the
        # task: bound here, the tenant names every line logged in it and in the tasks it starts.
        # Bound for good rather than with ``bound_contextvars``, whose context manager would stay
        # alive as long as the task: 350 bytes a tenant, 3.5 MB at 10,000.
        structlog.contextvars.bind_contextvars(tenant=unit.spec.name, org_id=unit.status.org_id)
        while not unit.stop.is_set():
            try:
                unit.worker = self._factory(unit.spec, unit.status)
                unit.running = True
                await unit.worker.run(unit.stop)
                return
            except Exception as exc:  # a tenant's crash must never escape its unit (logged below)
                now = self._clock.now()
                unit.crashes = [t for t in unit.crashes if now - t < RESTART_WINDOW_S] + [now]
                LOG.error("worker_crashed", error=describe(exc), crashes=len(unit.crashes), exc_info=exc)
            finally:
                unit.running = False
            if not backoff.restart_allowed(unit.crashes, self._clock.now()):
                if await self._park(unit):
                    return
                self._metrics.tenant(unit.spec.name).worker_restarts += 1
                LOG.info("worker_restarted", after_s=0.0, crashes=0, reason="reconcile requested")
                continue
            delay = backoff.delay(len(unit.crashes), rng=self._rng)
            if await self._clock.sleep(delay, wakeup=(unit.stop,)):
                return
            self._metrics.tenant(unit.spec.name).worker_restarts += 1
            LOG.info("worker_restarted", after_s=round(delay, 2), crashes=len(unit.crashes))

    async def _park(self, unit: _Unit) -> bool:
        """Crash loop: show needs_attention and wait for a person (reconcile) or a config change
        (which retires this unit). True when the unit is stopping, False on a reconcile."""
        previous = unit.status.state
        unit.parked = True
        unit.status.crash_loop(self._clock.now(), len(unit.crashes))
        self._metrics.set_state(unit.spec.name, labels.State.NEEDS_ATTENTION)
        LOG.error(
            "tenant_state_changed",
            state=str(labels.State.NEEDS_ATTENTION),
            previous=str(previous),
            reason=f"crash loop: {len(unit.crashes)} crashes within {RESTART_WINDOW_S:g} s",
        )
        unit.poke.clear()
        await self._clock.sleep(float("inf"), wakeup=(unit.stop, unit.poke))
        unit.crashes.clear()
        unit.parked = False
        return unit.stop.is_set()


def describe(exc: BaseException) -> str:
    """``Type: message``; a TaskGroup's ExceptionGroup is described by what it wraps, or a
    worker's crash would only ever read "unhandled errors in a TaskGroup"."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"
