"""Composition of the daemon (``grantwarden run``): one session, one supervisor, one listener.

``run`` builds what every tenant shares (the aiohttp session, the platform client, the mint
limiter, the metrics registry), starts a supervised worker for each tenant this replica owns
(``fleet.specs``: ``jump_hash(fnv1a_64(org_id), count) == index``), serves the HTTP endpoints,
and waits for a signal: SIGTERM/SIGINT stop everything within the grace period; SIGHUP (or
``POST /-/reload``) reloads the configuration in place (``reloading``: added tenants start,
removed ones stop, changed identities restart, changed settings are applied to running workers;
an invalid file keeps the old configuration running). Server-level secrets must resolve before
anything starts; a tenant's secret that does not waits in that tenant alone, unless ``strict``.
Only ``cli`` calls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import signal
from collections.abc import Callable, Iterator, Mapping

import aiohttp
import prometheus_client
import structlog

from grantwarden import __version__
from grantwarden.app import fleet, handoff, inpath, reloading
from grantwarden.base import clock as clock_mod
from grantwarden.base import heap
from grantwarden.base import redaction as redaction_mod
from grantwarden.config import loading as configfile
from grantwarden.config import models as settings
from grantwarden.policy import sharding
from grantwarden.remote import client as remote_client
from grantwarden.surface import files, server, watchdog
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import assembly, minting, supervisor, tenant
from grantwarden.worker import status as health

GRACE_S = 10.0
CONNECTIONS = 256  # keep-alive connections across all tenants (one host per region or simulator)


@dataclasses.dataclass
class Daemon:
    """The running daemon as the HTTP layer sees it (``server.Backend``)."""

    cfg: settings.Settings
    shard_index: int
    shard_count: int
    sup: supervisor.Supervisor
    version: str = __version__
    stopping: bool = False
    reloader: reloading.Reloader | None = None
    files: files.FileSink | None = None  # the hand-off's file sink, when configured
    proxied: inpath.Tenants | None = None  # with a proxy section: the tenants it serves (design.md §2.9)

    def owned(self) -> list[settings.Tenant]:
        return [t for t in self.cfg.tenants if sharding.owns(t.org_id, self.shard_index, self.shard_count)]

    def specs(self) -> list[supervisor.Spec]:
        return fleet.specs(self.cfg, self.shard_index, self.shard_count)

    def statuses(self) -> Mapping[str, health.TenantStatus]:
        return self.sup.statuses

    def alive(self) -> bool:
        return self.sup.alive and not self.stopping

    def ready(self) -> bool:
        first_cycles = all(status.first_cycle_done.is_set() for status in self.sup.statuses.values())
        return first_cycles and (self.files is None or self.files.ready())

    def reconcile(self, tenant_name: str) -> bool:
        return self.sup.poke(tenant_name)

    # --- reloads (server.Backend): the record the status shows, and a reload on request ---

    def reload_status(self) -> health.ReloadRecord | None:
        return self.reloader.record if self.reloader is not None else None

    async def reload(self) -> health.ReloadRecord | None:
        """Reload now and return its outcome; None when the daemon stops first."""
        if self.reloader is None or self.stopping:
            return None
        return await asyncio.shield(self.reloader.request())  # a client that leaves does not stop it


@dataclasses.dataclass(frozen=True)
class Options:
    """How ``run`` is wired; tests swap the clock, the watchdog pace and the signals."""

    clock: clock_mod.Clock
    environ: Mapping[str, str]  # the only environment read: shards, secrets at every mint, reloads
    redactor: redaction_mod.Redactor
    registry: prometheus_client.CollectorRegistry = dataclasses.field(
        default_factory=prometheus_client.CollectorRegistry
    )
    install_signals: bool = True
    watchdog_interval_s: float = 0.5
    seed: int | None = None
    on_started: Callable[[Daemon, server.Running], None] | None = None
    strict: bool = False  # run --strict: every secret must resolve, at start and at every reload


async def run(loaded: configfile.Loaded, options: Options, stop: asyncio.Event | None = None) -> int:
    stop = stop or asyncio.Event()
    log = structlog.get_logger("grantwarden")
    cfg = loaded.settings
    fleet.check_secrets(loaded, options.environ, strict=options.strict)  # ConfigError: nothing started
    index, count = fleet.resolve_shard(cfg, options.environ)
    # Every counter would also expose a ``_created`` series (prometheus_client's default for the
    # text format): twice the series per tenant for a timestamp no dashboard or alert reads. The
    # switch is process-wide, and this is the daemon's composition root.
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # the library leaves it unannotated
    metrics = metrics_mod.Metrics(registry=options.registry)
    metrics.shard_ordinal.set(index)
    metrics.total_shards.set(count)
    metrics.config_reload_ok.set(1)
    connector = aiohttp.TCPConnector(limit=CONNECTIONS, ttl_dns_cache=300)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = remote_client.Client(session=session, clock=options.clock, redactor=options.redactor)
        limiter = minting.MintLimiter(
            rate_per_second=cfg.minting.rate_per_second, burst=cfg.minting.burst, clock=options.clock
        )
        launch = assembly.Launch(rate_per_s=cfg.minting.rate_per_second)
        finder, prepared = handoff.prepare(cfg, environ=options.environ, redactor=options.redactor, clock=options.clock)
        deps = assembly.Deps(
            client=client,
            clock=options.clock,
            metrics=metrics,
            limiter=limiter,
            config_path=loaded.source,
            state_dir=cfg.state_dir,
            environ=options.environ,
            seed=options.seed,
            redactor=options.redactor,
            launch=launch,
            sharing=lambda name: holder["cfg"].sharing_client_with(name),  # the configuration in force
            access=prepared.wiring if prepared is not None else None,  # with a hand-off or a proxy
        )
        holder: dict[str, settings.Settings] = {"cfg": cfg}

        def make_worker(spec: supervisor.Spec, status: health.TenantStatus) -> supervisor.Worker:
            current = holder["cfg"]
            tenant_cfg = current.tenant(spec.name)
            assert tenant_cfg is not None
            return tenant.Worker(
                tenant=tenant_cfg, blueprint=current.blueprints[tenant_cfg.blueprint], status=status, deps=deps
            )

        def make_status(spec: supervisor.Spec) -> health.TenantStatus:
            tenant_cfg = holder["cfg"].tenant(spec.name)
            assert tenant_cfg is not None
            return assembly.new_status(tenant_cfg)

        def reconfigure(spec: supervisor.Spec, worker: supervisor.Worker) -> None:
            current = holder["cfg"]
            tenant_cfg = current.tenant(spec.name)
            assert tenant_cfg is not None
            assert isinstance(worker, tenant.Worker)
            worker.reconfigure(tenant_cfg, current.blueprints[tenant_cfg.blueprint])

        rng = random.Random(options.seed)
        sup = supervisor.Supervisor(
            factory=make_worker,
            status_factory=make_status,
            clock=options.clock,
            metrics=metrics,
            rng=rng,
            grace_s=GRACE_S,
            reconfigure=reconfigure,
        )
        daemon = Daemon(cfg=cfg, shard_index=index, shard_count=count, sup=sup)
        daemon.files = finder.attach(daemon, prepared)
        if cfg.proxy is not None:  # the proxy asks each running worker's access object, as the hand-off does
            daemon.proxied = inpath.Tenants(daemon, config_path=loaded.source, access=finder.access)
        reload = daemon.reloader = reloading.Reloader(
            source=loaded.source,
            daemon=daemon,
            holder=holder,
            metrics=metrics,
            clock=options.clock,
            environ=options.environ,
            launch=launch,
            strict=options.strict,
        )
        admin = cfg.server.admin_token.reveal(options.environ) if cfg.server.admin_token else None
        if admin:
            options.redactor.add(admin, configured=True)
        dog = watchdog.Watchdog(clock=options.clock, metrics=metrics, interval_s=options.watchdog_interval_s)
        specs = daemon.specs()
        launch.starting = len(specs)  # first cycles spread over what minting their tokens takes
        sup.apply(specs)  # before the listener: /readyz must not see an empty fleet as ready
        log.info("heap_frozen", objects=heap.freeze(full=True), at="start")
        freezer = asyncio.ensure_future(
            heap.freeze_when_ready(
                lambda: [status.first_cycle_done for status in daemon.statuses().values()], clock=options.clock
            )
        )
        try:
            running = await server.start(
                backend=daemon,
                metrics=metrics,
                listen=cfg.server.listen,
                admin_token=admin,
                clock=options.clock,
                watchdog=dog,
            )
        except BaseException:
            await sup.stop()  # the port is taken, say: no tenant task may outlive the failed start
            raise
        handing: handoff.Running | None = None
        try:
            handing = await handoff.start(cfg, prepared, backend=finder, metrics=metrics, clock=options.clock)
            in_path = await inpath.start(cfg, daemon.proxied, metrics=metrics, wiring=options, connections=CONNECTIONS)
        except BaseException:
            freezer.cancel()
            await handoff.abandon(prepared, sup, running, handing)
            raise
        log.info(
            "daemon_started",
            version=__version__,
            listen=running.url,
            proxy=in_path.where if in_path is not None else None,
            tenants=len(daemon.owned()),
            configured=len(cfg.tenants),
            shard=index,
            shards=count,
            handoff=handing.listener.url if handing is not None else None,
        )
        with _signals(stop, reload, enabled=options.install_signals):
            if options.on_started is not None:
                options.on_started(daemon, running)
            await stop.wait()
        daemon.stopping = True
        freezer.cancel()
        log.info("daemon_stopping", grace_s=GRACE_S)
        if in_path is not None:
            await in_path.stop()  # no proxied request starts once a stop began
        await handoff.stop(handing, sup)
        await running.stop()
        await reload.finish()
    log.info("daemon_stopped")
    return 0


@contextlib.contextmanager
def _signals(stop: asyncio.Event, reload: reloading.Reloader, *, enabled: bool) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if enabled:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        loop.add_signal_handler(signal.SIGHUP, reload.request)  # the outcome is logged and shown, not awaited
        installed.append(signal.SIGHUP)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
