"""One tenant's worker: keep its token, probe on schedule, diagnose, and re-grant within limits.

The supervisor runs one ``Worker`` per owned tenant (``run(stop)``); ``check`` and ``plan`` run
one ``cycle(act=False)`` of the same code, so what they print is what the daemon would do. A
cycle is: probe (``probing``) → refine and plan (``orgfacts``) → decide (``policy.remediation``)
→ diagnose (``policy.diagnosis``) → report (``reporting``) → act (``acting``). The first cycle
starts at a random offset within the probe interval, so thousands of tenants do not start
together; a reconcile request wakes the loop at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from pathlib import Path

from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction
from grantwarden.config import models as settings
from grantwarden.policy import diagnosis as diagnosis_mod
from grantwarden.policy import remediation, scheduling
from grantwarden.policy.planning import Plan
from grantwarden.remote import client as remote_client
from grantwarden.remote import gate, transport
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import acting, minting, orgfacts, probing, refreshing, reporting, usergrant
from grantwarden.worker import status as health
from grantwarden.worker import tokenbox as tokens_box


@dataclasses.dataclass(frozen=True)
class Deps:
    """What every worker shares: one client, one clock, one registry, one mint limiter."""

    client: remote_client.Client
    clock: clock_mod.Clock
    metrics: metrics_mod.Metrics
    limiter: tokens_box.MintLimiter | None
    config_path: str
    state_dir: Path
    seed: int | None = None  # None: every worker draws from ``rng``; a seed: one stream per tenant
    redactor: redaction.Redactor | None = None  # learns the refresh tokens read from disk
    rng: random.Random = dataclasses.field(default_factory=random.Random)  # one Mersenne state is 2.5 KB


@dataclasses.dataclass
class Cycle:
    """What one cycle found and decided; ``check`` and ``plan`` print it."""

    observed: probing.Pass
    plans: dict[str, Plan]
    decision: remediation.Decision
    diagnosis: diagnosis_mod.Diagnosis


class StoppedError(Exception):
    """The tenant stopped in the middle of a cycle; the cycle reports nothing."""


def new_status(tenant: settings.Tenant) -> health.TenantStatus:
    return health.TenantStatus(
        tenant=tenant.name,
        org_id=tenant.org_id,
        client_id=tenant.credentials.client_id,
        grant=tenant.credentials.grant,
    )


class Worker:
    def __init__(
        self,
        *,
        tenant: settings.Tenant,
        blueprint: settings.Blueprint,
        status: health.TenantStatus,
        deps: Deps,
    ) -> None:
        self.tenant = tenant
        self.status = status
        self.deps = deps
        self._clock = deps.clock
        self._rng = deps.rng if deps.seed is None else random.Random(f"{deps.seed}:{tenant.name}")
        self.gate = gate.Gate()
        self.endpoints = transport.Endpoints(tenant.api_url, tenant.login_url)
        self._mint = minting.for_tenant(
            tenant,
            client=deps.client,
            endpoints=self.endpoints,
            gate=self.gate,
            state_dir=deps.state_dir,
            redactor=deps.redactor,
            config_path=deps.config_path,
        )
        self.box = tokens_box.TokenBox(
            tenant=tenant.name,
            mint=self._mint,
            at_fraction=tenant.refresh.at_fraction,
            jitter_fraction=tenant.refresh.jitter_fraction,
            max_lead_s=tenant.refresh.max_lead,
            clock=deps.clock,
            rng=self._rng,
            metrics=deps.metrics,
            limiter=deps.limiter,
        )
        self.admin_box = None
        if tenant.admin_credentials is not None:
            self.admin_box = tokens_box.TokenBox(
                tenant=f"{tenant.name}:admin",
                mint=minting.client_credentials(
                    client=deps.client,
                    endpoints=self.endpoints,
                    gate=self.gate,
                    client_id=tenant.admin_credentials.client_id,
                    secret=tenant.admin_credentials.client_secret,
                    where=f"admin_credentials.client_secret of tenant {tenant.name} in {deps.config_path}",
                ),
                at_fraction=tenant.refresh.at_fraction,
                jitter_fraction=tenant.refresh.jitter_fraction,
                max_lead_s=tenant.refresh.max_lead,
                clock=deps.clock,
                rng=self._rng,
                metrics=None,  # the admin identity's tokens are not the tenant's: no series of their own
                limiter=deps.limiter,
            )
        self.prober = probing.Prober(
            org_id=tenant.org_id,
            probes=blueprint.probe_defs(),
            box=self.box,
            client=deps.client,
            endpoints=self.endpoints,
            gate=self.gate,
            clock=deps.clock,
            timeout_s=tenant.probe_timeout,
            concurrency=tenant.probe_concurrency,
            on_rate_limited=lambda probe, retry_after: self.reporter.rate_limited(probe, retry_after),
        )
        self.planner = orgfacts.Planner(
            grant_type=tenant.credentials.grant,
            client_id=tenant.credentials.client_id,
            grants=blueprint.grants,
            box=self.box,
            admin_box=self.admin_box,
            client=deps.client,
            endpoints=self.endpoints,
            gate=self.gate,
            clock=deps.clock,
            timeout_s=tenant.probe_timeout,
        )
        self.reporter = reporting.Reporter(status=status, metrics=deps.metrics, clock=deps.clock)
        self.actor = acting.Actor(worker=self)

    async def run(self, stop: asyncio.Event) -> None:
        self.gate.closing = stop  # a stop ends any wait for a Retry-After at once
        async with asyncio.TaskGroup() as group:
            group.create_task(refreshing.Refresher(box=self.box, clock=self._clock).run(stop))
            group.create_task(self._probe_loop(stop))

    async def _probe_loop(self, stop: asyncio.Event) -> None:
        wake = (stop, self.status.reconcile_requested)
        offset = scheduling.first_offset(self.tenant.probe_interval, self._rng)
        self.status.next_cycle_at = self._clock.now() + offset
        await self._clock.sleep(offset, wakeup=wake)
        while not stop.is_set():
            # Wait out a Retry-After floor here, where a stop ends the wait: inside a probe the
            # gate's wait would hold a SIGTERM up for as long as the platform asked (minutes).
            if self.gate.not_before > self._clock.now():
                self.status.next_cycle_at = self.gate.not_before
            if await self._clock.sleep(self.gate.not_before - self._clock.now(), wakeup=(stop,)):
                return
            # Read the request before clearing it: a reconcile also lifts a hold (acting.decide).
            requested = self.status.reconcile_requested.is_set()
            self.status.reconcile_requested.clear()
            try:
                await self.cycle(act=True, stop=stop, reconcile=requested)
            except StoppedError:
                return  # stopped while a request waited at the gate: nothing to report
            self.status.next_cycle_at = self._clock.now() + self.tenant.probe_interval
            await self._clock.sleep(self.tenant.probe_interval, wakeup=wake)

    async def cycle(self, *, act: bool, stop: asyncio.Event | None = None, reconcile: bool = False) -> Cycle:
        """Probe, plan, decide, diagnose, report; then act on the decision when ``act``.

        ``reconcile``: a person asked for this cycle, which lifts a hold after failed re-grants.
        """
        if isinstance(self._mint, usergrant.Minter) and self.box.token and await self._mint.changed_on_disk():
            self.box.invalidate(self.box.token)  # a person signed in again (new scopes): use the new grant
        observed = await self.prober.run()
        if observed.stopped:
            raise StoppedError
        await self.planner.refine(observed.verdicts)
        observed.sync_records()
        plans = self.actor.known_refusals(await self.planner.plans(observed.verdicts))
        decision = self.actor.decide(observed, plans, reconcile=reconcile)
        result = self.diagnose(observed, plans, in_progress=False, held=self.actor.held(decision))
        self.reporter.probes(observed)
        self.reporter.token(self.box)
        self.reporter.diagnosis(result, observed.identity_org_id)
        self.status.cycles += 1
        self.status.last_cycle_at = self._clock.now()
        self.status.first_cycle_done.set()
        cycle = Cycle(observed, plans, decision, result)
        if act:
            await self.actor.act(cycle, stop or asyncio.Event())
        return cycle

    def diagnose(
        self, observed: probing.Pass, plans: dict[str, Plan], *, in_progress: bool, held: bool
    ) -> diagnosis_mod.Diagnosis:
        return diagnosis_mod.diagnose(
            tenant=self.tenant.name,
            org_id=self.tenant.org_id,
            client_id=self.tenant.credentials.client_id,
            grant_type=self.tenant.credentials.grant,
            mode=self.tenant.regrant.mode,
            identity_org_id=observed.identity_org_id,
            token_problem=observed.token_problem,
            verdicts=observed.verdicts,
            plans=plans,
            regrant_in_progress=in_progress,
            regrant_held=held,
            previous=self.status.state,
            config_path=self.deps.config_path,
            dry_run=self.tenant.regrant.dry_run,
        )

    @property
    def probe_names(self) -> tuple[str, ...]:
        return self.prober.probe_names

    @property
    def clock(self) -> clock_mod.Clock:
        return self._clock

    @property
    def rng(self) -> random.Random:
        return self._rng
