"""Composition of the token hand-off (design.md §2.8): its listener, its file sink, its backend.

``runtime.run`` calls ``prepare`` before any worker starts (the bearer token resolved, the file
sink's directory checked and cleared of an earlier run's files, the ``access.Wiring`` every
worker gets), ``start`` once the workers run (the listener binds, the sink's writer starts), and
``stop`` at the end: the listener closes first (no token goes out from the first moment of a
stop), then the workers stop, then every file is removed. ``Finder`` answers the listener's, the
sink's and the in-path proxy's questions from the running daemon. Without ``handoff`` in the
configuration there is no listener and no file; without ``handoff`` and ``proxy`` every function
here returns None or does nothing: no worker keeps an access object either.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Protocol

from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction
from grantwarden.config import models as settings
from grantwarden.config.secretrefs import SecretUnavailableError
from grantwarden.surface import files, handoff, listening
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import access, supervisor, tenant


class Composed(Protocol):
    """The running daemon as the finder reads it (``runtime.Daemon``)."""

    cfg: settings.Settings
    shard_index: int
    shard_count: int
    sup: supervisor.Supervisor


class Finder:
    """``surface.handoff.Backend`` over the running daemon: tenants, orgs, running access objects."""

    def __init__(self) -> None:
        self.daemon: Composed | None = None  # set once the daemon is composed
        # Tenant -> org and org -> tenants, built once per configuration (a reload replaces it).
        self._index: tuple[settings.Settings | None, dict[str, str], dict[str, list[str]]] = (None, {}, {})

    @property
    def shard_index(self) -> int:
        return self.daemon.shard_index if self.daemon is not None else 0

    @property
    def shard_count(self) -> int:
        return self.daemon.shard_count if self.daemon is not None else 1

    def configured_org(self, name: str) -> str | None:
        return self._indexes()[0].get(name)

    def org_tenants(self, org_id: str) -> list[str]:
        return self._indexes()[1].get(org_id, [])

    def _indexes(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        if self.daemon is None:
            return {}, {}
        cfg, orgs, tenants = self._index
        if cfg is not self.daemon.cfg:
            orgs, tenants = {}, {}
            for t in self.daemon.cfg.tenants:
                orgs[t.name] = t.org_id
                tenants.setdefault(t.org_id, []).append(t.name)
            self._index = (self.daemon.cfg, orgs, tenants)
        return orgs, tenants

    def attach(self, daemon: Composed, prepared: Prepared | None) -> files.FileSink | None:
        """The daemon is composed: answer from it from now on. Its file sink, if any."""
        self.daemon = daemon
        return prepared.sink if prepared is not None else None

    def access(self, name: str) -> access.Access | None:
        """The running worker's access object of tenant ``name``, when it serves the configured org."""
        worker = self.daemon.sup.running(name) if self.daemon is not None else None
        found = worker.access if isinstance(worker, tenant.Worker) else None
        if found is None or found.org_id != self.configured_org(name):
            return None  # not running here, or a reload changed its org and its new worker has not started
        return found


@dataclasses.dataclass(eq=False)
class Prepared:
    wiring: access.Wiring
    sink: files.FileSink | None
    bearer: str | None


@dataclasses.dataclass(eq=False)
class Running:
    listener: listening.Running
    sink: files.FileSink | None
    writing: asyncio.Task[None] | None
    stop_writing: asyncio.Event


def prepare(
    cfg: settings.Settings, *, environ: Mapping[str, str], redactor: redaction.Redactor, clock: clock_mod.Clock
) -> tuple[Finder, Prepared | None]:
    """The finder (``Finder.attach`` it to the daemon once composed) and what the workers and the
    listener need. Raises OSError when the bearer token has become unreadable or the files'
    directory is unusable."""
    finder = Finder()
    if (handing := cfg.handoff) is None:
        if cfg.proxy is None:
            return finder, None  # nothing asks for tokens: no worker keeps an access object
        # In-path mode alone: the proxy takes each tenant's token and reports its refusals through
        # the same access objects (design.md §2.9), with no hand-off to show in /status.
        return finder, Prepared(access.Wiring(redactor=redactor, handoff=False), None, None)
    try:
        bearer = handing.bearer_token.reveal(environ).strip() if handing.bearer_token is not None else None
    except SecretUnavailableError as exc:  # resolved a moment ago (cli); gone since
        raise OSError(f"handoff.bearer_token: {exc}") from None
    if bearer is not None:
        redactor.add(bearer, configured=True)
    sink = None
    if handing.files is not None:
        files_cfg = handing.files
        sink = files.FileSink(
            directory=files_cfg.directory, mode=files_cfg.file_mode, clock=clock, lookup=finder.access
        )
        sink.prepare()
    return finder, Prepared(access.Wiring(redactor=redactor, on_change=sink.changed if sink else None), sink, bearer)


async def start(
    cfg: settings.Settings,
    prepared: Prepared | None,
    *,
    backend: handoff.Backend,
    metrics: metrics_mod.Metrics,
    clock: clock_mod.Clock,
) -> Running | None:
    """Bind ``handoff.listen`` and start the file sink's writer."""
    if prepared is None or cfg.handoff is None:
        return None
    routes = handoff.Routes(
        backend=backend,
        metrics=metrics,
        clock=clock,
        bearer=prepared.bearer.encode() if prepared.bearer else None,
        peer_url=cfg.sharding.peer_url,
    )
    listener = await listening.start(handoff.build_app(routes), cfg.handoff.listen)
    stop_writing = asyncio.Event()
    sink = prepared.sink
    writing = asyncio.create_task(sink.run(stop_writing), name="handoff-files") if sink is not None else None
    return Running(listener, sink, writing, stop_writing)


class Stoppable(Protocol):
    async def stop(self) -> None: ...


async def abandon(
    prepared: Prepared | None, sup: supervisor.Supervisor, operator: Stoppable, started: Running | None = None
) -> None:
    """A listener could not bind (the hand-off's, or the in-path proxy's after the hand-off
    ``started``): stop what did start, leave no file."""
    await stop(started, sup)  # its listener, the workers, its files (without one: the workers)
    await operator.stop()
    if started is None and prepared is not None and prepared.sink is not None:
        await prepared.sink.stop()


async def stop(running: Running | None, sup: supervisor.Supervisor) -> None:
    """The listener, then the workers, then the files."""
    if running is None:
        await sup.stop()
        return
    await running.listener.stop()
    await sup.stop()
    running.stop_writing.set()
    if running.writing is not None:
        await running.writing
    if running.sink is not None:
        await running.sink.stop()
