"""One tenant's worker: keep its token, probe on schedule, diagnose, and re-grant within limits.

The supervisor runs one ``Worker`` per owned tenant (``run(stop)``); ``check`` and ``plan`` run
one ``cycle(act=False)`` of the same code, so what they print is what the daemon would do. A
cycle is: probe (``probing``) → refine and plan (``orgfacts``) → decide (``policy.remediation``)
→ diagnose (``policy.diagnosis``) → report (``reporting``) → act (``acting``). The first cycle
starts at a random offset within what minting the starting tenants' tokens takes (``Launch``, at
most the probe interval), so thousands of tenants do not start together and a handful is ready in
seconds; a reconcile request wakes the loop at once.

Here the worker's parts are composed, each given what it uses (``api.TenantApi`` for the tenant's
client and, when configured, a second one for its admin credentials), and here a stop noticed
anywhere below (``gate.StoppedError``) is handled, once: the tenant's work ends, reporting nothing.
A tenant whose secret references cannot be resolved is not run: it shows ``needs_attention`` with
a ``secret_unavailable`` finding at once, and looks again every interval (a secret file may
appear). ``reconfigure`` hands a running worker new settings between cycles (design.md §3.11).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable, Mapping
from pathlib import Path

import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction
from grantwarden.config import models as settings
from grantwarden.config.secretrefs import SecretUnavailableError
from grantwarden.policy import catalog, labels, scheduling
from grantwarden.policy import diagnosis as diagnosis_mod
from grantwarden.policy import tokens as token_policy
from grantwarden.policy.planning import Plan
from grantwarden.policy.tokens import TokenProblem
from grantwarden.remote import client as remote_client
from grantwarden.remote import gate, transport
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import access as access_mod
from grantwarden.worker import acting, api, minting, orgfacts, probing, refreshing, reporting, tokenbox, usergrant
from grantwarden.worker import inquiry as inquiries
from grantwarden.worker import status as health

_LOG = structlog.get_logger("grantwarden.tenant")  # the tenant comes from the unit task's context


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
    return health.TenantStatus(
        tenant=tenant.name,
        org_id=tenant.org_id,
        client_id=tenant.credentials.client_id,
        grant=tenant.credentials.grant,
    )


def unresolved_secrets(tenant: settings.Tenant, environ: Mapping[str, str]) -> list[health.Unresolved]:
    """Each secret reference of the tenant that cannot be resolved now, with why; the reason names
    the variable or the file, never a value (``SecretRef.reveal``)."""
    refs = [("credentials.client_secret", tenant.credentials.client_secret)]
    if tenant.admin_credentials is not None:
        refs.append(("admin_credentials.client_secret", tenant.admin_credentials.client_secret))
    unresolved = []
    for place, ref in refs:
        try:
            ref.reveal(environ)
        except SecretUnavailableError as exc:
            unresolved.append(health.Unresolved(place, str(exc), env=ref.env, file=ref.file))
    return unresolved


def _mint(tenant: settings.Tenant, deps: Deps, endpoints: transport.Endpoints, limit: gate.Gate) -> minting.Mint:
    """The tenant's own mint: a stored user grant, or its client credentials."""
    if tenant.credentials.grant is labels.GrantType.AUTHORIZATION_CODE:
        return usergrant.minter(
            tenant,
            client=deps.client,
            endpoints=endpoints,
            gate=limit,
            state_dir=deps.state_dir,
            environ=deps.environ,
            redactor=deps.redactor,
            config_path=deps.config_path,
        )
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


class Worker:
    __slots__ = (
        "_clock",
        "_mint",
        "_rng",
        "access",
        "actor",
        "admin",
        "api",
        "deps",
        "inquirer",
        "planner",
        "prober",
        "reporter",
        "status",
        "tenant",
    )

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
        self._clock = clock = deps.clock
        self._rng = rng = deps.rng if deps.seed is None else random.Random(f"{deps.seed}:{tenant.name}")
        limit, endpoints = gate.Gate(), transport.Endpoints(tenant.api_url, tenant.login_url)
        status.floor = limit  # /status and the page show a Retry-After being waited out
        self._mint = mint = _mint(tenant, deps, endpoints, limit)
        self.reporter = reporting.Reporter(status=status, metrics=deps.metrics, clock=clock)
        box = tokenbox.TokenBox(
            tenant=tenant.name,
            mint=mint,
            clock=clock,
            rng=rng,
            refresh=tenant.refresh,
            metrics=deps.metrics,
            limiter=deps.limiter,
            observer=self.reporter,
        )
        self.api = api.TenantApi(
            client=deps.client, endpoints=endpoints, gate=limit, box=box, timeout_s=tenant.probe_timeout
        )
        self.admin = admin = None
        if (credentials := tenant.admin_credentials) is not None:
            admin_mint = minting.ClientCredentials(
                client=deps.client,
                endpoints=endpoints,
                gate=limit,
                client_id=credentials.client_id,
                secret=credentials.client_secret,
                environ=deps.environ,
                where=f"admin_credentials.client_secret of tenant {tenant.name} in {deps.config_path}",
            )
            self.admin = admin = self.api.as_identity(
                tokenbox.TokenBox(
                    tenant=f"{tenant.name}:admin",
                    mint=admin_mint,
                    clock=clock,
                    rng=rng,
                    refresh=tenant.refresh,
                    metrics=None,
                    limiter=deps.limiter,
                    identity="admin",  # no series of its own
                    observer=self.reporter,  # its 429s hold the tenant's gate too
                )
            )
        self.access = None
        if deps.access is not None:  # design.md §2.8, §2.9: it learns from the identity checks below
            self.access = access_mod.attach(
                tenant=tenant, status=status, api=self.api, mint=mint, clock=clock, metrics=deps.metrics,
                wiring=deps.access, config_path=deps.config_path,
            )  # fmt: skip
        trust = tenant.credentials.trust
        home_org_id = trust.home_org_id if trust is not None else None
        admin_client_id = credentials.client_id if credentials is not None else None
        self.prober = probing.Prober(
            org_id=tenant.org_id,
            probes=blueprint.probe_defs(),
            api=self.api,
            clock=clock,
            concurrency=tenant.probe_concurrency,
            rate_limits=self.reporter,
            patience=deps.patience,
            home_org_id=home_org_id,
            extra=self.access.probe_defs if self.access is not None else None,
        )
        self.planner = orgfacts.Planner(
            grant_type=tenant.credentials.grant,
            client_id=tenant.credentials.client_id,
            grants=blueprint.grants,
            api=self.api,
            admin=admin,
            clock=clock,
            trusted=trust is not None,
        )
        self.inquirer: inquiries.Inquirer | None = None  # made at the first cycle that needs one
        self.actor = acting.Actor(
            regrant=tenant.regrant,
            status=status,
            api=self.api,
            admin=admin,
            prober=self.prober,
            planner=self.planner,
            reporter=self.reporter,
            clock=clock,
            rng=rng,
            managed_by=tenant.managed_by(blueprint),
            admin_client_id=admin_client_id,
        )

    def reconfigure(self, tenant: settings.Tenant, blueprint: settings.Blueprint) -> None:
        """New settings for the same identity (org, hosts, credentials): timing, probes, refresh and
        re-grant settings, the blueprint. Each part reads them from its next use on: the next
        sleep, the next pass, the next request's timeout, the next token's refresh time. The
        token, the state and the schedule already set stay; nothing is minted (design.md §3.11)."""
        self.tenant = tenant
        if self.access is not None:
            self.access.tenant = tenant  # its probe interval and re-grant settings
        self.api.retime(tenant.probe_timeout)
        self.api.box.reconfigure(refresh=tenant.refresh)
        if self.admin is not None:
            self.admin.retime(tenant.probe_timeout)
            self.admin.box.reconfigure(refresh=tenant.refresh)
        if isinstance(self._mint, minting.ClientCredentials):
            self._mint.retime(tenant.probe_timeout)
        probes = blueprint.probe_defs()
        self.reporter.forget_probes(set(self.status.probes) - {p.name for p in probes} - {catalog.TOKEN})
        self.prober.reconfigure(probes=probes, concurrency=tenant.probe_concurrency)
        self.planner.reconfigure(grants=blueprint.grants)
        self.actor.reconfigure(regrant=tenant.regrant, managed_by=tenant.managed_by(blueprint))
        self.inquirer = None  # made again when next needed, over the new allow-list

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: the refresh loop and the probe loop. The one place a stop is handled."""
        self.api.gate.stop = stop  # from now on a stop ends any wait at the gate, and every request
        try:
            waited = await self._secrets_resolved(stop)
            if waited is None:
                return
            async with asyncio.TaskGroup() as group:
                group.create_task(refreshing.Refresher(box=self.api.box, clock=self._clock).run(stop))
                group.create_task(self._probe_loop(stop, at_once=waited))
        except* gate.StoppedError:
            pass  # stopped while a request, a mint or a re-grant's settle waited: nothing to report
        finally:
            if self.access is not None:
                self.access.close()  # its token goes out no more: a new worker proves itself again

    async def _secrets_resolved(self, stop: asyncio.Event) -> bool | None:
        """Wait until every secret reference of the tenant resolves: False when they did at once,
        True after a wait, None when stopped first. Meanwhile no token is requested and the tenant
        shows ``needs_attention`` with a finding per secret; a reconcile looks again at once."""
        waited = False
        while unresolved := unresolved_secrets(self.tenant, self.deps.environ):
            if not waited:
                for secret in unresolved:
                    _LOG.warning("secret_unavailable", place=secret.place, reason=secret.why)
            waited = True
            summary = self.status.secrets_unavailable(self._clock.now(), unresolved, self.deps.config_path)
            self.reporter.state(labels.State.NEEDS_ATTENTION, reason=summary)
            self.status.next_cycle_at = self._clock.now() + self.tenant.probe_interval
            self.status.reconcile_requested.clear()
            await self._clock.sleep(self.tenant.probe_interval, wakeup=(stop, self.status.reconcile_requested))
            if stop.is_set():
                return None
        if waited:
            self.status.reconcile_requested.clear()
        return waited

    def _secret_back(self) -> None:
        """A secret that failed the last mint (a file gone, say) resolves again: mint at this cycle
        rather than after the backoff, which may have grown to minutes meanwhile."""
        failure = self.api.box.last_error
        missing = isinstance(failure, minting.MintFailedError) and failure.problem is TokenProblem.SECRET_UNAVAILABLE
        if missing and not unresolved_secrets(self.tenant, self.deps.environ):
            self.api.box.retry_now()

    async def _probe_loop(self, stop: asyncio.Event, *, at_once: bool = False) -> None:
        reported = () if self.access is None else (self.access.wake,)  # a refusal the integration met
        wake = (stop, self.status.reconcile_requested, *reported)
        started, interval = self._clock.now(), self.tenant.probe_interval
        window = 0.0 if at_once else self.deps.launch.window(interval)
        offset = scheduling.first_offset(window, self._rng)
        # Where its cycles settle within an interval once the first is done: first cycles bunch up
        # to be ready soon, the later ones spread as before (none when the first ones spread anyway).
        phase = self._rng.random() * interval if window < interval else None
        self.status.next_cycle_at = started + offset
        await self._clock.sleep(offset, wakeup=wake)
        while not stop.is_set():
            # Wait out a Retry-After floor here, where a stop ends the wait: inside a probe the
            # gate's wait would hold a SIGTERM up for as long as the platform asked (minutes).
            not_before = self.api.gate.not_before
            if not_before > self._clock.now():
                self.status.next_cycle_at = not_before
            if await self._clock.sleep(not_before - self._clock.now(), wakeup=(stop,)):
                return
            self._secret_back()
            # Read the request before clearing it: a reconcile also lifts a hold (acting.decide).
            requested = self.status.reconcile_requested.is_set()
            self.status.reconcile_requested.clear()
            for event in reported:
                event.clear()
            await self.cycle(act=True, stop=stop, reconcile=requested)
            interval = self.tenant.probe_interval
            delay = interval
            if phase is not None:
                delay += scheduling.into_phase(elapsed=self._clock.now() - started, phase=phase, interval=interval)
                phase = None
            self.status.next_cycle_at = self._clock.now() + delay
            await self._clock.sleep(delay, wakeup=wake)

    async def cycle(self, *, act: bool, stop: asyncio.Event | None = None, reconcile: bool = False) -> acting.Cycle:
        """Probe, plan, decide, diagnose, report; then act on the decision when ``act``.

        ``reconcile``: a person asked for this cycle, which lifts a hold after failed re-grants.
        """
        box = self.api.box
        if isinstance(self._mint, usergrant.Minter) and box.token and await self._mint.changed_on_disk():
            box.invalidate(box.token)  # a person signed in again (new scopes): use the new grant
        mark = self.access.before_pass() if self.access is not None else 0
        observed = await self.prober.run()
        if self.access is not None:
            observed = self.access.after_pass(observed, mark)  # identity learnt; reported refusals in
        observed = await self.planner.refine(observed)
        plans = self.actor.known_refusals(await self.planner.plans(observed.verdicts), reconcile=reconcile)
        decision = self.actor.decide(observed, plans, reconcile=reconcile)
        await self._inquire(observed)  # before this cycle's records replace the last ones
        result = self._diagnose(observed, plans, held=self.actor.held(decision))
        self.reporter.probes(observed)
        self._show(result, observed)
        self.status.cycles += 1
        self.status.last_cycle_at = self._clock.now()
        self.status.first_cycle_done.set()
        cycle = acting.Cycle(observed, plans, decision, result, self.actor.managed_by)
        if act and (after := await self.actor.act(cycle, stop or asyncio.Event())) is not None:
            self._show(self._diagnose(after.observed, after.plans, held=after.held), after.observed)
        return cycle

    async def _inquire(self, observed: probing.Pass) -> None:
        """The facts a finding needs beyond the probes; a tenant that never failed holds no inquirer."""
        if self.inquirer is None:
            if not inquiries.needed(observed):
                return
            self.inquirer = self.planner.inquirer(tenant=self.tenant, status=self.status)
        await self.inquirer.look(observed)

    def _diagnose(self, observed: probing.Pass, plans: Mapping[str, Plan], *, held: bool) -> diagnosis_mod.Diagnosis:
        tenant = self.tenant
        evidence = self.inquirer.evidence if self.inquirer is not None else inquiries.NOTHING
        sharing = self.deps.sharing
        rejected = observed.token_problem is token_policy.TokenProblem.INVALID_CLIENT
        trust = tenant.credentials.trust
        admin = tenant.admin_credentials
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
            regrant_in_progress=False,
            regrant_held=held,
            previous=self.status.state,
            config_path=self.deps.config_path,
            dry_run=self.tenant.regrant.dry_run,
            login_url=tenant.login_url if rejected else "",  # only an invalid_client fix names the hosts
            region=tenant.region,
            client_state=evidence.client_state,
            shared_with=sharing(tenant.name) if sharing is not None and rejected else (),
            admin_client_id=admin.client_id if admin is not None else None,
            home_org_id=trust.home_org_id if trust is not None else None,
            identity_home_org_id=observed.identity_home_org_id,
            managed_by=self.actor.managed_by,
            member=evidence.member,
            changes=evidence.changes,
        )

    def _show(self, result: diagnosis_mod.Diagnosis, observed: probing.Pass) -> None:
        """The token's schedule, the state and the findings, as status, metrics and log lines."""
        self.reporter.token(self.api.box)
        self.reporter.diagnosis(result, observed.identity_org_id)
