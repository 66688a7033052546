"""``grantwarden check`` and ``grantwarden plan``: one pass over the tenants, nothing changed.

Each tenant gets the same ``tenant.Worker`` the daemon runs, and one ``cycle(act=False)``: the
token, the identity check, the probes, the licence check and the re-grant plan are exactly what
``run`` would see and decide, but no client is edited and no token is dropped. The output is a
readable report (or JSON with ``--json``): per tenant its state, failing probes, and each
finding with the one-sentence fix; ``plan`` adds what a re-grant would change, one line per PUT
``run`` would send (the probes' plans merged as ``run`` merges them), and ``--format terraform``
prints the same additions as ``genesyscloud_oauth_client`` blocks (``policy.terraform``). A
Retry-After longer than a few seconds is told as it starts (``tell``: a line on stderr), and
``max_wait_s`` (``--max-wait``) caps what a tenant's pass waits out: beyond it the tenant reads
rate limited.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import prometheus_client
import structlog

from grantwarden.base import clock as clock_mod
from grantwarden.base import redaction as redaction_mod
from grantwarden.config import loading as configfile
from grantwarden.config import models as settings
from grantwarden.policy import labels, remediation, terraform
from grantwarden.policy.planning import Refusal, RolePlan, ScopePlan
from grantwarden.remote import client as remote_client
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import acting, assembly, minting, plans, probing, statusjson
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
    max_wait_s: float | None = None,
    tell: Callable[[str], None] | None = None,
) -> list[Checked]:
    """One cycle per chosen tenant; ``environ`` is where ``{env: NAME}`` secrets are read;
    ``max_wait_s`` caps a Retry-After waited out (None: the daemon's minute); ``tell`` hears of
    long waits, one line each."""
    cfg = loaded.settings
    chosen = [t for t in cfg.tenants if names is None or t.name in names]
    metrics = metrics_mod.Metrics(registry=prometheus_client.CollectorRegistry())
    limit = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession() as session:
        client = remote_client.Client(session=session, clock=clock, redactor=redactor)
        limiter = minting.MintLimiter(rate_per_second=cfg.minting.rate_per_second, burst=cfg.minting.burst, clock=clock)
        deps = assembly.Deps(
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
                status = assembly.new_status(tenant_cfg)
                patient = dataclasses.replace(deps, patience=patience(tenant_cfg.name, max_wait_s, tell))
                worker = tenant_mod.Worker(
                    tenant=tenant_cfg, blueprint=cfg.blueprints[tenant_cfg.blueprint], status=status, deps=patient
                )
                async with limit:
                    cycle = await worker.cycle(act=False)
                return Checked(tenant_cfg, status, cycle)

        return list(await asyncio.gather(*(one(t) for t in chosen)))


# --- waiting out Retry-After: what check says while it waits, and --max-wait ---


def patience(tenant: str, max_wait_s: float | None, tell: Callable[[str], None] | None) -> probing.Patience:
    """One tenant's patience: the daemon's minute, or ``--max-wait``; long waits told by name."""
    limit = probing.MAX_RETRY_AFTER_WAIT_S if max_wait_s is None else max_wait_s
    told = None if tell is None else functools.partial(_waiting_line, tell, tenant, max_wait_s)
    return probing.Patience(max_wait_s=limit, tell=told)


def _waiting_line(
    tell: Callable[[str], None], tenant: str, max_wait_s: float | None, request: str, seconds: float, waiting: bool
) -> None:
    if waiting:
        hint = "--max-wait to stop sooner" if max_wait_s is None else f"--max-wait {max_wait_s:g} s"
        tell(f"{tenant}: rate limited on {request}, waiting {seconds:.0f} s (Retry-After); {hint}")
    else:
        limit = f"the {probing.MAX_RETRY_AFTER_WAIT_S:g} s a pass waits"
        if max_wait_s is not None:
            limit = f"--max-wait {max_wait_s:g} s"
        tell(f"{tenant}: rate limited on {request} for {seconds:.0f} s (Retry-After), more than {limit}: not waiting")


def state_label(status: health.TenantStatus) -> str:
    """The state as the report prints it: a first pass that ended rate limited leaves the state
    at ``starting`` (a 429 never sets one), and reads ``RATE_LIMITED`` instead."""
    if status.state is labels.State.STARTING and any(f.outcome == labels.Outcome.RATE_LIMITED for f in status.findings):
        return "RATE_LIMITED"
    return status.state.upper()


def healthy(results: list[Checked]) -> bool:
    return all(r.status.state is labels.State.HEALTHY for r in results)


def report(results: list[Checked], *, with_plan: bool) -> list[str]:
    lines: list[str] = []
    for result in results:
        status = result.status
        failing = [f"{p.probe} ({p.outcome})" for p in status.probes.values() if p.outcome is not labels.Outcome.OK]
        lines.append(f"{status.tenant}  org {status.org_id}  {state_label(status)}")
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
        label = state_label(result.status).lower()
        counts[label] = counts.get(label, 0) + 1
    lines.append(", ".join(f"{count} {state}" for state, count in sorted(counts.items())) or "no tenants")
    return lines


def plan_text(cycle: acting.Cycle) -> str:
    """What ``run`` would do about this tenant, in one line: one change per PUT it would send."""
    decision = cycle.decision
    roles, scopes = plans.merged_roles(cycle.plans), plans.merged_scopes(cycle.plans)
    managed = cycle.managed_by is labels.ManagedBy.TERRAFORM
    changes = [_plan_line(plan, put=not managed) for plan in (roles, scopes) if plan is not None]
    refusals = [f"refused ({p.reason}): {p.detail}" for p in cycle.plans.values() if isinstance(p, Refusal)]
    action = decision.action
    if changes and managed:
        lines = [f"managed by terraform, never edited: {c} in its {terraform.RESOURCE} resource" for c in changes]
        return "; ".join([*lines, *dict.fromkeys(refusals)])
    if action is remediation.Action.NONE:
        return "; ".join(dict.fromkeys(refusals)) or "nothing to change"
    if action is remediation.Action.REISSUE:
        return "drop the token and mint a new one, then re-probe"
    if action is remediation.Action.HOLD:
        return f"hold ({decision.hold}): {decision.detail}"
    prefix = "dry run, would " if action is remediation.Action.DRY_RUN else ""
    return prefix + "; ".join(changes)


def _plan_line(plan: RolePlan | ScopePlan, *, put: bool = True) -> str:
    how = "one PUT; " if put else ""
    if isinstance(plan, RolePlan):
        names = dict(zip((e.role_id for e in plan.add), plan.role_names, strict=False))
        entries = ", ".join(f"'{names.get(e.role_id, e.role_id)}' in division {e.division_id}" for e in plan.add)
        word = "role" if len(plan.add) == 1 else "roles"
        return f"add {word} {entries} ({how}covers {', '.join(sorted(plan.covers))})"
    return f"add scope {', '.join(plan.add)} to the client ({how}then a person re-consents)"


def plan_json(result: Checked) -> dict[str, Any]:
    """``plan --json``'s ``plan`` object: what ``run`` would send, entry by entry."""
    cycle, tenant = result.cycle, result.tenant
    roles, scopes = plans.merged_roles(cycle.plans), plans.merged_scopes(cycle.plans)
    add: list[dict[str, Any]] = []
    if roles is not None:
        names = dict(zip((e.role_id for e in roles.add), roles.role_names, strict=False))
        covers = roles.role_covers or (roles.covers,) * len(roles.add)
        add = [
            {"role": names.get(e.role_id, e.role_id), "role_id": e.role_id, "division_id": e.division_id,
             "covers": sorted(covered)}
            for e, covered in zip(roles.add, covers, strict=False)
        ]  # fmt: skip
    return {
        "action": str(cycle.decision.action),
        "summary": plan_text(cycle),
        "tenant": tenant.name,
        "org_id": tenant.org_id,
        "client_id": tenant.credentials.client_id,
        "dry_run": tenant.regrant.dry_run,
        "managed_by": str(cycle.managed_by),
        "add": add,
        "scopes": list(scopes.add) if scopes is not None else [],
    }


def terraform_report(results: list[Checked]) -> list[str]:
    """``plan --format terraform``: per tenant, the blocks to add to its OAuth client's resource."""
    lines: list[str] = []
    for result in results:
        cycle, tenant = result.cycle, result.tenant
        found = [p for p in (plans.merged_roles(cycle.plans), plans.merged_scopes(cycle.plans)) if p is not None]
        if not found:
            lines += [f"# tenant {tenant.name}: nothing to add ({result.status.state})", ""]
        for plan in found:
            lines += terraform.hcl(
                plan, tenant=tenant.name, org_id=tenant.org_id, client_id=tenant.credentials.client_id
            )
    return lines


def as_json(results: list[Checked], *, with_plan: bool) -> dict[str, Any]:
    tenants: list[Mapping[str, Any]] = []
    for result in results:
        entry = dict(statusjson.tenant_json(result.status))
        if with_plan:
            entry["plan"] = plan_json(result)
        tenants.append(entry)
    return {"healthy": healthy(results), "tenants": tenants}
