"""One cycle of a tenant's worker: probe, refine and plan, decide, inquire, diagnose, report, act.

Why apart from the loop (``tenant``): the daemon's loop and ``check``/``plan`` run the same
cycle (``run(act=False)`` for the latter), so what the commands print is what the daemon would
do; and the order of the steps is the whole of a cycle's logic: probe (``probing``) → refine and
plan (``orgfacts``) → decide (``acting``) → inquire (``inquiry``, before this cycle's records
replace the last ones) → diagnose (``policy.diagnosis``) → report (``reporting``) → act.

What it must not do: sleep, wait for a schedule or handle a stop (the loop does, once), or decide
anything itself: the decisions are ``acting.decide`` and ``diagnosis.diagnose``. The inquirer is
made at the first cycle that raises a question, so a tenant that never failed holds none.
Called by ``tenant.Worker.cycle``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from grantwarden.policy import diagnosis as diagnosis_mod
from grantwarden.policy import tokens as token_policy
from grantwarden.policy.planning import Plan
from grantwarden.worker import acting, assembly, probing, usergrant
from grantwarden.worker import inquiry as inquiries


async def run(
    parts: assembly.Parts, *, act: bool, stop: asyncio.Event | None = None, reconcile: bool = False
) -> acting.Cycle:
    """Probe, plan, decide, diagnose, report; then act on the decision when ``act``.

    ``reconcile``: a person asked for this cycle, which lifts a hold after failed re-grants.
    """
    box, access, actor, status = parts.api.box, parts.access, parts.actor, parts.status
    if isinstance(parts.mint, usergrant.Minter) and box.token and await parts.mint.changed_on_disk():
        box.invalidate(box.token)  # a person signed in again (new scopes): use the new grant
    mark = access.before_pass() if access is not None else 0
    observed = await parts.prober.run()
    if access is not None:
        observed = access.after_pass(observed, mark)  # identity learnt; reported refusals in
    observed = await parts.planner.refine(observed)
    plans = actor.known_refusals(await parts.planner.plans(observed.verdicts), reconcile=reconcile)
    decision = actor.decide(observed, plans, reconcile=reconcile)
    await _inquire(parts, observed)  # before this cycle's records replace the last ones
    result = _diagnose(parts, observed, plans, held=actor.held(decision))
    parts.reporter.probes(observed)
    _show(parts, result, observed)
    status.cycles += 1
    status.last_cycle_at = parts.clock.now()
    status.first_cycle_done.set()
    cycle = acting.Cycle(observed, plans, decision, result, actor.managed_by)
    if act and (after := await actor.act(cycle, stop or asyncio.Event())) is not None:
        _show(parts, _diagnose(parts, after.observed, after.plans, held=after.held), after.observed)
    return cycle


async def _inquire(parts: assembly.Parts, observed: probing.Pass) -> None:
    """The facts a finding needs beyond the probes; a tenant that never failed holds no inquirer."""
    if parts.inquirer is None:
        if not inquiries.needed(observed):
            return
        parts.inquirer = parts.planner.inquirer(tenant=parts.tenant, status=parts.status)
    await parts.inquirer.look(observed)


def _diagnose(
    parts: assembly.Parts, observed: probing.Pass, plans: Mapping[str, Plan], *, held: bool
) -> diagnosis_mod.Diagnosis:
    tenant = parts.tenant
    evidence = parts.inquirer.evidence if parts.inquirer is not None else inquiries.NOTHING
    sharing = parts.deps.sharing
    rejected = observed.token_problem is token_policy.TokenProblem.INVALID_CLIENT
    trust = tenant.credentials.trust
    admin = tenant.admin_credentials
    return diagnosis_mod.diagnose(
        tenant=tenant.name,
        org_id=tenant.org_id,
        client_id=tenant.credentials.client_id,
        grant_type=tenant.credentials.grant,
        mode=tenant.regrant.mode,
        identity_org_id=observed.identity_org_id,
        token_problem=observed.token_problem,
        verdicts=observed.verdicts,
        plans=plans,
        regrant_in_progress=False,
        regrant_held=held,
        previous=parts.status.state,
        config_path=parts.deps.config_path,
        dry_run=tenant.regrant.dry_run,
        login_url=tenant.login_url if rejected else "",  # only an invalid_client fix names the hosts
        region=tenant.region,
        client_state=evidence.client_state,
        shared_with=sharing(tenant.name) if sharing is not None and rejected else (),
        admin_client_id=admin.client_id if admin is not None else None,
        home_org_id=trust.home_org_id if trust is not None else None,
        identity_home_org_id=observed.identity_home_org_id,
        managed_by=parts.actor.managed_by,
        member=evidence.member,
        changes=evidence.changes,
    )


def _show(parts: assembly.Parts, result: diagnosis_mod.Diagnosis, observed: probing.Pass) -> None:
    """The token's schedule, the state and the findings, as status, metrics and log lines."""
    parts.reporter.token(parts.api.box)
    parts.reporter.diagnosis(result, observed.identity_org_id)
