"""``grantwarden check`` and ``grantwarden plan``: one pass over the tenants, nothing changed.

Each tenant gets the same ``tenant.Worker`` the daemon runs, and one ``cycle(act=False)``: the
token, the identity check, the probes, the licence check and the re-grant plan are exactly what
``run`` would see and decide, but no client is edited and no token is dropped. The output is a
readable report (or JSON with ``--json``): per tenant its state, failing probes, and each
finding with the one-sentence fix; ``plan`` adds what a re-grant would change.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

import aiohttp
import prometheus_client
import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction as redaction_mod
from grantwarden.config import loading as configfile
from grantwarden.config import models as settings
from grantwarden.policy import labels, remediation
from grantwarden.policy.planning import Refusal, RolePlan, ScopePlan
from grantwarden.remote import client as remote_client
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import acting, minting
from grantwarden.worker import status as health
from grantwarden.worker import tenant as tenant_mod

CONCURRENCY = 32


@dataclasses.dataclass(frozen=True)
class Checked:
    tenant: settings.Tenant
    status: health.TenantStatus
    cycle: acting.Cycle


async def check(
    loaded: configfile.Loaded,
    *,
    names: list[str] | None,
    clock: clock_mod.Clock,
    redactor: redaction_mod.Redactor,
    environ: Mapping[str, str],
) -> list[Checked]:
    """One cycle per chosen tenant; ``environ`` is where ``{env: NAME}`` secrets are read."""
    cfg = loaded.settings
    chosen = [t for t in cfg.tenants if names is None or t.name in names]
    metrics = metrics_mod.Metrics(registry=prometheus_client.CollectorRegistry())
    limit = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession() as session:
        client = remote_client.Client(session=session, clock=clock, redactor=redactor)
        limiter = minting.MintLimiter(rate_per_second=cfg.minting.rate_per_second, burst=cfg.minting.burst, clock=clock)
        deps = tenant_mod.Deps(
            client=client,
            clock=clock,
            metrics=metrics,
            limiter=limiter,
            config_path=loaded.source,
            state_dir=cfg.state_dir,
            environ=environ,
            redactor=redactor,
            sharing=cfg.sharing_client_with,
        )

        async def one(tenant_cfg: settings.Tenant) -> Checked:
            # Its own task (gather): the tenant bound here names every line its cycle logs.
            with structlog.contextvars.bound_contextvars(tenant=tenant_cfg.name, org_id=tenant_cfg.org_id):
                status = tenant_mod.new_status(tenant_cfg)
                worker = tenant_mod.Worker(
                    tenant=tenant_cfg, blueprint=cfg.blueprints[tenant_cfg.blueprint], status=status, deps=deps
                )
                async with limit:
                    cycle = await worker.cycle(act=False)
                return Checked(tenant_cfg, status, cycle)

        return list(await asyncio.gather(*(one(t) for t in chosen)))


def healthy(results: list[Checked]) -> bool:
    return all(r.status.state is labels.State.HEALTHY for r in results)


def report(results: list[Checked], *, with_plan: bool) -> list[str]:
    lines: list[str] = []
    for result in results:
        status = result.status
        failing = [f"{p.probe} ({p.outcome})" for p in status.probes.values() if p.outcome is not labels.Outcome.OK]
        lines.append(f"{status.tenant}  org {status.org_id}  {status.state.upper()}")
        lines.append(f"  failing: {', '.join(failing) if failing else 'none'}")
        for finding in status.findings:
            lines.append(f"  finding: {finding.summary}")
            lines.append(f"  fix:     {finding.fix}")
            if finding.command:
                lines.append(f"  run:     {finding.command}")
        if with_plan:
            lines.append(f"  plan:    {plan_text(result.cycle)}")
        lines.append("")
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status.state] = counts.get(result.status.state, 0) + 1
    lines.append(", ".join(f"{count} {state}" for state, count in sorted(counts.items())) or "no tenants")
    return lines


def plan_text(cycle: acting.Cycle) -> str:
    """What ``run`` would do about this tenant, in one line."""
    decision = cycle.decision
    changes = [_plan_line(plan) for plan in cycle.plans.values() if isinstance(plan, RolePlan | ScopePlan)]
    refusals = [f"refused ({p.reason}): {p.detail}" for p in cycle.plans.values() if isinstance(p, Refusal)]
    action = decision.action
    if action is remediation.Action.NONE:
        return "; ".join(dict.fromkeys(refusals)) or "nothing to change"
    if action is remediation.Action.REISSUE:
        return "drop the token and mint a new one, then re-probe"
    if action is remediation.Action.HOLD:
        return f"hold ({decision.hold}): {decision.detail}"
    prefix = "dry run, would " if action is remediation.Action.DRY_RUN else ""
    return prefix + "; ".join(dict.fromkeys(changes))


def _plan_line(plan: RolePlan | ScopePlan) -> str:
    if isinstance(plan, RolePlan):
        roles = ", ".join(f"'{n}'" for n in plan.role_names)
        return f"add role {roles} in division {plan.division_id} (covers {', '.join(sorted(plan.covers))})"
    return f"add scope {', '.join(plan.add)} to the client, then a person re-consents"


def as_json(results: list[Checked], *, with_plan: bool) -> dict[str, Any]:
    tenants: list[Mapping[str, Any]] = []
    for result in results:
        entry = dict(health.tenant_json(result.status))
        if with_plan:
            entry["plan"] = {"action": str(result.cycle.decision.action), "summary": plan_text(result.cycle)}
        tenants.append(entry)
    return {"healthy": healthy(results), "tenants": tenants}
