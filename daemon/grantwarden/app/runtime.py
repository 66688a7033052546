"""Composition of the daemon (``grantwarden run``): one session, one supervisor, one listener.

``run`` builds what every tenant shares (the aiohttp session, the platform client, the mint
limiter, the metrics registry), starts a supervised worker for each tenant this replica owns
(``jump_hash(fnv1a_64(org_id), count) == index``), serves the HTTP endpoints, and waits for a
signal: SIGTERM/SIGINT stop everything within the grace period; SIGHUP reloads the configuration
in place (added tenants start, removed ones stop, changed ones restart, unchanged ones are left
alone; an invalid file keeps the old configuration running). Only ``cli`` calls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import random
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence

import aiohttp
import prometheus_client
import structlog

from grantwarden import __version__
from grantwarden.app import inpath
from grantwarden.base import clock as clock_mod
from grantwarden.base import heap
from grantwarden.base import redaction as redaction_mod
from grantwarden.config import isolated as configproc
from grantwarden.config import loading as configfile
from grantwarden.config import models as settings
from grantwarden.policy import sharding
from grantwarden.remote import client as remote_client
from grantwarden.surface import server, watchdog
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import minting, supervisor, tenant
from grantwarden.worker import status as health

GRACE_S = 10.0
RELOAD_STEP = 100  # tenants a reload starts, stops or restarts between two turns of the event loop
CONNECTIONS = 256  # keep-alive connections across all tenants (one host per region or simulator)


class ShardError(Exception):
    """This replica cannot tell which shard it is."""


def resolve_shard(cfg: settings.Settings, environ: Mapping[str, str]) -> tuple[int, int]:
    """(index, count): the config (or GRANTWARDEN_SHARDING__INDEX), else a StatefulSet ordinal."""
    count = cfg.sharding.count
    if cfg.sharding.index is not None:
        return cfg.sharding.index, count
    if count == 1:
        return 0, 1
    for variable in ("POD_NAME", "HOSTNAME"):
        name = environ.get(variable, "")
        with contextlib.suppress(ValueError):
            index = sharding.ordinal_from_pod_name(name)
            if index < count:
                return index, count
            raise ShardError(f"{variable}={name} is ordinal {index}, but sharding.count is {count}")
    raise ShardError("sharding.count > 1 needs sharding.index, GRANTWARDEN_SHARDING__INDEX or a POD_NAME like app-3")


def spec_key(tenant_cfg: settings.Tenant, blueprint: settings.Blueprint) -> str:
    """Everything that shapes a tenant's worker; literal secrets enter only as a digest."""
    literals = [tenant_cfg.credentials.client_secret.literal or ""]
    if tenant_cfg.admin_credentials is not None:
        literals.append(tenant_cfg.admin_credentials.client_secret.literal or "")
    digest = hashlib.sha256("\0".join(literals).encode()).hexdigest()
    described = f"{tenant_cfg.model_dump_json()}|{blueprint.model_dump_json()}|{digest}"
    return hashlib.sha256(described.encode()).hexdigest()  # 64 bytes kept per tenant, not ~1 KB


@dataclasses.dataclass
class Daemon:
    """The running daemon as the HTTP layer sees it (``server.Backend``)."""

    cfg: settings.Settings
    shard_index: int
    shard_count: int
    sup: supervisor.Supervisor
    version: str = __version__
    stopping: bool = False
    proxied: inpath.Tenants | None = None  # with a proxy section: the tenants it serves (design.md §2.7)

    def owned(self) -> list[settings.Tenant]:
        return [t for t in self.cfg.tenants if sharding.owns(t.org_id, self.shard_index, self.shard_count)]

    def specs(self) -> list[supervisor.Spec]:
        return [supervisor.Spec(t.name, spec_key(t, self.cfg.blueprints[t.blueprint])) for t in self.owned()]

    def statuses(self) -> Mapping[str, health.TenantStatus]:
        return self.sup.statuses

    def alive(self) -> bool:
        return self.sup.alive and not self.stopping

    def ready(self) -> bool:
        return all(status.first_cycle_done.is_set() for status in self.sup.statuses.values())

    def reconcile(self, tenant_name: str) -> bool:
        return self.sup.poke(tenant_name)


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


async def run(loaded: configfile.Loaded, options: Options, stop: asyncio.Event | None = None) -> int:
    stop = stop or asyncio.Event()
    log = structlog.get_logger("grantwarden")
    cfg = loaded.settings
    index, count = resolve_shard(cfg, options.environ)
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
        deps = tenant.Deps(
            client=client,
            clock=options.clock,
            metrics=metrics,
            limiter=limiter,
            config_path=loaded.source,
            state_dir=cfg.state_dir,
            environ=options.environ,
            seed=options.seed,
            redactor=options.redactor,
        )
        holder: dict[str, settings.Settings] = {"cfg": cfg}

        def make_worker(spec: supervisor.Spec, status: health.TenantStatus) -> supervisor.Worker:
            current = holder["cfg"]
            tenant_cfg = current.tenant(spec.name)
            assert tenant_cfg is not None
            worker = tenant.Worker(
                tenant=tenant_cfg, blueprint=current.blueprints[tenant_cfg.blueprint], status=status, deps=deps
            )
            if daemon.proxied is not None:  # the in-path proxy hands out this worker's token
                daemon.proxied.register(tenant_cfg, status, worker.api)
            return worker

        def make_status(spec: supervisor.Spec) -> health.TenantStatus:
            tenant_cfg = holder["cfg"].tenant(spec.name)
            assert tenant_cfg is not None
            return tenant.new_status(tenant_cfg)

        rng = random.Random(options.seed)
        sup = supervisor.Supervisor(
            factory=make_worker,
            status_factory=make_status,
            clock=options.clock,
            metrics=metrics,
            rng=rng,
            grace_s=GRACE_S,
        )
        daemon = Daemon(cfg=cfg, shard_index=index, shard_count=count, sup=sup)
        daemon.proxied = inpath.Tenants(daemon, config_path=loaded.source) if cfg.proxy is not None else None
        admin = cfg.server.admin_token.reveal(options.environ) if cfg.server.admin_token else None
        if admin:
            options.redactor.add(admin, configured=True)
        dog = watchdog.Watchdog(clock=options.clock, metrics=metrics, interval_s=options.watchdog_interval_s)
        sup.apply(daemon.specs())  # before the listener: /readyz must not see an empty fleet as ready
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
        try:
            in_path = await inpath.start(cfg, daemon.proxied, metrics=metrics, wiring=options, connections=CONNECTIONS)
        except BaseException:
            await sup.stop()
            await running.stop()
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
        )
        reload = Reloader(loaded.source, daemon, holder, metrics, options)
        with _signals(stop, reload, enabled=options.install_signals):
            if options.on_started is not None:
                options.on_started(daemon, running)
            await stop.wait()
        daemon.stopping = True
        freezer.cancel()
        log.info("daemon_stopping", grace_s=GRACE_S)
        await sup.stop()
        if in_path is not None:
            await in_path.stop()
        await running.stop()
        await reload.finish()
    log.info("daemon_stopped")
    return 0


class Reloader:
    """SIGHUP: read the file again; apply it, or keep running on the old one and say why.

    Reading, validating and resolving the file (a second or more at 10,000 tenants) happens in a
    worker thread, so probes, refreshes and ``/readyz`` go on meanwhile; only the starting and
    stopping of tenants happens on the loop, ``RELOAD_STEP`` tenants at a time (``reload_steps``)
    so that a file that changes every tenant does not hold the loop for the whole fleet. A
    SIGHUP that arrives during a reload is not lost: one more reload follows, reading the file as
    it is then. A stop during a reload ends it: nothing starts once the supervisor is stopping.
    """

    def __init__(
        self,
        source: str,
        daemon: Daemon,
        holder: dict[str, settings.Settings],
        metrics: metrics_mod.Metrics,
        options: Options,
    ) -> None:
        self._source = source
        self._daemon = daemon
        self._holder = holder
        self._metrics = metrics
        self._options = options
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._freezers: set[asyncio.Future[None]] = set()
        self._log = structlog.get_logger("grantwarden")

    def request(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._reload_until_current(), name="reload")
        else:
            self._again = True

    async def _reload_until_current(self) -> None:
        self._again = True
        while self._again and not self._daemon.stopping:
            self._again = False
            await self.reload()

    async def reload(self) -> None:
        try:
            prepared, current, wanted, frozen = await asyncio.to_thread(self._prepare)
        except (configfile.ConfigError, ShardError) as exc:
            self._metrics.config_reload_ok.set(0)
            self._log.error("config_reload_failed", source=self._source, problems=str(exc).splitlines())
            return
        if self._daemon.stopping:  # the supervisor is stopping: nothing may start now
            return
        self._holder["cfg"] = prepared.cfg
        self._daemon.cfg = prepared.cfg
        self._daemon.shard_index, self._daemon.shard_count = prepared.shard_index, prepared.shard_count
        self._metrics.shard_ordinal.set(prepared.shard_index)
        self._metrics.total_shards.set(prepared.shard_count)
        applied = await self._apply(current, wanted)
        if applied is None:
            return
        self._metrics.config_reload_ok.set(1)
        self._log.info("heap_frozen", objects=frozen, at="reload")
        self._freeze_when_started({*applied.added, *applied.changed})
        self._log.info(
            "config_loaded",
            source=self._source,
            added=list(applied.added),
            removed=list(applied.removed),
            changed=list(applied.changed),
            unchanged=len(applied.unchanged),
        )

    def _prepare(self) -> tuple[Daemon, list[supervisor.Spec], list[supervisor.Spec], int]:
        """In a worker thread: the daemon as the file now describes it, the specs that run now and
        the ones it wants (0.2 s each at 10,000 tenants). Reads the file and the secrets; changes
        nothing the loop uses (the daemon's settings change only on the loop, in ``reload``).

        The new settings are frozen out of the garbage collector's way before full passes resume
        (``heap``): a whole new ``Settings`` at 10,000 tenants is some 250,000 objects that every
        later full pass would walk, 90 ms each time, holding the loop up."""
        environ = self._options.environ
        with configfile.collector_paused():
            loaded = configproc.load(self._source, environ=environ)
            configfile.resolve_secrets(loaded, environ=environ)
            index, count = resolve_shard(loaded.settings, environ)
            prepared = dataclasses.replace(self._daemon, cfg=loaded.settings, shard_index=index, shard_count=count)
            current, wanted = self._daemon.specs(), prepared.specs()
            return prepared, current, wanted, heap.freeze(full=False)

    async def _apply(self, current: list[supervisor.Spec], wanted: list[supervisor.Spec]) -> supervisor.Applied | None:
        """Step by step from ``current`` to ``wanted``, the loop free between steps; None when a
        stop came in between (the remaining steps are left to the supervisor's stop)."""
        added: list[str] = []
        removed: list[str] = []
        changed: list[str] = []
        for index, step in enumerate(reload_steps(current, wanted, RELOAD_STEP)):
            if index:
                await self._options.clock.sleep(0)  # probes, refreshes and HTTP answers go first
                if self._daemon.stopping:
                    return None
            applied = self._daemon.sup.apply(step)
            added += applied.added
            removed += applied.removed
            changed += applied.changed
        touched = {*added, *changed}
        unchanged = tuple(spec.name for spec in wanted if spec.name not in touched)
        return supervisor.Applied(tuple(added), tuple(removed), tuple(changed), unchanged)

    def _freeze_when_started(self, names: set[str]) -> None:
        """Started tenants' first-cycle records join the frozen heap too, as at start-up."""
        if not names:
            return

        def started() -> list[asyncio.Event]:
            statuses = self._daemon.statuses()  # afresh: a tenant removed meanwhile drops out
            return [statuses[name].first_cycle_done for name in names if name in statuses]

        freezer = asyncio.ensure_future(heap.freeze_when_ready(started, clock=self._options.clock))
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
    stops or restarts at most ``size`` tenants (removals first, then the rest in ``wanted``'s
    order) and leaves every other tenant as the step before did. The last list is ``wanted``."""
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


@contextlib.contextmanager
def _signals(stop: asyncio.Event, reload: Reloader, *, enabled: bool) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if enabled:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        loop.add_signal_handler(signal.SIGHUP, reload.request)
        installed.append(signal.SIGHUP)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
