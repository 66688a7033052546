"""The fault matrix end to end: daemon and simulator in-process on one ManualClock (``matrix``).

Covers, for every fault of ``matrix.FAULTS`` (token endpoint 500, 502 HTML page, 503, hang,
reset; probes reset, malformed JSON, HTML 502, slower than probe_timeout; a 429 storm; 401 on
every call; an unresolvable host; a simulator restart; a two-day clock jump): the daemon keeps
running without a worker crash; the clean tenants stay healthy and keep probing once per interval;
the faulted tenant shows the right state and finding after each cycle of the fault and does not
hang; it recovers within its backoff bound once the fault is cleared. Then what only some faults
have: no request of a rate-limited tenant before Retry-After elapses (from the simulator's request
log); a refused token is re-minted once and the request retried once per cycle, no more; after a
restart every tenant re-mints once on its first 401; after a clock jump no request carries an
expired token; an unresolvable host fails fast and a URL fixed by SIGHUP recovers; a stop while
a probe waits out a Retry-After sends nothing more and reports no failure; and the published table
(docs/fault-matrix.md) lists every row with the state asserted here.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from grantwarden.policy import labels
from grantwarden.simulator import control, faults
from tests.reliability import harness, matrix
from tests.reliability.harness import CLEAN, FAULTED, INTERVAL_S, TENANTS

BY_NAME = {fault.name: fault for fault in matrix.FAULTS}
RATE_LIMITED = BY_NAME[f"429 storm, Retry-After {matrix.RETRY_AFTER_S} s"]
UNAUTHORIZED = BY_NAME["401 on every API call"]
RESTART = BY_NAME["simulator restart: every token forgotten"]
JUMP = BY_NAME["clock jumps two days forward"]
NO_DNS = BY_NAME["unresolvable host (nonexistent.invalid)"]
SPECIAL = {RATE_LIMITED.name, UNAUTHORIZED.name, RESTART.name, JUMP.name, NO_DNS.name}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def during(row: matrix.Row, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries logged while the fault lasted."""
    return [e for e in entries if row.applied_at <= e["time"] < row.cleared_at]


def assert_row(row: matrix.Row) -> None:
    """What every row must show: survival, clean neighbours, the right state, a timely recovery."""
    fault = row.fault
    assert row.survived, f"{fault.name}: the daemon stopped or a worker crashed"
    assert row.clean_states == {"healthy"}, f"{fault.name}: a clean tenant was {row.clean_states}"
    for tenant in row.clean:
        probes, expected = row.schedule[tenant]
        assert matrix.on_schedule(row, tenant), f"{fault.name}: {tenant} probed {probes} times, not ~{expected:.1f}"
    states = row.states
    if not fault.held and not fault.instant:  # nothing holds its cycles back: it does not hang
        assert len(row.states) >= matrix.FAULT_S / INTERVAL_S - 1, f"{fault.name}: {len(row.states)} cycles"
    assert states, f"{fault.name}: the faulted tenant finished no cycle during the fault"
    assert set(states) == {str(fault.state)}, f"{fault.name}: states {row.states}"
    if fault.finding is not None:
        assert fault.finding in row.findings, f"{fault.name}: findings {row.findings}"
    else:
        assert not row.findings, f"{fault.name}: findings {row.findings}"
    assert row.recovery_s is not None, f"{fault.name}: no clean cycle within {row.bound_s:.1f} s of clearing"
    assert row.recovery_s <= row.bound_s, f"{fault.name}: recovered after {row.recovery_s:.1f} s"


@pytest.mark.parametrize("fault", [pytest.param(f, id=slug(f.name)) for f in matrix.FAULTS if f.name not in SPECIAL])
async def test_the_daemon_rides_out_the_fault_and_the_tenant_recovers_within_its_bound(
    fault: matrix.Fault, tmp_path: Path
) -> None:
    row = await matrix.run(fault, tmp_path)
    assert_row(row)


async def test_a_token_endpoint_outage_never_asks_a_person_to_act(tmp_path: Path) -> None:
    row = await matrix.run(BY_NAME["token endpoint 503"], tmp_path)
    assert "needs_attention" not in row.states
    assert "token:unauthorized" not in row.findings


async def test_no_request_of_a_rate_limited_tenant_arrives_before_retry_after_elapses(tmp_path: Path) -> None:
    row = await matrix.run(RATE_LIMITED, tmp_path)
    assert_row(row)
    entries = row.requests[FAULTED]
    refused = [e for e in entries if e["status"] == 429]
    assert len(refused) >= 2, "a storm: the tenant was refused again after its first wait"
    for answer in refused:
        early = [e for e in entries if answer["time"] < e["time"] < answer["time"] + matrix.RETRY_AFTER_S]
        assert not early, f"requests within Retry-After of the 429 at {answer['time']}: {early}"
    changes = [e for e in row.logs if e["event"] == "tenant_state_changed" and e.get("tenant") == FAULTED]
    assert [e["state"] for e in changes] == ["healthy"], "rate limiting alone never changes the state"
    assert row.schedule[FAULTED][0] > 0


async def test_a_token_refused_on_every_call_is_reminted_and_retried_once_then_backed_off(tmp_path: Path) -> None:
    row = await matrix.run(UNAUTHORIZED, tmp_path)
    assert_row(row)
    # The tenant's own client minted before the fault; its admin identity only looks the client up.
    own = {e["client_id"] for e in row.requests[FAULTED] if e["kind"] == "token" and e["time"] < row.applied_at}
    lookups = during(row, [e for e in row.requests[FAULTED] if "/api/v2/oauth/clients/" in e["path"]])
    api = during(row, [e for e in row.requests[FAULTED] if e["kind"] == "api" and e not in lookups])
    mints = during(row, [e for e in row.requests[FAULTED] if e["kind"] == "token" and e["client_id"] in own])
    cycles = len(row.states)
    assert 0 < len(lookups) <= 2 * cycles, "the admin identity reads the client's state, at most once a cycle"
    # First cycle: the refused request, a new token, one retry. Then the credential backs off
    # (1 s doubling, shorter than the interval here): one token per cycle, refused at first use.
    assert len(mints) == cycles, "one mint per cycle"
    assert len(api) == cycles + 1, "the identity check, its one retry in the first cycle; no probe behind a 401"
    assert {e["status"] for e in api} == {401}
    invalidated = [e for e in row.logs if e["event"] == "token_invalidated" and e["tenant"] == FAULTED]
    refusals = [e["refusals"] for e in invalidated if "refusals" in e and "identity" not in e]
    assert refusals == list(range(1, cycles + 1)), "each refusal lengthens the backoff"


async def test_after_a_platform_restart_every_tenant_remints_once_on_its_first_401(tmp_path: Path) -> None:
    row = await matrix.run(RESTART, tmp_path)
    assert_row(row)
    for tenant in TENANTS:
        after = [e for e in row.requests[tenant] if e["time"] >= row.applied_at]
        statuses = [(e["kind"], e["status"]) for e in after]
        assert statuses[:3] == [("api", 401), ("token", 200), ("api", 200)], tenant
        assert statuses.count(("token", 200)) == 1
        assert all(status < 400 for _, status in statuses[3:])
    assert not [e for e in row.logs if e["event"] == "tenant_state_changed" and e["state"] != "healthy"]


async def test_after_a_two_day_clock_jump_no_request_carries_an_expired_token(tmp_path: Path) -> None:
    row = await matrix.run(JUMP, tmp_path)
    assert_row(row)
    for tenant in TENANTS:
        after = [e for e in row.requests[tenant] if e["time"] >= row.applied_at]
        assert after[0]["kind"] == "token", f"{tenant} renewed its expired token before anything else"
        assert [e for e in after if e["kind"] == "token"] == after[:1]
        assert all(e["status"] == 200 for e in after), f"{tenant}: {[e['status'] for e in after]}"


async def test_an_unresolvable_host_fails_fast_and_a_url_fixed_by_sighup_recovers(tmp_path: Path) -> None:
    row = await matrix.run(NO_DNS, tmp_path)
    assert_row(row)  # which also counts its cycles: the lookup does not hang
    reloads = [e for e in row.logs if e["event"] == "config_loaded"]
    assert [(e["changed"], e["added"], e["removed"]) for e in reloads] == [([FAULTED], [], [])]
    reached = [e for e in row.requests[FAULTED] if e["time"] < row.cleared_at]
    assert not reached, "before the fix nothing of that tenant reached the platform"
    assert all(row.requests[t] for t in CLEAN)


@dataclasses.dataclass
class Stopped:
    """A stop that came while a probe waited out a Retry-After: what followed it."""

    stopped_at: float
    took_s: float  # on the ManualClock, from the stop to the daemon's exit
    sent: list[str]  # paths the tenant requested after the stop
    reported: list[dict[str, Any]]  # its log events after the stop


async def stop_while_a_probe_waits_out_retry_after(tmp_path: Path, retry_after: int) -> Stopped:
    async with harness.staged(tmp_path) as stage:
        await stage.clock.advance(matrix.WARMUP_S)
        # One endpoint probe is refused; the identity check and the others pass, so the cycle goes
        # on and the probe queued last (probe_concurrency 4 of 5) waits on the tenant's floor.
        path = f"{harness.PREFIX}/api/v2/conversations/messaging/integrations"
        storm = faults.Fault(path, faults.Action.STATUS, status=429, retry_after=retry_after)
        control.set_fault(stage.sim.world, storm)
        await stage.clock.advance(INTERVAL_S)
        assert len([e for e in stage.requests(FAULTED) if e["status"] == 429]) == 1
        stopped_at, seen = stage.clock.now(), len(stage.logs)
        stage.stop.set()
        while not stage.task.done():
            await stage.clock.advance(1.0)
        assert await stage.task == 0
        sent = [e["path"] for e in stage.requests(FAULTED) if e["time"] > stopped_at]
        reported = [e for e in stage.logs[seen:] if e.get("tenant") == FAULTED]
        return Stopped(stopped_at, stage.clock.now() - stopped_at, sent, reported)


async def test_a_stop_while_a_probe_waits_out_retry_after_sends_nothing_more(tmp_path: Path) -> None:
    stopped = await stop_while_a_probe_waits_out_retry_after(tmp_path, retry_after=300)
    assert not stopped.sent, f"sent after the stop: {stopped.sent}"
    assert stopped.took_s < 300, "the stop waited for the Retry-After"


async def test_a_stop_while_a_probe_waits_out_retry_after_reports_no_failure(tmp_path: Path) -> None:
    stopped = await stop_while_a_probe_waits_out_retry_after(tmp_path, retry_after=300)
    assert [e["event"] for e in stopped.reported] == []


def test_the_published_fault_matrix_lists_every_row_with_the_state_asserted_here() -> None:
    text = matrix.DOC.read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line.split("|") for line in text.splitlines() if line.startswith("| ")}
    assert set(rows) - {"fault"} == {fault.name for fault in matrix.FAULTS}
    for fault in matrix.FAULTS:
        cells = [cell.strip() for cell in rows[fault.name]]
        assert cells[3] == "yes", fault.name
        assert cells[4].split(" → ")[-1] == str(fault.state), fault.name
        assert cells[6] == "healthy, on schedule", fault.name
        assert float(cells[7]) <= float(cells[8]), fault.name
        assert fault.state in labels.State
    assert harness.FAULTED in text
