"""The fault matrix: every fault the platform or the network can throw, and how the daemon takes it.

Each ``Fault`` is applied to one tenant (``harness.FAULTED``) while two others stay clean, or to
the whole platform where the fault is global by nature (a restart, a clock jump). ``run`` plays
one row on a fresh stage and returns what a person watching the daemon would see:

    warm-up        fault applied                  fault cleared           recovered
    |--- healthy ---|---- FAULT_S of the fault ----|---- backoff bound ----|---- AFTER_S ----|
                    states and findings of the     recovery = first clean
                    faulted tenant's cycles        cycle's time - cleared

``python -m tests.reliability.matrix`` plays every row and writes ``docs/fault-matrix.md``;
``tests/reliability/test_faults.py`` plays the same rows and asserts each one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from grantwarden.policy import labels
from grantwarden.simulator import control, faults, tenancy
from tests.reliability import harness
from tests.reliability.harness import FAULTED, INTERVAL_S, PREFIX, TENANTS, Stage

WARMUP_S = 2 * INTERVAL_S  # every tenant has had a first cycle (offset < interval) and a second
FAULT_S = 4 * INTERVAL_S
AFTER_S = 2 * INTERVAL_S  # after recovery: clean tenants still on schedule
HANG_S = 10_000.0  # latency of an answer that never comes while a row runs
RETRY_AFTER_S = 25  # longer than the probe interval, so the floor really holds cycles back
DOC = Path(__file__).resolve().parents[2] / "docs" / "fault-matrix.md"

Action = Callable[[Stage], Awaitable[None]]


async def _nothing(stage: Stage) -> None:
    return None


def _revoke_then(fault: faults.Fault) -> Action:
    """A token-endpoint fault matters when a token is needed: revoke the tenant's tokens too."""

    async def apply(stage: Stage) -> None:
        control.set_fault(stage.sim.world, fault)
        control.revoke_tokens(stage.sim.world, stage.sim.tenant(FAULTED).client_id)

    return apply


def _inject(fault: faults.Fault) -> Action:
    async def apply(stage: Stage) -> None:
        control.set_fault(stage.sim.world, fault)

    return apply


async def _clear(stage: Stage) -> None:
    control.clear_faults(stage.sim.world)


async def _restart(stage: Stage) -> None:
    control.restart(stage.sim.world)


async def _jump(stage: Stage) -> None:
    stage.clock.jump(2 * 86_400.0)


async def _fix_host(stage: Stage) -> None:
    await stage.reload(harness.render(stage.sim, stage.config_path.parent / "state"))


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    where: str
    apply: Action
    clear: Action = _clear
    state: labels.State = labels.State.UNREACHABLE  # the faulted tenant's state while it lasts
    finding: str | None = None  # "probe:outcome" of a finding shown while it lasts
    held: bool = False  # the faulted tenant's cycles wait on the clock (a Retry-After floor)
    instant: bool = False  # applied and over at once (a restart, a clock jump): every tenant
    faulted_url: str | None = None  # the faulted tenant's api/login URL at start


TOKEN, API, ALL = f"{PREFIX}/oauth/token", f"{PREFIX}/api/v2/", f"{PREFIX}/"
S = faults.Action
FAULTS: tuple[Fault, ...] = (
    Fault("token endpoint 500", "token endpoint", _revoke_then(faults.Fault(TOKEN, S.STATUS, status=500)),
          finding="token:server_error"),
    Fault("token endpoint 502 HTML page", "token endpoint", _revoke_then(faults.Fault(TOKEN, S.HTML, status=502)),
          finding="token:server_error"),
    Fault("token endpoint 503", "token endpoint", _revoke_then(faults.Fault(TOKEN, S.STATUS, status=503)),
          finding="token:server_error"),
    Fault("token endpoint never answers", "token endpoint",
          _revoke_then(faults.Fault(TOKEN, latency_seconds=HANG_S)), finding="token:timeout"),
    Fault("token endpoint resets connections", "token endpoint", _revoke_then(faults.Fault(TOKEN, S.DROP)),
          finding="token:network_error"),
    Fault("connection reset on probes", "API", _inject(faults.Fault(API, S.DROP)), finding="token:network_error"),
    Fault("malformed JSON on probes", "API", _inject(faults.Fault(API, S.MALFORMED)),
          state=labels.State.NEEDS_ATTENTION, finding="token:unexpected_status"),
    Fault("HTML error page (502) on probes", "API", _inject(faults.Fault(API, S.HTML, status=502)),
          finding="token:server_error"),
    Fault("probe answers slower than probe_timeout", "API", _inject(faults.Fault(API, latency_seconds=HANG_S)),
          finding="token:timeout"),
    Fault(f"429 storm, Retry-After {RETRY_AFTER_S} s", "API and token endpoint",
          _inject(faults.Fault(ALL, S.STATUS, status=429, retry_after=RETRY_AFTER_S)),
          state=labels.State.HEALTHY, finding="token:rate_limited", held=True),
    Fault("401 on every API call", "API", _inject(faults.Fault(API, S.STATUS, status=401, code="bad.credentials")),
          state=labels.State.NEEDS_ATTENTION, finding="token:unauthorized"),
    Fault("unresolvable host (nonexistent.invalid)", "api and login URL", _nothing, clear=_fix_host,
          finding="token:network_error", faulted_url="http://nonexistent.invalid"),
    Fault("simulator restart: every token forgotten", "whole platform", _restart, clear=_nothing,
          state=labels.State.HEALTHY, instant=True),
    Fault("clock jumps two days forward", "daemon and platform clock", _jump, clear=_nothing,
          state=labels.State.HEALTHY, instant=True),
)  # fmt: skip


@dataclasses.dataclass
class Row:
    """What one row showed; the test asserts it, the document prints it."""

    fault: Fault
    survived: bool = False  # the daemon still runs, its supervisor is alive, no worker crashed
    states: list[str] = dataclasses.field(default_factory=list)  # the faulted tenant's, one per cycle
    findings: set[str] = dataclasses.field(default_factory=set)  # "probe:outcome" seen while it lasted
    clean_states: set[str] = dataclasses.field(default_factory=set)  # every state the others showed
    schedule: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)  # tenant: (probes, expected)
    applied_at: float = 0.0
    cleared_at: float = 0.0
    recovered_at: float | None = None
    bound_s: float = 0.0
    requests: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    logs: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def recovery_s(self) -> float | None:
        return None if self.recovered_at is None else self.recovered_at - self.cleared_at

    @property
    def affected(self) -> tuple[str, ...]:
        return TENANTS if self.fault.instant else (FAULTED,)

    @property
    def clean(self) -> tuple[str, ...]:
        return TENANTS if self.fault.instant else harness.CLEAN


Marks = dict[str, tuple[int, int]]  # tenant: (which status object, cycles so far)


def _marks(stage: Stage) -> Marks:
    return {name: (id(status), status.cycles) for name, status in stage.daemon.statuses().items()}


def _new_cycle(stage: Stage, name: str, mark: tuple[int, int]) -> bool:
    """Whether ``name`` finished a cycle since ``mark`` (a reload brings a fresh status)."""
    status = stage.status(name)
    return id(status) != mark[0] or status.cycles > mark[1]


def _observe(stage: Stage, row: Row, last: Marks, *, during: bool) -> None:
    """Record each new cycle of the faulted tenant, and the clean tenants' states."""
    if during and _new_cycle(stage, FAULTED, last[FAULTED]):
        status = stage.status(FAULTED)
        row.states.append(str(status.state))
        row.findings.update(f"{f.probe}:{f.outcome}" for f in status.findings)
    last.update(_marks(stage))
    row.clean_states.update(str(stage.status(t).state) for t in row.clean)


def _recovered(stage: Stage, row: Row, cleared: Marks) -> bool:
    """Every affected tenant finished a clean cycle after the fault was cleared."""
    for name in row.affected:
        status = stage.status(name)
        if not _new_cycle(stage, name, cleared[name]) or status.state is not labels.State.HEALTHY or status.findings:
            return False
    row.recovered_at = max(stage.status(n).last_cycle_at or 0.0 for n in row.affected)
    return True


def _bound(stage: Stage, row: Row) -> float:
    """Seconds within which the tenant must recover: what still holds it back, plus one interval.

    A failed mint's retry (``token.refresh_at`` while ``last_error`` is set) and a 429's
    Retry-After floor keep it waiting; after both, its next cycle (at most one interval on) is
    clean. A worker restarted by a reload starts within one interval as well.
    """
    held = row.cleared_at
    status = stage.status(FAULTED)
    if status.token_last_error is not None and status.token_refresh_at is not None:
        held = max(held, status.token_refresh_at)
    for entry in stage.requests(FAULTED):
        if entry["status"] == 429:
            held = max(held, entry["time"] + RETRY_AFTER_S)
    return held - row.cleared_at + INTERVAL_S


async def _in_flight_mint_done(stage: Stage) -> None:
    """A mint that was due before the clear (its retry time passed, a failure on record) may still
    be waiting on the endpoint, which answers only after the test's real-time timeout: it then
    fails after the clear and backs off once more. Let it end, so that ``_bound`` reads the retry
    time it leaves (the tenant's status follows its token box)."""
    status = stage.status(FAULTED)
    if status.token_last_error is not None and (status.token_refresh_at or 0.0) <= stage.clock.now():
        await stage.clock.settle(pause=harness.TOKEN_TIMEOUT_S, quiet_rounds=2)


async def _advance_to(stage: Stage, moment: float, row: Row | None = None, last: Marks | None = None) -> None:
    while stage.clock.now() < moment:
        await stage.step(moment - stage.clock.now())
        if row is not None and last is not None:
            _observe(stage, row, last, during=row.fault.instant and not row.states)


async def _play(stage: Stage, row: Row) -> None:
    await _advance_to(stage, row.applied_at)
    await row.fault.apply(stage)
    row.applied_at = stage.clock.now()  # after a jump: the clock's new time
    before = {t: stage.probe_count(t) for t in TENANTS}
    last = _marks(stage)
    row.cleared_at = row.applied_at + (0.0 if row.fault.instant else FAULT_S)
    while stage.clock.now() < row.cleared_at:
        await stage.step(row.cleared_at - stage.clock.now())
        _observe(stage, row, last, during=True)
    await row.fault.clear(stage)
    await _in_flight_mint_done(stage)
    cleared = _marks(stage)
    row.bound_s = _bound(stage, row)
    give_up = row.cleared_at + row.bound_s + INTERVAL_S
    while not _recovered(stage, row, cleared) and stage.clock.now() < give_up:
        await stage.step(INTERVAL_S)
        _observe(stage, row, last, during=row.fault.instant and not row.states)
    await _advance_to(stage, stage.clock.now() + AFTER_S, row, last)
    span = stage.clock.now() - row.applied_at
    for tenant in TENANTS:
        row.schedule[tenant] = (stage.probe_count(tenant) - before[tenant], span / INTERVAL_S)


async def run(fault: Fault, tmp: Path) -> Row:
    """Play one row on a fresh stage."""
    row = Row(fault)
    with harness.short_token_timeout():
        async with harness.staged(tmp, faulted_url=fault.faulted_url) as stage:
            stage.watch_faulted = not fault.held
            row.applied_at = stage.clock.now() + WARMUP_S
            await _play(stage, row)
            crashed = any(e["event"] == "worker_crashed" for e in stage.logs)
            row.survived = not stage.task.done() and stage.daemon.alive() and not crashed
            row.requests = {t: stage.requests(t) for t in TENANTS}
            row.logs = list(stage.logs)
    return row


def on_schedule(row: Row, tenant: str) -> bool:
    """The tenant's probe count grew by one per interval (give or take the cycle at either end)."""
    probes, expected = row.schedule[tenant]
    return expected - 1 <= probes <= expected + 1


def shown(row: Row) -> str:
    """The findings the faulted tenant showed, by outcome: ``server_error (token)``."""
    by_outcome: dict[str, list[str]] = {}
    for item in sorted(row.findings):
        probe, _, outcome = item.partition(":")
        by_outcome.setdefault(outcome, []).append(probe)
    every = len(tenancy.DEFAULT_PROBES)
    parts = [f"{o} ({'every probe' if len(p) == every else ', '.join(p)})" for o, p in by_outcome.items()]
    return "; ".join(parts) or "-"


def table(rows: list[Row]) -> list[str]:
    lines = [
        "| fault | where | daemon survived | faulted tenant's state during the fault | findings shown "
        "| other tenants | recovery (s) | bound (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        states = " → ".join(dict.fromkeys(row.states)) or "-"
        others = "healthy, on schedule" if all(on_schedule(row, t) for t in row.clean) else "OFF SCHEDULE"
        if row.clean_states != {"healthy"}:
            others = "/".join(sorted(row.clean_states))
        recovery = "never" if row.recovery_s is None else f"{row.recovery_s:.1f}"
        lines.append(
            f"| {row.fault.name} | {row.fault.where} | {'yes' if row.survived else 'NO'} | {states} "
            f"| {shown(row)} | {others} | {recovery} | {row.bound_s:.1f} |"
        )
    return lines


PREAMBLE = f"""# Fault matrix

Generated by `python -m tests.reliability.matrix` (the same rows `tests/reliability/test_faults.py`
asserts). The whole daemon and the simulator run in one process on one ManualClock: three tenants,
each its own org in its own region; the fault hits one of them (`{FAULTED}`) and the other two must
stay healthy and keep probing every {INTERVAL_S:g} s. A row: {WARMUP_S:g} s healthy, then {FAULT_S:g} s
of the fault, then the fault is cleared. Token-endpoint faults also revoke the tenant's tokens, so
that it needs the endpoint. Platform-wide rows (restart, clock jump) are instantaneous and concern
every tenant. HTTP timeouts run on real time (aiohttp), so the faulted tenant's probe_timeout and
the token endpoint's timeout are {harness.FAULTED_TIMEOUT_S:g} s here; the clock holds a slow answer back
while they expire.

- *state during the fault*: the faulted tenant's state after each of its cycles, in order.
- *recovery*: seconds on the ManualClock from clearing the fault to the first cycle with every probe
  ok; *bound*: what may still hold the tenant back when the fault clears (a failed mint's backoff,
  a 429's Retry-After) plus one probe interval.

"""


async def main() -> int:
    rows = []
    for fault in FAULTS:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(await run(fault, Path(tmp)))
        sys.stdout.write(table(rows[-1:])[-1] + "\n")
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(PREAMBLE + "\n".join(table(rows)) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
    return 0 if all(row.survived and row.recovery_s is not None for row in rows) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
