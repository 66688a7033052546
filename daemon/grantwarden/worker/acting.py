"""Acting on a cycle's decision: re-mint, re-grant, wait for propagation, verify, remember.

design.md §3 in order: a re-grant adds only what the planner chose (``remediating``), then waits
for propagation with backoff up to ``settle_timeout``, re-probing only the probes that failed
and re-minting the token every other attempt (whether an issued token sees new grants is
unknown, platform.md §2.4), and calls the re-grant verified only when those probes pass. The
guard rails that span cycles live here: at most ``max_per_hour`` attempts, a hold after three
unverified attempts (until the configuration changes or a person asks for a reconcile), and a
refusal by the platform (``bad.client.role``) remembered so the same plan is never retried in a
loop. Plans, dry runs and refusals are logged once per distinct plan, not every cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import TYPE_CHECKING

import structlog

from grantwarden.policy import backoff, labels, remediation
from grantwarden.policy.planning import Plan, Refusal, RefusalReason, RolePlan, ScopePlan
from grantwarden.worker import probing, remediating
from grantwarden.worker import status as health
from grantwarden.worker import tokenbox as tokens_box

if TYPE_CHECKING:
    from grantwarden.worker import tenant as tenant_mod

SETTLE_BASE_S, SETTLE_CAP_S = 2.0, 30.0  # propagation takes "a few minutes" (platform.md §2.4)
Action = remediation.Action
Result = labels.RegrantResult


def plan_key(plan: Plan) -> str:
    if isinstance(plan, RolePlan):
        return "roles:" + ",".join(sorted(f"{e.role_id}@{e.division_id}" for e in plan.add))
    if isinstance(plan, ScopePlan):
        return "scopes:" + ",".join(sorted(plan.add))
    return f"refusal:{plan.reason}:{','.join(plan.roles)}:{','.join(sorted(plan.missing))}"


def merged_roles(plans: dict[str, Plan]) -> RolePlan | None:
    """One PUT for every probe's role plan: the union of what they add."""
    role_plans = [p for p in plans.values() if isinstance(p, RolePlan)]
    if not role_plans:
        return None
    add = tuple(dict.fromkeys(e for p in role_plans for e in p.add))
    names = tuple(dict.fromkeys(n for p in role_plans for n in p.role_names))
    covers = frozenset().union(*(p.covers for p in role_plans))
    return RolePlan(add=add, role_names=names, covers=covers, division_id=role_plans[0].division_id)


def merged_scopes(plans: dict[str, Plan]) -> ScopePlan | None:
    scopes = tuple(dict.fromkeys(s for p in plans.values() if isinstance(p, ScopePlan) for s in p.add))
    return ScopePlan(add=scopes) if scopes else None


def merged_refusals(plans: dict[str, Plan]) -> list[tuple[Refusal, tuple[str, ...]]]:
    """One refusal per reason and roles concerned, with the probes it covers.

    Two probes refused for one reason (the admin lacks 'Messaging Viewer', which both need) are
    one refusal to a person: one ``regrant_refused`` line, one ``refused`` count, not one per probe.
    """
    groups: dict[tuple[RefusalReason, tuple[str, ...]], list[tuple[str, Refusal]]] = {}
    for probe, plan in plans.items():
        if isinstance(plan, Refusal) and plan.reason is not RefusalReason.ALREADY_GRANTED:
            groups.setdefault((plan.reason, plan.roles), []).append((probe, plan))
    merged = []
    for members in groups.values():
        first = members[0][1]
        missing = tuple(sorted({m for _, plan in members for m in plan.missing}))
        merged.append((Refusal(first.reason, first.detail, first.roles, missing), tuple(p for p, _ in members)))
    return merged


class Actor:
    def __init__(self, *, worker: tenant_mod.Worker) -> None:
        self._worker = worker
        self._status = worker.status
        self._platform_refusals: dict[str, Refusal] = {}
        self._announced: set[str] = set()

    @functools.cached_property
    def _log(self) -> structlog.typing.FilteringBoundLogger:
        """Bound on first use: most tenants never re-grant, and a bound logger costs ~1 KB each."""
        tenant = self._worker.tenant
        log: structlog.typing.FilteringBoundLogger = structlog.get_logger("grantwarden.regrant").bind(
            tenant=tenant.name, org_id=tenant.org_id, client_id=tenant.credentials.client_id
        )
        return log

    def known_refusals(self, plans: dict[str, Plan]) -> dict[str, Plan]:
        """Plans the platform already refused become that refusal: never the same PUT twice."""
        return {name: self._platform_refusals.get(plan_key(plan), plan) for name, plan in plans.items()}

    def decide(
        self, observed: probing.Pass, plans: dict[str, Plan], *, reconcile: bool = False
    ) -> remediation.Decision:
        """``reconcile``: a person asked for this cycle (POST reconcile), which lifts a failure hold."""
        regrant = self._worker.tenant.regrant
        if reconcile:
            self._status.regrant_failures = 0
        return remediation.decide(
            mode=regrant.mode,
            dry_run=regrant.dry_run,
            outcomes=[v.outcome for v in observed.verdicts.values()],
            plans=list(plans.values()),
            recent_attempt_times=self._status.regrant_attempts,
            now=self._worker.clock.now(),
            max_per_hour=regrant.max_per_hour,
            consecutive_failures=self._status.regrant_failures,
        )

    @staticmethod
    def held(decision: remediation.Decision) -> bool:
        return decision.hold is remediation.HoldReason.TOO_MANY_FAILURES

    async def act(self, cycle: tenant_mod.Cycle, stop: asyncio.Event) -> None:
        self._announce_refusals(cycle.plans)
        action = cycle.decision.action
        if action is Action.DRY_RUN:
            self._announce_plans(cycle.plans, dry_run=True)
        if action not in (Action.REISSUE, Action.REMEDIATE):
            return
        now = self._worker.clock.now()
        self._status.regrant_attempts = [t for t in self._status.regrant_attempts if now - t < 3600.0] + [now]
        self._worker.reporter.state(labels.State.REMEDIATING, reason=f"re-grant: {action}")
        if action is Action.REISSUE:
            await self._verify(cycle, stop, what="re-minted the token", correlation_id=None)
            return
        await self._remediate(cycle, stop)

    async def _remediate(self, cycle: tenant_mod.Cycle, stop: asyncio.Event) -> None:
        self._announce_plans(cycle.plans, dry_run=False)
        executor = self._executor()
        roles, scopes = merged_roles(cycle.plans), merged_scopes(cycle.plans)
        if executor is None or (roles is None and scopes is None):
            return
        if roles is not None:
            facts = self._worker.planner.facts
            result = await executor.add_roles(roles, facts.role_names() if facts else {})
            key = plan_key(roles)
        else:
            assert scopes is not None
            result = await executor.add_scopes(scopes)
            key = plan_key(scopes)
        if result.result is not Result.APPLIED:
            self._not_applied(cycle, key, result)
            return
        self._record(Result.APPLIED, result.detail, result.added, result.correlation_id)
        if scopes is not None and roles is None:
            return  # a person must re-consent (grantwarden authorize); the next cycle shows how
        await self._verify(cycle, stop, what=result.detail, correlation_id=result.correlation_id)

    def _not_applied(self, cycle: tenant_mod.Cycle, key: str, result: remediating.Result) -> None:
        self._record(result.result, result.detail, result.added, result.correlation_id)
        if result.result is Result.REFUSED:
            refusal = Refusal(RefusalReason.ADMIN_LACKS_ROLE, result.detail, missing=result.added)
            # Under the merged plan's key and each probe's own: next cycle's per-probe plans must
            # find it, or the same PUT would be sent again every cycle.
            for refused in (key, *(plan_key(p) for p in cycle.plans.values() if not isinstance(p, Refusal))):
                self._platform_refusals[refused] = refusal
            self._announced.add(plan_key(refusal))  # the executor logged regrant_refused already
        else:
            self._status.regrant_failures += 1
        self._rediagnose(cycle.observed, self.known_refusals(cycle.plans))

    async def _verify(
        self, cycle: tenant_mod.Cycle, stop: asyncio.Event, *, what: str, correlation_id: str | None
    ) -> None:
        failing = cycle.observed.failing
        if cycle.decision.action is Action.REISSUE:
            await self._remint()
        observed = await self._settle(failing, stop)
        if observed is None:
            return  # stopping
        passed = all(observed.verdicts.get(n) and observed.verdicts[n].outcome is labels.Outcome.OK for n in failing)
        if passed:
            self._status.regrant_failures = 0
            self._log.info("regrant_verified", detail=what, probes=sorted(failing), correlation_id=correlation_id)
            self._record(Result.VERIFIED, f"verified: {what}", (), correlation_id)
        else:
            self._status.regrant_failures += 1
            still = sorted(
                n for n in failing if observed.verdicts.get(n) and observed.verdicts[n].outcome is not labels.Outcome.OK
            )
            detail = f"not verified within settle_timeout: {', '.join(still)} still failing after: {what}"
            self._log.error(
                "regrant_failed", detail=detail, failures=self._status.regrant_failures, correlation_id=correlation_id
            )
            self._record(Result.FAILED, detail, (), correlation_id)
        merged = {**cycle.observed.verdicts, **observed.verdicts}
        full = probing.Pass(
            verdicts=merged,
            records={},
            identity_org_id=observed.identity_org_id or cycle.observed.identity_org_id,
            token_problem=observed.token_problem,
        )
        self._rediagnose(full, await self._worker.planner.plans(dict(merged)) if not passed else {})

    async def _settle(self, failing: set[str], stop: asyncio.Event) -> probing.Pass | None:
        """Re-probe the failing probes with backoff until they pass or settle_timeout ends.

        applied  2s   4s      8s          16s              30s …        settle_timeout
           |-----p----p-------p-----------p----------------p------…------|
                      re-mint before every other re-probe
        """
        clock, rng = self._worker.clock, self._worker.rng
        deadline = clock.now() + self._worker.tenant.regrant.settle_timeout
        attempt = 0
        while True:
            attempt += 1
            wait = min(
                backoff.delay(attempt, rng=rng, base=SETTLE_BASE_S, cap=SETTLE_CAP_S), max(0.0, deadline - clock.now())
            )
            # A Retry-After floor (the tenant's gate) is waited out here, where a stop ends it.
            wait = max(wait, self._worker.gate.not_before - clock.now())
            if await clock.sleep(wait, wakeup=(stop,)):
                return None
            if attempt % 2 == 0:
                await self._remint()
            observed = await self._worker.prober.run(only=failing)
            if observed.stopped:
                return None
            self._worker.reporter.probes(observed)
            if all(observed.verdicts.get(n) and observed.verdicts[n].outcome is labels.Outcome.OK for n in failing):
                return observed
            if clock.now() >= deadline:
                return observed

    async def _remint(self) -> None:
        box = self._worker.box
        if box.token is not None:
            box.invalidate(box.token)
        with contextlib.suppress(tokens_box.TokenUnavailableError):
            await box.refresh(force=True)

    def _rediagnose(self, observed: probing.Pass, plans: dict[str, Plan]) -> None:
        held = self._status.regrant_failures >= 3
        result = self._worker.diagnose(observed, plans, in_progress=False, held=held)
        self._worker.reporter.token(self._worker.box)
        self._worker.reporter.diagnosis(result, observed.identity_org_id)

    def _executor(self) -> remediating.Executor | None:
        worker = self._worker
        if worker.admin_box is None:
            return None
        return remediating.Executor(
            tenant=worker.tenant.name,
            org_id=worker.tenant.org_id,
            client_id=worker.tenant.credentials.client_id,
            admin_box=worker.admin_box,
            client=worker.deps.client,
            endpoints=worker.endpoints,
            gate=worker.gate,
            timeout_s=worker.tenant.probe_timeout,
        )

    def _announce_plans(self, plans: dict[str, Plan], *, dry_run: bool) -> None:
        for plan in (merged_roles(plans), merged_scopes(plans)):
            if plan is None or (key := f"{dry_run}:{plan_key(plan)}") in self._announced:
                continue
            self._announced.add(key)
            adds = [f"{e.role_id}@{e.division_id}" for e in plan.add] if isinstance(plan, RolePlan) else list(plan.add)
            names = list(plan.role_names) if isinstance(plan, RolePlan) else list(plan.add)
            self._log.info("regrant_planned", dry_run=dry_run, add=adds, roles=names)
            self._record(
                Result.PLANNED,
                f"{'dry run: would add' if dry_run else 'will add'} {', '.join(names)}",
                tuple(names),
                None,
            )

    def _announce_refusals(self, plans: dict[str, Plan]) -> None:
        for refusal, probes in merged_refusals(plans):
            if (key := plan_key(refusal)) in self._announced:
                continue
            self._announced.add(key)
            self._log.warning(
                "regrant_refused",
                probe=probes[0],
                probes=list(probes),
                reason=str(refusal.reason),
                detail=refusal.detail,
                missing=list(refusal.missing),
            )
            self._record(Result.REFUSED, refusal.detail, (), None)

    def _record(self, result: Result, detail: str, added: tuple[str, ...], correlation_id: str | None) -> None:
        record = health.RegrantRecord(self._worker.clock.now(), result, detail, added, correlation_id)
        self._worker.reporter.regrant(record)
