"""Acting on a cycle's decision: re-mint, re-grant, wait for propagation, verify, remember.

design.md §3 in order: a re-grant adds only what the planner chose (``remediating``), then waits
for propagation with backoff up to ``settle_timeout``, re-probing only the probes that failed
and re-minting the token every other attempt (whether an issued token sees new grants is
unknown, platform.md §2.4), and calls the re-grant verified only when those probes pass. The
guard rails that span cycles live here: at most ``max_per_hour`` attempts, a hold after three
unverified attempts (until the configuration changes or a person asks for a reconcile), and a
refusal by the platform (``bad.client.role``) remembered so the same plan is never retried in a
loop, and a role it added and verified that keeps disappearing re-added once, not again
(``removed_again``: something removes it; a reconcile lets it try again). A client managed by
Terraform (``grants.managed_by``) is never edited. Plans, dry runs and refusals are announced by
the reporter, once per distinct plan.

The actor gets its collaborators (the tenant's API identities, prober, planner, reporter) and
returns what must be diagnosed again (``Aftermath``); the tenant's loop diagnoses. A stop during
the settle wait raises ``gate.StoppedError`` like any other stop, for the loop to handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import Mapping

import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings
from grantwarden.policy import backoff, labels, remediation
from grantwarden.policy import diagnosis as diagnosis_mod
from grantwarden.policy.planning import Plan, Refusal, RefusalReason, RolePlan
from grantwarden.remote import gate
from grantwarden.worker import api, orgfacts, plans, probing, remediating, reporting, tokenbox
from grantwarden.worker import status as health

SETTLE_BASE_S, SETTLE_CAP_S = 2.0, 30.0  # propagation takes "a few minutes" (platform.md §2.4)
MAX_FAILURES = 3  # unverified re-grants in a row before re-grants hold (remediation.decide's default)
MAX_ADDS = 2  # verified adds of one role before its next disappearance is reported, not re-added
Action = remediation.Action
Result = labels.RegrantResult
_LOG = structlog.get_logger("grantwarden.regrant")  # tenant and org come from the task's context


@dataclasses.dataclass(frozen=True)
class Cycle:
    """What one cycle found and decided; ``check`` and ``plan`` print it."""

    observed: probing.Pass
    plans: Mapping[str, Plan]
    decision: remediation.Decision
    diagnosis: diagnosis_mod.Diagnosis
    managed_by: labels.ManagedBy = labels.ManagedBy.GRANTWARDEN  # grants.managed_by: who edits the client


@dataclasses.dataclass(frozen=True, slots=True)
class Aftermath:
    """What an attempt leaves to diagnose again: the probes as they now are, and their plans."""

    observed: probing.Pass
    plans: Mapping[str, Plan]
    held: bool  # re-grants now hold after repeated unverified attempts


class Actor:
    __slots__ = (  # one per tenant
        "_added",
        "_admin",
        "_admin_client_id",
        "_api",
        "_clock",
        "_managed_by",
        "_planner",
        "_prober",
        "_refused",
        "_regrant",
        "_reporter",
        "_rng",
        "_status",
    )

    def __init__(
        self,
        *,
        regrant: settings.RegrantSettings,
        status: health.TenantStatus,
        api: api.TenantApi,
        admin: api.TenantApi | None,
        prober: probing.Prober,
        planner: orgfacts.Planner,
        reporter: reporting.Reporter,
        clock: clock_mod.Clock,
        rng: random.Random,
        managed_by: labels.ManagedBy = labels.ManagedBy.GRANTWARDEN,
        admin_client_id: str | None = None,
    ) -> None:
        """``api``: the tenant's own identity (re-mints, its gate); ``admin``: the identity that edits the
        client (``admin_client_id`` its OAuth client); ``managed_by``: Terraform means never a PUT."""
        self._regrant = regrant
        self._managed_by = managed_by
        self._admin_client_id = admin_client_id
        self._added: dict[str, int] | None = None  # "roleId@division" → verified adds of it; rare
        self._status = status
        self._api = api
        self._admin = admin
        self._prober = prober
        self._planner = planner
        self._reporter = reporter
        self._clock = clock
        self._rng = rng
        self._refused: dict[str, Refusal] | None = None  # plan key → the platform's refusal of it; rare

    def reconfigure(self, *, regrant: settings.RegrantSettings, managed_by: labels.ManagedBy) -> None:
        """New re-grant settings and who edits the client (a reload), from the next decision on;
        refusals and holds stay."""
        self._regrant = regrant
        self._managed_by = managed_by

    def known_refusals(self, planned: Mapping[str, Plan], *, reconcile: bool = False) -> dict[str, Plan]:
        """Plans the platform already refused become that refusal: never the same PUT twice; a role
        added and verified ``MAX_ADDS`` times that is missing again becomes ``removed_again``.
        ``reconcile``: a person asked for this cycle, which lets such a role be added again."""
        if reconcile:
            self._added = None
        refused, added = self._refused, self._added
        if not refused and not added:
            return dict(planned)
        known = {name: (refused or {}).get(plans.plan_key(plan), plan) for name, plan in planned.items()}
        if not added:
            return known
        client = self._status.client_id
        return {
            name: plans.removed_again(plan, added, client_id=client, limit=MAX_ADDS) for name, plan in known.items()
        }

    def decide(self, observed: probing.Pass, planned: Mapping[str, Plan], *, reconcile: bool) -> remediation.Decision:
        """``reconcile``: a person asked for this cycle (POST reconcile), which lifts a failure hold."""
        if reconcile:
            self._status.regrant_failures = 0
        return remediation.decide(
            mode=self._regrant.mode,
            dry_run=self._regrant.dry_run,
            outcomes=[v.outcome for v in observed.verdicts.values()],
            plans=list(planned.values()),
            recent_attempt_times=self._status.regrant_attempts,
            now=self._clock.now(),
            max_per_hour=self._regrant.max_per_hour,
            consecutive_failures=self._status.regrant_failures,
            max_failures=MAX_FAILURES,
            managed_by=self._managed_by,
        )

    @property
    def managed_by(self) -> labels.ManagedBy:
        return self._managed_by

    @staticmethod
    def held(decision: remediation.Decision) -> bool:
        return decision.hold is remediation.HoldReason.TOO_MANY_FAILURES

    async def act(self, cycle: Cycle, stop: asyncio.Event) -> Aftermath | None:
        """Carry out ``cycle.decision``; what to diagnose again afterwards, if anything changed."""
        self._reporter.refusals(cycle.plans)
        action = cycle.decision.action
        if action is Action.DRY_RUN:
            self._reporter.planned(cycle.plans, dry_run=True)
        if action not in (Action.REISSUE, Action.REMEDIATE):
            return None
        now = self._clock.now()
        self._status.regrant_attempts = [t for t in self._status.regrant_attempts if now - t < 3600.0] + [now]
        self._reporter.state(labels.State.REMEDIATING, reason=f"re-grant: {action}")
        if action is Action.REISSUE:
            return await self._verify(cycle, stop, what="re-minted the token", correlation_id=None)
        return await self._remediate(cycle, stop)

    async def _remediate(self, cycle: Cycle, stop: asyncio.Event) -> Aftermath | None:
        self._reporter.planned(cycle.plans, dry_run=False)
        roles, scopes = plans.merged_roles(cycle.plans), plans.merged_scopes(cycle.plans)
        if self._admin is None or (roles is None and scopes is None):
            return None
        executor = remediating.Executor(
            admin=self._admin, client_id=self._status.client_id, admin_client_id=self._admin_client_id
        )
        if roles is not None:
            result, key = await executor.add_roles(roles), plans.plan_key(roles)
        else:
            assert scopes is not None
            result, key = await executor.add_scopes(scopes), plans.plan_key(scopes)
        if result.result is not Result.APPLIED:
            return self._not_applied(cycle, key, result)
        self._record(Result.APPLIED, result.detail, result.added, result.correlation_id)
        if scopes is not None and roles is None:
            return None  # a person must re-consent (grantwarden authorize); the next cycle shows how
        counted = roles if result.changed else None  # only what grantwarden itself added counts
        return await self._verify(cycle, stop, what=result.detail, correlation_id=result.correlation_id, added=counted)

    def _not_applied(self, cycle: Cycle, key: str, result: remediating.Result) -> Aftermath:
        self._record(result.result, result.detail, result.added, result.correlation_id)
        if result.result is Result.REFUSED:
            refusal = Refusal(RefusalReason.ADMIN_LACKS_ROLE, result.detail, roles=result.lacking, missing=result.added)
            # Under the merged plan's key and each probe's own: next cycle's per-probe plans must
            # find it, or the same PUT would be sent again every cycle.
            refused = self._refused = self._refused or {}
            for plan_key in (key, *(plans.plan_key(p) for p in cycle.plans.values() if not isinstance(p, Refusal))):
                refused[plan_key] = refusal
            self._reporter.refused_already(refusal)  # the executor logged regrant_refused
        else:
            self._status.regrant_failures += 1
        return Aftermath(cycle.observed, self.known_refusals(cycle.plans), self._holding)

    async def _verify(
        self,
        cycle: Cycle,
        stop: asyncio.Event,
        *,
        what: str,
        correlation_id: str | None,
        added: RolePlan | None = None,
    ) -> Aftermath | None:
        failing = self._prober.verifiable(cycle.observed.failing)
        if cycle.decision.action is Action.REISSUE:
            await self._remint()
        if not failing:  # only calls the integration reported and grantwarden must not repeat: its next report tells
            return None
        observed = await self._settle(failing, stop)
        still = sorted(n for n in failing if (v := observed.verdicts.get(n)) and v.outcome is not labels.Outcome.OK)
        passed = all(n in observed.verdicts for n in failing) and not still
        if passed:
            self._status.regrant_failures = 0
            if added is not None:
                self._added = plans.count_added(self._added or {}, added)
            _LOG.info(
                "regrant_verified",
                client_id=self._status.client_id,
                detail=what,
                probes=sorted(failing),
                correlation_id=correlation_id,
            )
            self._record(Result.VERIFIED, f"verified: {what}", (), correlation_id)
        else:
            self._status.regrant_failures += 1
            detail = f"not verified within settle_timeout: {', '.join(still)} still failing after: {what}"
            _LOG.error(
                "regrant_failed",
                client_id=self._status.client_id,
                detail=detail,
                failures=self._status.regrant_failures,
                correlation_id=correlation_id,
            )
            self._record(Result.FAILED, detail, (), correlation_id)
        merged = {**cycle.observed.verdicts, **observed.verdicts}
        full = probing.Pass(
            verdicts=merged,
            records={},
            identity_org_id=observed.identity_org_id or cycle.observed.identity_org_id,
            token_problem=observed.token_problem,
        )
        return Aftermath(full, await self._planner.plans(merged) if not passed else {}, self._holding)

    async def _settle(self, failing: set[str], stop: asyncio.Event) -> probing.Pass:
        """Re-probe the failing probes with backoff until they pass or settle_timeout ends.

        applied  2s   4s      8s          16s              30s …        settle_timeout
           |-----p----p-------p-----------p----------------p------…------|
                      re-mint before every other re-probe
        """
        clock = self._clock
        deadline = clock.now() + self._regrant.settle_timeout
        attempt = 0
        while True:
            attempt += 1
            delay = backoff.delay(attempt, rng=self._rng, base=SETTLE_BASE_S, cap=SETTLE_CAP_S)
            wait = min(delay, max(0.0, deadline - clock.now()))
            # A Retry-After floor (the tenant's gate) is waited out here, where a stop ends it.
            wait = max(wait, self._api.gate.not_before - clock.now())
            if await clock.sleep(wait, wakeup=(stop,)):
                raise gate.StoppedError("the tenant stopped while a re-grant settled")
            if attempt % 2 == 0:
                await self._remint()
            observed = await self._prober.run(only=failing)
            self._reporter.probes(observed)
            if all((v := observed.verdicts.get(n)) and v.outcome is labels.Outcome.OK for n in failing):
                return observed
            if clock.now() >= deadline:
                return observed

    async def _remint(self) -> None:
        box = self._api.box
        if box.token is not None:
            box.invalidate(box.token)
        with contextlib.suppress(tokenbox.TokenUnavailableError):
            await box.refresh(force=True)

    @property
    def _holding(self) -> bool:
        return self._status.regrant_failures >= MAX_FAILURES

    def _record(self, result: Result, detail: str, added: tuple[str, ...], correlation_id: str | None) -> None:
        self._reporter.regrant(health.RegrantRecord(self._clock.now(), result, detail, added, correlation_id))
