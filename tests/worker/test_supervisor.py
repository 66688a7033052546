"""The supervisor on a ManualClock, with small scripted workers in place of tenant workers.

Covers: a crashed worker restarts after its backoff (``grantwarden_worker_restarts_total``,
``worker_crashed`` and ``worker_restarted``), and the crash log names what a TaskGroup wrapped;
more than 5 crashes in 60 s park the tenant in needs_attention with a finding, with no further
restarts until a reconcile poke or a configuration change; ``apply`` starts added tenants (shown as
``starting`` at once), stops removed ones and drops their metric series, restarts changed ones and
leaves unchanged ones running on the very same worker; a change of settings alone is handed to the
running worker (same worker, same status, same schedule), unless no hook is given or the tenant is
parked, which restarts it; one tenant's crash loop never disturbs
another's schedule; ``stop`` lets workers finish, cancels one that ignores the stop after the grace
period, and leaves no task behind (the autouse leak check); every line a tenant's worker logs, in
its own task or the tasks it starts, names that tenant and its org, and no other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable

import prometheus_client
import pytest
import structlog
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from grantwarden.base.clock import ManualClock
from grantwarden.policy import backoff, labels
from grantwarden.telemetry import metrics as metrics_mod
from grantwarden.worker import status as health
from grantwarden.worker import supervisor

SEED = 11


class CrashError(RuntimeError):
    """What a scripted worker raises."""


class Ticker:
    """A well-behaved worker: wakes every ``interval`` seconds and notes the time, until stopped."""

    def __init__(self, clock: ManualClock, interval: float = 10.0) -> None:
        self.clock = clock
        self.interval = interval
        self.ticks: list[float] = []
        self.stopped = False

    async def run(self, stop: asyncio.Event) -> None:
        while not await self.clock.sleep(self.interval, wakeup=(stop,)):
            self.ticks.append(self.clock.now())
        self.stopped = True


class Crasher:
    """Crashes at once, or wrapped in a TaskGroup's ExceptionGroup like a real tenant worker."""

    def __init__(self, *, grouped: bool = False) -> None:
        self.grouped = grouped

    async def _boom(self) -> None:
        raise CrashError("boom")

    async def run(self, stop: asyncio.Event) -> None:
        if self.grouped:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._boom())
        await self._boom()


class Stubborn:
    """Ignores the stop event: only a cancel ends it."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.cancelled = False

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self.clock.sleep(float("inf"))
        except asyncio.CancelledError:
            self.cancelled = True
            raise


@dataclasses.dataclass
class Fleet:
    """The supervisor under test, the workers it made (per tenant, in order) and its metrics."""

    clock: ManualClock
    sup: supervisor.Supervisor
    metrics: metrics_mod.Metrics
    made: dict[str, list[supervisor.Worker]]

    @property
    def registry(self) -> prometheus_client.CollectorRegistry:
        return self.metrics.registry

    def restarts(self, tenant: str) -> float:
        return self.registry.get_sample_value("grantwarden_worker_restarts_total", {"tenant": tenant}) or 0.0

    def state_gauge(self, tenant: str, state: labels.State) -> float | None:
        return self.registry.get_sample_value("grantwarden_tenant_state", {"tenant": tenant, "state": state})

    def series_of(self, tenant: str) -> list[str]:
        return [
            sample.name
            for family in self.registry.collect()
            for sample in family.samples
            if sample.labels.get("tenant") == tenant
        ]


Script = Callable[[str, int], supervisor.Worker]  # (tenant, how many it had before) → next worker


def make_fleet(
    clock: ManualClock, script: Script, *, grace_s: float = 10.0, reconfigure: supervisor.Reconfigure | None = None
) -> Fleet:
    metrics = metrics_mod.Metrics(registry=prometheus_client.CollectorRegistry())
    made: dict[str, list[supervisor.Worker]] = {}

    def factory(spec: supervisor.Spec, status: health.TenantStatus) -> supervisor.Worker:
        workers = made.setdefault(spec.name, [])
        worker = script(spec.name, len(workers))
        workers.append(worker)
        return worker

    def status_factory(spec: supervisor.Spec) -> health.TenantStatus:
        return health.TenantStatus(
            tenant=spec.name, org_id=f"org-{spec.name}", client_id="client", grant=labels.GrantType.CLIENT_CREDENTIALS
        )

    sup = supervisor.Supervisor(
        factory=factory,
        status_factory=status_factory,
        clock=clock,
        metrics=metrics,
        rng=random.Random(SEED),
        grace_s=grace_s,
        reconfigure=reconfigure,
    )
    return Fleet(clock, sup, metrics, made)


def specs(**keys: str) -> list[supervisor.Spec]:
    """``name="identity"`` or ``name="identity/settings"``."""
    return [supervisor.Spec(name, *key.split("/", 1)) for name, key in keys.items()]


def retuning(log: list[tuple[str, object, supervisor.Worker]]) -> supervisor.Reconfigure:
    """A reconfigure hook that notes what it was asked, as the runtime's hands settings over."""

    def reconfigure(spec: supervisor.Spec, worker: supervisor.Worker) -> None:
        log.append((spec.name, spec.settings, worker))
        if isinstance(worker, Ticker):
            worker.interval = float(str(spec.settings))

    return reconfigure


async def test_a_change_of_settings_alone_is_handed_to_the_running_worker() -> None:
    clock = ManualClock()
    start = clock.now()
    told: list[tuple[str, object, supervisor.Worker]] = []
    fleet = make_fleet(clock, lambda name, before: Ticker(clock), reconfigure=retuning(told))
    fleet.sup.apply(specs(acme="id1/10", beta="id1/10"))
    await clock.advance(15)
    status = fleet.sup.statuses["acme"]
    [worker] = fleet.made["acme"]
    assert isinstance(worker, Ticker)

    applied = fleet.sup.apply(specs(acme="id1/5", beta="id1/10"))
    assert applied == supervisor.Applied(added=(), removed=(), changed=(), unchanged=("beta",), reconfigured=("acme",))
    assert told == [("acme", "5", worker)]
    await clock.advance(10)
    assert fleet.made["acme"] == [worker], "the same worker: no restart, so no new token"
    assert fleet.sup.statuses["acme"] is status, "the same status: its state and first cycle stay"
    assert worker.ticks == [start + 10.0, start + 20.0, start + 25.0], "the new interval from the next sleep on"
    assert fleet.sup.apply(specs(acme="id1/5", beta="id1/10")).unchanged == ("acme", "beta")
    await fleet.sup.stop()


async def test_a_change_of_identity_restarts_even_when_settings_also_change() -> None:
    clock = ManualClock()
    told: list[tuple[str, object, supervisor.Worker]] = []
    fleet = make_fleet(clock, lambda name, before: Ticker(clock), reconfigure=retuning(told))
    fleet.sup.apply(specs(acme="id1/10"))
    await clock.settle()
    status = fleet.sup.statuses["acme"]
    assert fleet.sup.apply(specs(acme="id2/5")).changed == ("acme",)
    await clock.settle()
    assert told == []
    assert len(fleet.made["acme"]) == 2
    assert fleet.sup.statuses["acme"] is not status, "a new identity, a fresh status"
    await fleet.sup.stop()


async def test_without_a_hook_a_change_of_settings_restarts_the_worker() -> None:
    clock = ManualClock()
    fleet = make_fleet(clock, lambda name, before: Ticker(clock))
    fleet.sup.apply(specs(acme="id1/10"))
    await clock.settle()
    assert fleet.sup.apply(specs(acme="id1/5")).changed == ("acme",)
    await clock.settle()
    assert len(fleet.made["acme"]) == 2
    await fleet.sup.stop()


async def test_a_parked_tenant_restarts_on_a_change_of_settings() -> None:
    clock = ManualClock()
    told: list[tuple[str, object, supervisor.Worker]] = []
    fleet = make_fleet(
        clock, lambda name, before: Crasher() if before < 6 else Ticker(clock), reconfigure=retuning(told)
    )
    fleet.sup.apply(specs(acme="id1/10"))
    await clock.advance(60)
    assert fleet.sup.statuses["acme"].state is labels.State.NEEDS_ATTENTION
    assert fleet.sup.apply(specs(acme="id1/7")).changed == ("acme",), "a configuration change un-parks"
    await clock.settle()
    assert told == []
    assert isinstance(fleet.made["acme"][-1], Ticker)
    assert fleet.sup.statuses["acme"].state is labels.State.STARTING
    await fleet.sup.stop()


def expected_delays(count: int) -> list[float]:
    """The backoffs the supervisor will draw: the same seeded RNG, the same calls."""
    rng = random.Random(SEED)
    return [backoff.delay(attempt, rng=rng) for attempt in range(1, count + 1)]


async def test_a_crashed_worker_restarts_after_its_backoff() -> None:
    clock = ManualClock()
    fleet = make_fleet(clock, lambda name, before: Crasher() if before == 0 else Ticker(clock))
    [delay] = expected_delays(1)
    with capture_logs(processors=[merge_contextvars]) as logs:
        fleet.sup.apply(specs(acme="v1"))
        await clock.settle()
        assert len(fleet.made["acme"]) == 1
        await clock.advance(delay - 0.01)
        assert len(fleet.made["acme"]) == 1, "no restart before the backoff elapsed"
        assert fleet.restarts("acme") == 0
        await clock.advance(0.02)
        assert len(fleet.made["acme"]) == 2
        assert fleet.restarts("acme") == 1
        await fleet.sup.stop()
    crashed = [e for e in logs if e["event"] == "worker_crashed"]
    assert [(e["tenant"], e["error"], e["crashes"]) for e in crashed] == [("acme", "CrashError: boom", 1)]
    restarted = [e for e in logs if e["event"] == "worker_restarted"]
    assert [(e["tenant"], e["after_s"]) for e in restarted] == [("acme", round(delay, 2))]
    ticker = fleet.made["acme"][1]
    assert isinstance(ticker, Ticker)
    assert ticker.stopped


async def test_the_crash_log_names_what_the_workers_task_group_wrapped() -> None:
    clock = ManualClock()
    fleet = make_fleet(clock, lambda name, before: Crasher(grouped=True) if before == 0 else Ticker(clock))
    with capture_logs(processors=[merge_contextvars]) as logs:
        fleet.sup.apply(specs(acme="v1"))
        await clock.settle()
        await fleet.sup.stop()
    [crashed] = [e for e in logs if e["event"] == "worker_crashed"]
    assert crashed["error"] == "CrashError: boom"


async def test_more_than_five_crashes_in_a_minute_park_the_tenant_until_a_reconcile() -> None:
    clock = ManualClock()
    fleet = make_fleet(clock, lambda name, before: Crasher() if before < 6 else Ticker(clock))
    with capture_logs(processors=[merge_contextvars]) as logs:
        fleet.sup.apply(specs(acme="v1"))
        await clock.advance(60)
        assert sum(expected_delays(5)) < 60, "the sixth crash comes within the minute"
        assert len(fleet.made["acme"]) == 6
        assert fleet.restarts("acme") == 5
        status = fleet.sup.statuses["acme"]
        assert status.state is labels.State.NEEDS_ATTENTION
        assert [f.outcome for f in status.findings] == ["crash_loop"]
        assert "reconcile" in status.findings[0].fix
        assert fleet.state_gauge("acme", labels.State.NEEDS_ATTENTION) == 1
        assert status.first_cycle_done.is_set(), "a parked tenant does not hold /readyz back"

        await clock.advance(3600)
        assert len(fleet.made["acme"]) == 6, "parked: no restart however long it waits"

        assert fleet.sup.poke("acme")
        await clock.settle()
        assert len(fleet.made["acme"]) == 7
        assert fleet.restarts("acme") == 6
        await clock.advance(30)
        worker = fleet.made["acme"][6]
        assert isinstance(worker, Ticker)
        assert len(worker.ticks) == 3
        await fleet.sup.stop()
    assert [e["event"] for e in logs].count("worker_crashed") == 6
    parked = [e for e in logs if e["event"] == "tenant_state_changed"]
    assert [(e["tenant"], e["state"]) for e in parked] == [("acme", "needs_attention")]


async def test_a_configuration_change_unparks_a_crash_looping_tenant() -> None:
    clock = ManualClock()
    fleet = make_fleet(clock, lambda name, before: Crasher() if before < 6 else Ticker(clock))
    fleet.sup.apply(specs(acme="v1"))
    await clock.advance(60)
    assert fleet.sup.statuses["acme"].state is labels.State.NEEDS_ATTENTION
    assert len(fleet.made["acme"]) == 6

    applied = fleet.sup.apply(specs(acme="v2"))
    assert applied.changed == ("acme",)
    await clock.advance(10)
    assert len(fleet.made["acme"]) == 7
    assert fleet.sup.statuses["acme"].state is labels.State.STARTING, "a fresh unit, a fresh status"
    worker = fleet.made["acme"][6]
    assert isinstance(worker, Ticker)
    assert worker.ticks == [clock.now()]
    await fleet.sup.stop()


async def test_a_reload_starts_added_stops_removed_restarts_changed_and_leaves_the_rest_alone() -> None:
    clock = ManualClock()
    start = clock.now()
    fleet = make_fleet(clock, lambda name, before: Ticker(clock))
    fleet.sup.apply(specs(keep="k1", drop="d1", change="c1"))
    await clock.advance(25)
    keep, drop, change = (fleet.made[name][0] for name in ("keep", "drop", "change"))
    assert isinstance(keep, Ticker)
    assert isinstance(drop, Ticker)
    assert isinstance(change, Ticker)
    fleet.sup.statuses["drop"].state = labels.State.HEALTHY
    fleet.metrics.tenant("drop").record_probe("organization", labels.Outcome.OK, 200)
    fleet.metrics.tenant("drop").worker_restarts += 1
    keep_status = fleet.sup.statuses["keep"]

    applied = fleet.sup.apply(specs(keep="k1", change="c2", add="a1"))
    assert applied == supervisor.Applied(added=("add",), removed=("drop",), changed=("change",), unchanged=("keep",))
    await clock.advance(10)

    assert set(fleet.sup.statuses) == {"keep", "change", "add"}
    assert fleet.series_of("drop") == [], "a removed tenant's series are gone"
    assert drop.ticks == [start + 10.0, start + 20.0], "the removed worker no longer runs"
    assert len(fleet.made["keep"]) == 1, "unchanged: the very same worker"
    assert fleet.sup.statuses["keep"] is keep_status
    assert keep.ticks == [start + 10.0, start + 20.0, start + 30.0], "its schedule did not move"
    assert not keep.stopped
    assert len(fleet.made["change"]) == 2
    assert len(fleet.made["change"][1].ticks) == 1  # type: ignore[attr-defined]
    assert len(fleet.made["add"]) == 1
    assert fleet.state_gauge("add", labels.State.STARTING) == 1, "a new tenant shows as starting at once"
    await fleet.sup.stop()
    assert keep.stopped


async def test_one_tenants_crash_loop_never_disturbs_anothers_schedule() -> None:
    clock = ManualClock()
    fleet = make_fleet(clock, lambda name, before: Crasher() if name == "broken" else Ticker(clock, interval=7.0))
    start = clock.now()
    fleet.sup.apply(specs(steady="s1", broken="b1"))
    await clock.advance(70)
    assert fleet.sup.statuses["broken"].state is labels.State.NEEDS_ATTENTION
    [steady] = fleet.made["steady"]
    assert isinstance(steady, Ticker)
    assert steady.ticks == [start + 7.0 * n for n in range(1, 11)]
    assert fleet.sup.statuses["steady"].state is labels.State.STARTING
    assert fleet.restarts("steady") == 0
    assert fleet.sup.alive
    await fleet.sup.stop()


async def test_stop_cancels_a_worker_that_ignores_it_after_the_grace_period() -> None:
    clock = ManualClock()
    fleet = make_fleet(
        clock, lambda name, before: Stubborn(clock) if name == "stubborn" else Ticker(clock), grace_s=0.05
    )
    fleet.sup.apply(specs(stubborn="s1", polite="p1"))
    await clock.settle()
    await fleet.sup.stop()
    stubborn, polite = fleet.made["stubborn"][0], fleet.made["polite"][0]
    assert isinstance(stubborn, Stubborn)
    assert isinstance(polite, Ticker)
    assert stubborn.cancelled
    assert polite.stopped
    assert not fleet.sup.alive
    assert fleet.sup.statuses == {}


async def test_stop_ends_a_parked_tenant_and_a_tenant_waiting_out_its_backoff() -> None:
    clock = ManualClock()
    fleet = make_fleet(clock, lambda name, before: Crasher())
    fleet.sup.apply(specs(parked="p1"))
    await clock.advance(60)
    assert fleet.sup.statuses["parked"].state is labels.State.NEEDS_ATTENTION
    fleet.sup.apply(specs(parked="p1", waiting="w1"))
    await clock.settle()  # "waiting" crashed once and sleeps its backoff
    assert len(fleet.made["waiting"]) == 1
    await asyncio.wait_for(fleet.sup.stop(), timeout=1.0)
    assert len(fleet.made["waiting"]) == 1, "no restart on the way out"


@pytest.mark.parametrize("name", ["unknown", ""])
async def test_a_poke_for_an_unknown_tenant_is_refused(name: str) -> None:
    clock = ManualClock()
    fleet = make_fleet(clock, lambda tenant, before: Ticker(clock))
    fleet.sup.apply(specs(acme="v1"))
    assert not fleet.sup.poke(name)
    assert fleet.sup.poke("acme")
    assert fleet.sup.statuses["acme"].reconcile_requested.is_set()
    await fleet.sup.stop()


class Talker:
    """Logs one line from its own task and one from a task it starts, as a tenant worker's loops do."""

    async def run(self, stop: asyncio.Event) -> None:
        log = structlog.get_logger("test")
        log.info("from_the_worker")
        async with asyncio.TaskGroup() as group:
            group.create_task(self._child(log))

    async def _child(self, log: structlog.typing.FilteringBoundLogger) -> None:
        log.info("from_a_task_it_started")


async def test_every_line_a_tenants_worker_logs_names_its_tenant_and_org_and_no_other() -> None:
    clock = ManualClock()
    fleet = make_fleet(clock, lambda tenant, before: Talker())
    with capture_logs(processors=[merge_contextvars]) as logs:
        fleet.sup.apply(specs(acme="1", beta="1"))
        await clock.settle()
        await fleet.sup.stop()
    told = sorted((e["event"], e["tenant"], e["org_id"]) for e in logs if e["event"].startswith("from_"))
    assert told == [
        ("from_a_task_it_started", "acme", "org-acme"),
        ("from_a_task_it_started", "beta", "org-beta"),
        ("from_the_worker", "acme", "org-acme"),
        ("from_the_worker", "beta", "org-beta"),
    ]
    assert "tenant" not in structlog.contextvars.get_contextvars(), "nothing leaks out of the tenants' tasks"
