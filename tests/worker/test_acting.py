"""acting: the actor's guard rails over cycles, on a ManualClock against the in-memory tenant API.

Covers, as a table of scenarios run for a number of cycles (probe, refine, plan, decide, act, as
the tenant's loop does): a re-grant applied and verified once the role propagates; a dry run
that changes nothing and says so once; ``max_per_hour`` holding a second attempt; a hold after
three unverified attempts (a PUT, then re-mints), which a reconcile lifts; a plan the admin
cannot grant, and one the platform refused (``bad.client.role``), each announced once and never
sent again; a role that keeps disappearing re-added once after grantwarden's own add, then refused
as ``removed_again`` (a reconcile lets it try again); a Terraform-managed client never PUT. Also:
what an attempt leaves to diagnose again, and a stop during the settle ending the actor at once
with the one stop signal.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random

import prometheus_client
import pytest
from structlog.testing import capture_logs

from grantwarden.base import clock as clock_mod
from grantwarden.config import models as settings
from grantwarden.policy import catalog, diagnosis, labels, planning, remediation
from grantwarden.remote import gate
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import acting, orgfacts, probing, reporting
from grantwarden.worker import status as health
from tests.worker import fakes

Action, Hold, Result = remediation.Action, remediation.HoldReason, labels.RegrantResult
PERMISSION = "messaging:integration:view"
SETTLE_S = 20.0


class Tenant:
    """One tenant's actor and the parts it works with, over a fake org where the probe lacks a role."""

    def __init__(
        self,
        regrant: settings.RegrantSettings,
        *,
        propagates: bool,
        managed_by: labels.ManagedBy = labels.ManagedBy.GRANTWARDEN,
    ) -> None:
        self.clock = clock_mod.ManualClock(start=0.0)
        self.api = fakes.FakeApi(self.clock)
        self.admin = fakes.FakeApi(self.clock, client_id=fakes.ADMIN_CLIENT)
        self.api.forbidden[fakes.INTEGRATIONS.path] = PERMISSION
        if propagates:  # the platform grants the role at once: the probe passes after the PUT
            self.admin.after_put = lambda body: self.api.forbidden.clear()
        self.status = health.TenantStatus("acme", fakes.ORG, fakes.CLIENT, labels.GrantType.CLIENT_CREDENTIALS)
        metrics = metrics_mod.Metrics(registry=prometheus_client.CollectorRegistry())
        reporter = reporting.Reporter(status=self.status, metrics=metrics, clock=self.clock)
        probes = (catalog.BUILTIN[catalog.TOKEN], fakes.INTEGRATIONS)
        self.prober = probing.Prober(
            org_id=fakes.ORG, probes=probes, api=self.api, clock=self.clock, concurrency=2, rate_limits=reporter
        )  # type: ignore[arg-type]
        self.planner = orgfacts.Planner(
            grant_type=labels.GrantType.CLIENT_CREDENTIALS,
            client_id=fakes.CLIENT,
            grants=settings.Grants(roles=["Messaging Viewer"]),
            api=self.api,  # type: ignore[arg-type]
            admin=self.admin,  # type: ignore[arg-type]
            clock=self.clock,
        )
        self.actor = acting.Actor(
            regrant=regrant,
            status=self.status,
            api=self.api,  # type: ignore[arg-type]
            admin=self.admin,  # type: ignore[arg-type]
            prober=self.prober,
            planner=self.planner,
            reporter=reporter,
            clock=self.clock,
            rng=random.Random(1),
            managed_by=managed_by,
        )
        self.stop = asyncio.Event()

    async def cycle(self, *, reconcile: bool = False) -> tuple[acting.Cycle, acting.Aftermath | None]:
        """One cycle as ``tenant.Worker.cycle`` runs it, then the interval until the next."""
        observed = await self.planner.refine(await self.prober.run())
        plans = self.actor.known_refusals(await self.planner.plans(observed.verdicts), reconcile=reconcile)
        decision = self.actor.decide(observed, plans, reconcile=reconcile)
        result = diagnosis.diagnose(
            tenant="acme",
            org_id=fakes.ORG,
            client_id=fakes.CLIENT,
            grant_type=labels.GrantType.CLIENT_CREDENTIALS,
            mode=labels.RegrantMode.REMEDIATE,
            identity_org_id=observed.identity_org_id,
            token_problem=observed.token_problem,
            verdicts=observed.verdicts,
            plans=plans,
        )
        cycle = acting.Cycle(observed, plans, decision, result)
        acting_task = asyncio.create_task(self.actor.act(cycle, self.stop))
        await self.clock.advance(SETTLE_S + 60.0)  # past the settle and its last backoff step
        return cycle, await acting_task

    def puts(self) -> int:
        return len(self.admin.called("put_oauth_client"))

    def someone_removes_the_role(self) -> None:
        """A person (or a script) takes the added role off the client again; the probe fails again."""
        entries = self.admin.clients[fakes.CLIENT]["roleDivisions"]
        self.admin.clients[fakes.CLIENT]["roleDivisions"] = [e for e in entries if e["roleId"] != fakes.VIEWER["id"]]
        self.api.forbidden[fakes.INTEGRATIONS.path] = PERMISSION


@dataclasses.dataclass(frozen=True)
class Row:
    regrant: settings.RegrantSettings
    cycles: int
    puts: int
    results: tuple[labels.RegrantResult, ...]
    last: tuple[remediation.Action, remediation.HoldReason | None]
    propagates: bool = False
    admin_holds_role: bool = True
    put_answers: tuple[Exception, ...] = ()
    refused_lines: int = 0


def regrant(**given: object) -> settings.RegrantSettings:
    return settings.RegrantSettings(**{"settle_timeout": SETTLE_S, **given})


SCENARIOS = [
    pytest.param(
        Row(regrant(), 1, 1, (Result.PLANNED, Result.APPLIED, Result.VERIFIED), (Action.REMEDIATE, None), True),
        id="applied-and-verified",
    ),
    pytest.param(Row(regrant(dry_run=True), 3, 0, (Result.PLANNED,), (Action.DRY_RUN, None)), id="dry-run-once"),
    pytest.param(
        Row(
            regrant(max_per_hour=1), 2, 1, (Result.PLANNED, Result.APPLIED, Result.FAILED), (Action.HOLD, Hold.RATE_CAP)
        ),
        id="max-per-hour",
    ),
    pytest.param(
        Row(
            regrant(max_per_hour=10),
            4,
            1,  # one PUT; the client then holds the role, so the next attempts re-mint
            (Result.PLANNED, Result.APPLIED, Result.FAILED, Result.FAILED, Result.FAILED),
            (Action.HOLD, Hold.TOO_MANY_FAILURES),
        ),
        id="hold-after-three-unverified",
    ),
    pytest.param(
        Row(regrant(), 2, 0, (Result.REFUSED,), (Action.NONE, None), admin_holds_role=False, refused_lines=1),
        id="admin-lacks-the-role-announced-once",
    ),
    pytest.param(
        Row(
            regrant(),
            3,
            1,
            (Result.PLANNED, Result.REFUSED),
            (Action.NONE, None),
            put_answers=(fakes.bad_client_role(),),
            refused_lines=1,
        ),
        id="platform-refusal-remembered-and-announced-once",
    ),
]


@pytest.mark.parametrize("row", SCENARIOS)
async def test_the_guard_rails_over_cycles(row: Row) -> None:
    tenant = Tenant(row.regrant, propagates=row.propagates)
    if not row.admin_holds_role:
        tenant.admin.held = []
    tenant.admin.then("put_oauth_client", *row.put_answers)
    with capture_logs() as logs:
        for _ in range(row.cycles):
            cycle, _ = await tenant.cycle()
    assert tenant.puts() == row.puts
    assert tuple(record.result for record in tenant.status.regrants) == row.results
    assert (cycle.decision.action, cycle.decision.hold) == row.last
    assert len([e for e in logs if e["event"] == "regrant_refused"]) == row.refused_lines


async def test_a_reconcile_lifts_the_hold_after_three_unverified_attempts() -> None:
    tenant = Tenant(regrant(max_per_hour=10), propagates=False)
    for _ in range(4):
        cycle, _ = await tenant.cycle()
    assert cycle.decision.hold is Hold.TOO_MANY_FAILURES
    cycle, _ = await tenant.cycle(reconcile=True)
    assert cycle.decision.action is Action.REISSUE, "a person asked: one more attempt"


async def test_an_attempt_leaves_what_to_diagnose_again() -> None:
    verified = Tenant(regrant(), propagates=True)
    _, after = await verified.cycle()
    assert after is not None
    assert after.observed.verdicts[fakes.INTEGRATIONS.name].outcome is labels.Outcome.OK
    assert (dict(after.plans), after.held) == ({}, False)

    unverified = Tenant(regrant(max_per_hour=10), propagates=False)
    for _ in range(3):
        _, after = await unverified.cycle()
    assert after is not None
    assert after.observed.verdicts[fakes.INTEGRATIONS.name].outcome is labels.Outcome.MISSING_PERMISSION
    assert after.held, "three unverified attempts: re-grants now hold"


async def test_a_stop_during_the_settle_ends_the_actor_at_once_with_the_stop_signal() -> None:
    tenant = Tenant(regrant(settle_timeout=3600.0), propagates=False)  # an hour to settle
    observed = await tenant.prober.run()
    plans = await tenant.planner.plans(observed.verdicts)
    decision = tenant.actor.decide(observed, plans, reconcile=False)
    cycle = acting.Cycle(observed, plans, decision, None)  # type: ignore[arg-type]  # act never reads it
    acting_task = asyncio.create_task(tenant.actor.act(cycle, tenant.stop))
    await tenant.clock.advance(5.0)
    assert not acting_task.done()
    tenant.stop.set()
    with pytest.raises(gate.StoppedError):
        await acting_task
    assert tenant.clock.now() == 5.0, "not a second of the hour's settle is waited once stopped"


async def test_a_role_that_keeps_disappearing_is_re_added_once_then_left_to_a_person() -> None:
    tenant = Tenant(regrant(max_per_hour=10), propagates=True)
    cycle, _ = await tenant.cycle()  # added and verified
    tenant.someone_removes_the_role()
    cycle, _ = await tenant.cycle()  # re-added once, verified
    assert tenant.puts() == 2
    tenant.someone_removes_the_role()
    with capture_logs() as logs:
        cycle, _ = await tenant.cycle()
    assert tenant.puts() == 2, "not re-added a second time"
    (plan,) = cycle.plans.values()
    assert isinstance(plan, planning.Refusal)
    assert (plan.reason, plan.roles) == (planning.RefusalReason.REMOVED_AGAIN, ("Messaging Viewer",))
    assert "something keeps removing 'Messaging Viewer' from OAuth client client-1" in plan.detail
    assert cycle.decision.action is Action.NONE
    refused = [e for e in logs if e["event"] == "regrant_refused"]
    assert [e["reason"] for e in refused] == ["removed_again"]
    cycle, _ = await tenant.cycle(reconcile=True)
    assert tenant.puts() == 3, "a person asked (reconcile): grantwarden may add it again"


async def test_a_terraform_managed_client_is_never_put() -> None:
    tenant = Tenant(regrant(), propagates=True, managed_by=labels.ManagedBy.TERRAFORM)
    for _ in range(2):
        cycle, after = await tenant.cycle()
    assert tenant.puts() == 0
    assert (cycle.decision.action, after) == (Action.NONE, None)
    assert cycle.decision.detail == "nothing a re-grant can fix"
