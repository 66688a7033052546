"""How one tenant's worker is put together: its parts, each given what it uses, and new settings for them.

Why apart from the loop (``tenant``): composing a worker is wiring, not behaviour. ``assemble``
builds the ``Parts`` of one tenant from the settings and the ``Deps`` every worker shares: the
tenant's mint (a stored user grant or client credentials), its ``api_mod.TenantApi`` and, when
configured, a second one for its admin credentials (one Retry-After gate for both), the
reporter, the prober, the planner, the actor and, with a hand-off or a proxy, the access object.
``reconfigure`` hands the same parts new settings between cycles (design.md §3.11).

What it must not do: send a request, mint, sleep or log; nothing here runs. Callers: ``tenant``
(the worker), ``cycles`` and ``resolving`` (which read the parts), and the runtime and ``check``,
which build ``Deps``, ``Launch`` and each tenant's first status here.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping
from pathlib import Path

from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction
from grantwarden.config import models as settings
from grantwarden.policy import catalog, labels, scheduling
from grantwarden.remote import client as remote_client
from grantwarden.remote import gate, transport
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import access as access_mod
from grantwarden.worker import acting, minting, orgfacts, probing, reporting, tokenbox, usergrant
from grantwarden.worker import api as api_mod
from grantwarden.worker import inquiry as inquiries
from grantwarden.worker import status as health


@dataclasses.dataclass(slots=True)
class Launch:
    """How widely workers starting now spread their first cycles (``scheduling.first_window``).

    One per replica: the runtime says how many tenants start together before it starts them
    (all owned ones at start, the added and restarted ones at a reload). No rate: the old
    spread over the whole probe interval.
    """

    starting: int = 0
    rate_per_s: float | None = None

    def window(self, interval: float) -> float:
        return scheduling.first_window(interval, tenants=self.starting, rate_per_s=self.rate_per_s)


@dataclasses.dataclass(frozen=True)
class Deps:
    """What every worker shares: one client, one clock, one registry, one mint limiter, one environment."""

    client: remote_client.Client
    clock: clock_mod.Clock
    metrics: metrics_mod.Metrics
    limiter: minting.MintLimiter | None
    config_path: str
    state_dir: Path
    environ: Mapping[str, str]  # where ``{env: NAME}`` secrets are read, at every mint
    seed: int | None = None  # None: every worker draws from ``rng``; a seed: one stream per tenant
    redactor: redaction.Redactor | None = None  # learns the refresh tokens read from disk
    rng: random.Random = dataclasses.field(default_factory=random.Random)  # one Mersenne state is 2.5 KB
    launch: Launch = dataclasses.field(default_factory=Launch)
    patience: probing.Patience = probing.PATIENT  # how long a pass waits out a Retry-After (check: --max-wait)
    sharing: Callable[[str], tuple[str, ...]] | None = None
    """The other tenants using a tenant's OAuth client, by name, as the configuration in force says
    (``Settings.sharing_client_with``); asked only for an ``invalid_client`` fix."""
    access: access_mod.Wiring | None = None
    """The hand-off or the in-path proxy is configured: each worker keeps an ``access.Access``
    (design.md §2.8, §2.9); None keeps a tenant's worker as small as without either."""


def new_status(tenant: settings.Tenant) -> health.TenantStatus:
    credentials = tenant.credentials
    return health.TenantStatus(tenant.name, tenant.org_id, credentials.client_id, grant=credentials.grant)


@dataclasses.dataclass(eq=False, slots=True)
class Parts:
    """One tenant's worker, composed: the settings in force (``tenant``, replaced by a reload),
    its status, what every worker shares, and the objects a cycle uses."""

    tenant: settings.Tenant
    status: health.TenantStatus
    deps: Deps
    rng: random.Random
    mint: minting.Mint
    reporter: reporting.Reporter
    api: api_mod.TenantApi
    admin: api_mod.TenantApi | None
    access: access_mod.Access | None
    prober: probing.Prober
    planner: orgfacts.Planner
    actor: acting.Actor
    inquirer: inquiries.Inquirer | None = None  # made at the first cycle that needs one

    @property
    def clock(self) -> clock_mod.Clock:  # the one clock (``Deps.clock``)
        return self.deps.clock


def _mint(tenant: settings.Tenant, deps: Deps, endpoints: transport.Endpoints, limit: gate.Gate) -> minting.Mint:
    """The tenant's own mint: a stored user grant, or its client credentials."""
    if tenant.credentials.grant is labels.GrantType.AUTHORIZATION_CODE:
        return usergrant.minter(
            tenant, client=deps.client, endpoints=endpoints, gate=limit, state_dir=deps.state_dir,
            environ=deps.environ, redactor=deps.redactor, config_path=deps.config_path,
        )  # fmt: skip
    return minting.ClientCredentials(
        client=deps.client,
        endpoints=endpoints,
        gate=limit,
        client_id=tenant.credentials.client_id,
        secret=tenant.credentials.client_secret,
        environ=deps.environ,
        timeout_s=tenant.probe_timeout,
        where=f"credentials.client_secret of tenant {tenant.name} in {deps.config_path}",
    )


def _admin_box(
    tenant: settings.Tenant,
    deps: Deps,
    endpoints: transport.Endpoints,
    limit: gate.Gate,
    *,
    rng: random.Random,
    reporter: reporting.Reporter,
) -> tokenbox.TokenBox | None:
    """The token box of the tenant's admin identity (``admin_credentials``): the same hosts and gate."""
    credentials = tenant.admin_credentials
    if credentials is None:
        return None
    admin_mint = minting.ClientCredentials(
        client=deps.client,
        endpoints=endpoints,
        gate=limit,
        client_id=credentials.client_id,
        secret=credentials.client_secret,
        environ=deps.environ,
        where=f"admin_credentials.client_secret of tenant {tenant.name} in {deps.config_path}",
    )
    return tokenbox.TokenBox(
        tenant=f"{tenant.name}:admin",
        mint=admin_mint,
        clock=deps.clock,
        rng=rng,
        refresh=tenant.refresh,
        metrics=None,
        limiter=deps.limiter,
        identity="admin",  # no series of its own
        observer=reporter,  # its 429s hold the tenant's gate too
    )


def assemble(
    *, tenant: settings.Tenant, blueprint: settings.Blueprint, status: health.TenantStatus, deps: Deps
) -> Parts:
    """The parts of one tenant's worker; ``status`` survives the worker (the supervisor's)."""
    clock = deps.clock
    rng = deps.rng if deps.seed is None else random.Random(f"{deps.seed}:{tenant.name}")
    limit, endpoints = gate.Gate(), transport.Endpoints(tenant.api_url, tenant.login_url)
    status.floor = limit  # /status and the page show a Retry-After being waited out
    mint = _mint(tenant, deps, endpoints, limit)
    reporter = reporting.Reporter(status=status, metrics=deps.metrics, clock=clock)
    box = tokenbox.TokenBox(
        tenant=tenant.name,
        mint=mint,
        clock=clock,
        rng=rng,
        refresh=tenant.refresh,
        metrics=deps.metrics,
        limiter=deps.limiter,
        observer=reporter,
    )
    own = api_mod.TenantApi(
        client=deps.client, endpoints=endpoints, gate=limit, box=box, timeout_s=tenant.probe_timeout
    )
    admin_box = _admin_box(tenant, deps, endpoints, limit, rng=rng, reporter=reporter)
    admin = own.as_identity(admin_box) if admin_box is not None else None
    access = None
    if deps.access is not None:  # design.md §2.8, §2.9: it learns from the identity checks
        access = access_mod.attach(
            tenant=tenant, status=status, api=own, mint=mint, clock=clock, metrics=deps.metrics,
            wiring=deps.access, config_path=deps.config_path,
        )  # fmt: skip
    trust = tenant.credentials.trust
    prober = probing.Prober(
        org_id=tenant.org_id,
        probes=blueprint.probe_defs(),
        api=own,
        clock=clock,
        concurrency=tenant.probe_concurrency,
        rate_limits=reporter,
        patience=deps.patience,
        home_org_id=trust.home_org_id if trust is not None else None,
        extra=access.probe_defs if access is not None else None,
    )
    planner = orgfacts.Planner(
        grant_type=tenant.credentials.grant,
        client_id=tenant.credentials.client_id,
        grants=blueprint.grants,
        api=own,
        admin=admin,
        clock=clock,
        trusted=trust is not None,
    )
    actor = acting.Actor(
        regrant=tenant.regrant,
        status=status,
        api=own,
        admin=admin,
        prober=prober,
        planner=planner,
        reporter=reporter,
        clock=clock,
        rng=rng,
        managed_by=tenant.managed_by(blueprint),
        admin_client_id=tenant.admin_credentials.client_id if tenant.admin_credentials is not None else None,
    )
    return Parts(tenant, status, deps, rng, mint, reporter, own, admin, access, prober, planner, actor)


def reconfigure(parts: Parts, tenant: settings.Tenant, blueprint: settings.Blueprint) -> None:
    """New settings for the same identity (org, hosts, credentials): timing, probes, refresh and
    re-grant settings, the blueprint. Each part reads them from its next use on: the next
    sleep, the next pass, the next request's timeout, the next token's refresh time. The
    token, the state and the schedule already set stay; nothing is minted (design.md §3.11)."""
    parts.tenant = tenant
    if parts.access is not None:
        parts.access.tenant = tenant  # its probe interval and re-grant settings
    parts.api.retime(tenant.probe_timeout)
    parts.api.box.reconfigure(refresh=tenant.refresh)
    if parts.admin is not None:
        parts.admin.retime(tenant.probe_timeout)
        parts.admin.box.reconfigure(refresh=tenant.refresh)
    if isinstance(parts.mint, minting.ClientCredentials):
        parts.mint.retime(tenant.probe_timeout)
    probes = blueprint.probe_defs()
    parts.reporter.forget_probes(set(parts.status.probes) - {p.name for p in probes} - {catalog.TOKEN})
    parts.prober.reconfigure(probes=probes, concurrency=tenant.probe_concurrency)
    parts.planner.reconfigure(grants=blueprint.grants)
    parts.actor.reconfigure(regrant=tenant.regrant, managed_by=tenant.managed_by(blueprint))
    parts.inquirer = None  # made again when next needed, over the new allow-list
