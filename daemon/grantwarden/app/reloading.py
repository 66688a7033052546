"""Reloading the configuration in place: on SIGHUP, or on ``POST /-/reload`` (design.md §3.11).

Reading, validating and resolving the file (a second or more at 10,000 tenants) happens in a
worker thread, so probes, refreshes and ``/readyz`` go on meanwhile; only the starting, stopping
and reconfiguring of tenants happens on the loop, ``RELOAD_STEP`` tenants at a time
(``reload_steps``), so that a file that changes every tenant does not hold the loop for the whole
fleet. Tenants whose identity changed restart; tenants whose settings alone changed are
reconfigured in place (no token is minted; ``fleet``). A reload requested during a reload is not
lost: one more follows, reading the file as it is then, and every request is answered with the
outcome of the reload that read the file after it came. A stop during a reload ends it: nothing
starts once the supervisor is stopping.

A file that is invalid, or that would stop every tenant without saying ``tenants: []``, keeps the
old configuration running, and the failure shows everywhere: ``config_reload_failed``, the metric
at 0, the ``reload`` block of ``/status`` and the status page (``ReloadRecord``), and the answer
to ``POST /-/reload``. Only ``runtime`` builds a ``Reloader``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

import structlog

from grantwarden.app import fleet
from grantwarden.base import clock as clock_mod
from grantwarden.base import heap
from grantwarden.config import isolated as configproc
from grantwarden.config import loading as configfile
from grantwarden.config import models as settings
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import assembly, supervisor
from grantwarden.worker import status as health

RELOAD_STEP = 100  # tenants a reload starts, stops or restarts between two turns of the event loop
NOTHING_TO_RUN = (
    "the file lists no tenants: applying it would stop every tenant; write tenants: [] to run none on purpose"
)


class Fleet(Protocol):
    """The running daemon as a reload changes it (``runtime.Daemon``)."""

    cfg: settings.Settings
    shard_index: int
    shard_count: int
    stopping: bool
    sup: supervisor.Supervisor

    def specs(self) -> list[supervisor.Spec]: ...

    def statuses(self) -> Mapping[str, health.TenantStatus]: ...


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A file read and checked in the worker thread, ready to apply on the loop."""

    cfg: settings.Settings
    shard_index: int
    shard_count: int
    current: list[supervisor.Spec]
    wanted: list[supervisor.Spec]
    frozen: int  # objects moved out of the collector's way


class RefusedError(Exception):
    """A valid file the daemon will not apply; the message says why."""


class Reloader:
    def __init__(
        self,
        *,
        source: str,
        daemon: Fleet,
        holder: dict[str, settings.Settings],
        metrics: metrics_mod.Metrics,
        clock: clock_mod.Clock,
        environ: Mapping[str, str],
        launch: assembly.Launch,
        strict: bool = False,
    ) -> None:
        self._source = source
        self._daemon = daemon
        self._holder = holder
        self._metrics = metrics
        self._clock = clock
        self._environ = environ
        self._launch = launch
        self._strict = strict
        self._task: asyncio.Task[None] | None = None
        self._waiting: list[asyncio.Future[health.ReloadRecord | None]] = []
        self._freezers: set[asyncio.Future[None]] = set()
        self._log = structlog.get_logger("grantwarden")
        self.record = health.ReloadRecord(source=source, loaded_at=clock.now())

    def request(self) -> asyncio.Future[health.ReloadRecord | None]:
        """Reload soon; the future gets the outcome of the reload that reads the file after this
        request (None when the daemon stopped first). SIGHUP ignores it; the endpoint answers it."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[health.ReloadRecord | None] = loop.create_future()
        self._waiting.append(answer)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._reload_until_current(), name="reload")
        return answer

    async def _reload_until_current(self) -> None:
        while self._waiting and not self._daemon.stopping:
            waiting, self._waiting = self._waiting, []
            try:
                outcome = await self.reload()
            except Exception as exc:  # noqa: BLE001 - a bug must neither end reloads for good nor leave a POST waiting
                problem = f"{self._source}: the reload failed: {type(exc).__name__} (the log has the details)"
                outcome = self._failed(self._clock.now(), [problem], exc=exc)
            for answer in waiting:
                if not answer.done():
                    answer.set_result(outcome)
        for answer in self._waiting:
            if not answer.done():
                answer.set_result(None)
        self._waiting = []

    async def reload(self) -> health.ReloadRecord | None:
        """Read the file and apply it; the new record, or None when a stop came in between."""
        attempted = self._clock.now()
        try:
            prepared = await asyncio.to_thread(self._prepare)
        except (configfile.ConfigError, fleet.ShardError) as exc:
            return self._failed(attempted, str(exc).splitlines())
        except RefusedError as exc:
            return self._failed(attempted, [f"{self._source}: {exc}"], refused=True)
        if self._daemon.stopping:  # the supervisor is stopping: nothing may start now
            return None
        self._holder["cfg"] = prepared.cfg
        self._daemon.cfg = prepared.cfg
        self._daemon.shard_index, self._daemon.shard_count = prepared.shard_index, prepared.shard_count
        self._metrics.shard_ordinal.set(prepared.shard_index)
        self._metrics.total_shards.set(prepared.shard_count)
        applied = await self._apply(prepared.current, prepared.wanted)
        if applied is None:
            return None
        self._metrics.config_reload_ok.set(1)
        self._log.info("heap_frozen", objects=prepared.frozen, at="reload")
        self._freeze_when_started({*applied.added, *applied.changed})
        self._log.info(
            "config_loaded",
            source=self._source,
            added=list(applied.added),
            removed=list(applied.removed),
            changed=list(applied.changed),
            reconfigured=list(applied.reconfigured),
            unchanged=len(applied.unchanged),
        )
        self.record = health.ReloadRecord(
            source=self._source,
            loaded_at=attempted,
            attempted_at=attempted,
            added=applied.added,
            removed=applied.removed,
            changed=applied.changed,
            reconfigured=applied.reconfigured,
            unchanged=len(applied.unchanged),
        )
        return self.record

    def _failed(
        self, attempted: float, problems: list[str], *, refused: bool = False, exc: Exception | None = None
    ) -> health.ReloadRecord:
        self._metrics.config_reload_ok.set(0)
        self._log.error(
            "config_reload_failed", source=self._source, problems=problems, **({"exc_info": exc} if exc else {})
        )
        self.record = dataclasses.replace(
            self.record, attempted_at=attempted, ok=False, problems=tuple(problems), refused=refused
        )
        return self.record

    def _prepare(self) -> Prepared:
        """In a worker thread: the daemon as the file now describes it, the specs that run now and
        the ones it wants (0.2 s each at 10,000 tenants). Reads the file and the secrets; changes
        nothing the loop uses (the daemon's settings change only on the loop, in ``reload``).

        The new settings are frozen out of the garbage collector's way before full passes resume
        (``heap``): a whole new ``Settings`` at 10,000 tenants is some 250,000 objects that every
        later full pass would walk, 90 ms each time, holding the loop up."""
        environ = self._environ
        with configfile.collector_paused():
            loaded = configproc.load(self._source, environ=environ)
            if not loaded.settings.tenants and not loaded.tenants_empty_on_purpose:
                raise RefusedError(NOTHING_TO_RUN)
            fleet.check_secrets(loaded, environ, strict=self._strict)
            index, count = fleet.resolve_shard(loaded.settings, environ)
            wanted = fleet.specs(loaded.settings, index, count)
            current = self._daemon.specs()
            return Prepared(loaded.settings, index, count, current, wanted, heap.freeze(full=False))

    async def _apply(self, current: list[supervisor.Spec], wanted: list[supervisor.Spec]) -> supervisor.Applied | None:
        """Step by step from ``current`` to ``wanted``, the loop free between steps; None when a
        stop came in between (the remaining steps are left to the supervisor's stop)."""
        before = {spec.name: spec.key for spec in current}
        self._launch.starting = sum(1 for spec in wanted if before.get(spec.name) != spec.key)
        added: list[str] = []
        removed: list[str] = []
        changed: list[str] = []
        reconfigured: list[str] = []
        for index, step in enumerate(reload_steps(current, wanted, RELOAD_STEP)):
            if index:
                await self._clock.sleep(0)  # probes, refreshes and HTTP answers go first
                if self._daemon.stopping:
                    return None
            applied = self._daemon.sup.apply(step)
            added += applied.added
            removed += applied.removed
            changed += applied.changed
            reconfigured += applied.reconfigured
        touched = {*added, *changed, *reconfigured}
        unchanged = tuple(spec.name for spec in wanted if spec.name not in touched)
        return supervisor.Applied(tuple(added), tuple(removed), tuple(changed), unchanged, tuple(reconfigured))

    def _freeze_when_started(self, names: set[str]) -> None:
        """Started tenants' first-cycle records join the frozen heap too, as at start-up."""
        if not names:
            return

        def started() -> list[asyncio.Event]:
            statuses = self._daemon.statuses()  # afresh: a tenant removed meanwhile drops out
            return [statuses[name].first_cycle_done for name in names if name in statuses]

        freezer = asyncio.ensure_future(heap.freeze_when_ready(started, clock=self._clock))
        self._freezers.add(freezer)
        freezer.add_done_callback(self._freezers.discard)

    async def finish(self) -> None:
        for freezer in list(self._freezers):
            freezer.cancel()
        if self._task is not None:
            await asyncio.wait([self._task])


def reload_steps(
    current: Sequence[supervisor.Spec], wanted: Sequence[supervisor.Spec], size: int
) -> Iterator[list[supervisor.Spec]]:
    """The specs to apply, one list per step, from ``current`` to ``wanted``: each step starts,
    stops, restarts or reconfigures at most ``size`` tenants (removals first, then the rest in
    ``wanted``'s order) and leaves every other tenant as the step before did. The last list is
    ``wanted``."""
    now = {spec.name: spec for spec in current}
    goal = {spec.name: spec for spec in wanted}
    differing = [name for name in now if name not in goal]
    differing += [name for name, spec in goal.items() if now.get(name) != spec]
    state = dict(now)
    for start in range(0, len(differing) - size, size):
        for name in differing[start : start + size]:
            if name in goal:
                state[name] = goal[name]
            else:
                del state[name]
        yield list(state.values())
    yield list(wanted)
