"""The daemon's composition, run in-process on a ManualClock beside the simulator, from a real file.

Covers: a SIGHUP reload of the rewritten file starts added tenants, stops removed ones (their
metric series and status gone), restarts those whose credentials changed, hands a new interval to
the running worker (same task, same status, the new pace) and leaves unchanged ones on the same
running task and status; an invalid file keeps every old tenant running, logs
``config_reload_failed`` naming the problem, and sets ``grantwarden_config_last_reload_successful``
to 0 until a good file is loaded again; a reload that changes the sharding stops the tenants
that move to another replica; tenants keep their schedule while a reload reads the file (in a
worker thread), a SIGHUP during a reload brings one more reload rather than being dropped, and
a stop during a reload starts none of the tenants it read; a reload starts and stops tenants a
step at a time (tests/app/test_reloading.py has the steps); SIGTERM stops the daemon with exit
code 0, also while a tenant waits out a long Retry-After between its cycles.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
import yaml
from structlog.testing import capture_logs

from grantwarden.app import reloading, runtime
from grantwarden.base import redaction
from grantwarden.base.clock import ManualClock
from grantwarden.config import loading as configfile
from grantwarden.policy import labels, sharding
from grantwarden.simulator import control, emitting, faults, testing
from grantwarden.surface import server
from grantwarden.worker import tenant
from tests.e2e import support


@dataclasses.dataclass
class Daemon:
    """A daemon started from ``path`` with real signal handlers; ``hup()`` reloads it."""

    path: Path
    raw: dict[str, Any]
    daemon: runtime.Daemon
    http: server.Running
    registry: prometheus_client.CollectorRegistry
    task: asyncio.Task[int]
    clock: ManualClock

    def write(self, raw: dict[str, Any] | str) -> None:
        self.path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False))

    async def hup(self) -> None:
        os.kill(os.getpid(), signal.SIGHUP)
        await self.clock.settle()
        await reloads_done()
        await self.clock.settle()

    def reload_ok(self) -> float | None:
        return self.registry.get_sample_value("grantwarden_config_last_reload_successful")

    def tenants_in_metrics(self) -> set[str]:
        return {
            sample.labels["tenant"]
            for family in self.registry.collect()
            for sample in family.samples
            if "tenant" in sample.labels
        }


async def reloads_done() -> None:
    """Wait for the reload a SIGHUP started: it reads the file in a worker thread, which the
    ManualClock's settle() does not see."""
    reloads = [t for t in asyncio.all_tasks() if t.get_name() == "reload"]
    await asyncio.wait_for(asyncio.gather(*reloads), timeout=10.0)


class HeldLoad:
    """``configfile.load`` that reads the file, then waits in its worker thread until
    ``release()``: a reload that takes as long as the test wants."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.released = threading.Event()
        self.calls = 0
        real = configfile.load

        def held(*args: Any, **kwargs: Any) -> configfile.Loaded:
            self.calls += 1
            loaded = real(*args, **kwargs)
            self.started.set()
            self.released.wait(timeout=10.0)
            return loaded

        monkeypatch.setattr(configfile, "load", held)

    async def wait_started(self) -> None:
        await asyncio.to_thread(self.started.wait, 10.0)

    def release(self) -> None:
        self.released.set()


def tenant_tasks() -> dict[str, asyncio.Task[Any]]:
    return {t.get_name(): t for t in asyncio.all_tasks() if t.get_name().startswith("tenant:") and not t.done()}


def render(sim: testing.Simulator, tmp_path: Path, names: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    raw, env = emitting.render(sim.world, sim.base_url, state_dir=str(tmp_path / "state"))
    raw["tenants"] = [{k: v for k, v in t.items() if k != "parent"} for t in raw["tenants"] if t["name"] in names]
    raw["server"] = {"listen": "127.0.0.1:0"}
    return raw, env


@contextlib.asynccontextmanager
async def running(
    sim: testing.Simulator,
    clock: ManualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    names: list[str],
    *,
    raw: dict[str, Any] | None = None,
    strict: bool = False,
    **edit: Any,
) -> AsyncIterator[Daemon]:
    """The demo's ``names`` (or a configuration ``raw`` rendered and with its secrets set by the
    caller), edited at the top level by ``edit``, in a file the daemon runs from (``run --strict``
    when ``strict``); secrets are left to the daemon, as ``grantwarden run`` leaves them."""
    env: dict[str, str] = {}
    if raw is None:
        raw, env = render(sim, tmp_path, names)
    raw.update(edit)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "grantwarden.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    loaded = configfile.load(path, environ={})
    registry = prometheus_client.CollectorRegistry()
    started: asyncio.Future[tuple[runtime.Daemon, server.Running]] = asyncio.get_running_loop().create_future()
    options = runtime.Options(
        clock=clock,
        environ=dict(os.environ),
        redactor=redaction.Redactor(),
        registry=registry,
        install_signals=True,
        watchdog_interval_s=3600.0,
        seed=3,
        on_started=lambda daemon, http: started.set_result((daemon, http)),
        strict=strict,
    )
    task = asyncio.create_task(runtime.run(loaded, options), name="daemon")
    daemon, http = await started
    try:
        yield Daemon(path, raw, daemon, http, registry, task, clock)
    finally:
        if not task.done():
            os.kill(os.getpid(), signal.SIGTERM)
        while not task.done():
            await clock.advance(1.0)
        assert task.result() == 0


@pytest.mark.parametrize("step", [pytest.param(reloading.RELOAD_STEP, id="one-step"), pytest.param(1, id="by-tenant")])
async def test_sighup_starts_added_stops_removed_restarts_changed_reconfigures_and_keeps_unchanged_tenants(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, step: int
) -> None:
    monkeypatch.setattr(reloading, "RELOAD_STEP", step)
    clock = ManualClock()
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme", "acme-eu", "acme-latam", "acme-ca"]) as d,
    ):
        await clock.advance(61)
        before = dict(d.daemon.statuses())
        tasks = tenant_tasks()
        assert set(before) == {"acme", "acme-eu", "acme-latam", "acme-ca"}
        assert "acme-latam" in d.tenants_in_metrics()

        raw, env = render(sim, tmp_path, ["acme", "acme-eu", "acme-apac", "acme-ca"])
        eu = next(t for t in raw["tenants"] if t["name"] == "acme-eu")
        eu["credentials"]["client_secret"] = env[eu["credentials"]["client_secret"]["env"]]  # same value, literal
        ca = next(t for t in raw["tenants"] if t["name"] == "acme-ca")
        ca["probe_interval"] = "2m"
        with capture_logs() as logs:
            d.write(raw)
            await d.hup()
        after = d.daemon.statuses()
        assert set(after) == {"acme", "acme-eu", "acme-apac", "acme-ca"}
        assert after["acme"] is before["acme"], "unchanged: the same status, still filling"
        assert tenant_tasks()["tenant:acme"] is tasks["tenant:acme"], "unchanged: the same running task"
        assert after["acme-eu"] is not before["acme-eu"], "another credential: a fresh worker and status"
        assert tasks["tenant:acme-eu"].done()
        assert after["acme-ca"] is before["acme-ca"], "another interval: the same status"
        assert tenant_tasks()["tenant:acme-ca"] is tasks["tenant:acme-ca"], "another interval: the same task"
        assert tasks["tenant:acme-latam"].done()
        assert "acme-latam" not in d.tenants_in_metrics(), "a removed tenant's series are gone"
        assert d.reload_ok() == 1

        cycles, ca_cycles = after["acme"].cycles, after["acme-ca"].cycles
        with capture_logs() as later:
            await clock.advance(120)
        assert after["acme"].cycles == cycles + 2
        assert after["acme-ca"].cycles == ca_cycles + 1, "acme-ca now probes every 2 minutes"
        frozen = [e["at"] for e in later if e["event"] == "heap_frozen"]
        assert frozen[-1:] == ["first_cycles_done"], "the started tenants' records join the frozen heap"
        assert after["acme-apac"].cycles >= 1
        assert after["acme-eu"].cycles >= 1
        [loaded] = [e for e in logs if e["event"] == "config_loaded"]
        assert (loaded["added"], loaded["removed"], loaded["changed"], loaded["reconfigured"], loaded["unchanged"]) == (
            ["acme-apac"],
            ["acme-latam"],
            ["acme-eu"],
            ["acme-ca"],
            1,
        )


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        pytest.param("tenants: [unclosed\n", "YAML", id="not-yaml"),
        pytest.param("tenants:\n  - name: Not Valid\n", "tenants[0].name", id="invalid-tenant"),
        pytest.param({"sharding": {"count": 2}}, "sharding.count > 1", id="unknown-shard"),
    ],
)
async def test_an_invalid_file_keeps_the_old_tenants_running_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, broken: str | dict[str, Any], problem: str
) -> None:
    clock = ManualClock()
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme", "acme-eu"]) as d,
    ):
        await clock.advance(61)
        statuses = dict(d.daemon.statuses())
        tasks = tenant_tasks()
        monkeypatch.delenv("POD_NAME", raising=False)
        monkeypatch.delenv("HOSTNAME", raising=False)
        with capture_logs() as logs:
            d.write(broken if isinstance(broken, str) else {**d.raw, **broken})
            await d.hup()
        assert d.reload_ok() == 0
        assert dict(d.daemon.statuses()) == statuses
        assert tenant_tasks() == tasks
        cycles = statuses["acme"].cycles
        await clock.advance(60)
        assert statuses["acme"].cycles == cycles + 1, "the old tenants keep their schedule"

        d.write(d.raw)
        await d.hup()
        assert d.reload_ok() == 1, "a good file again clears the failure"
        assert tenant_tasks() == tasks, "the same configuration: nothing restarts"
    [failed] = [e for e in logs if e["event"] == "config_reload_failed"]
    assert failed["source"] == str(d.path)
    assert any(problem in line for line in failed["problems"]), failed["problems"]


async def test_a_reload_that_changes_the_sharding_stops_the_tenants_another_replica_now_owns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    names = ["acme", "acme-eu", "acme-apac", "acme-latam", "acme-ca"]
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, names) as d,
    ):
        await clock.advance(61)
        assert set(d.daemon.statuses()) == set(names)
        d.write({**d.raw, "sharding": {"index": 1, "count": 2}})
        await d.hup()
        kept = {t["name"] for t in d.raw["tenants"] if sharding.owns(t["org_id"], 1, 2)}
        assert kept, "the demo's orgs split over two shards"
        assert kept != set(names), "the demo's orgs split over two shards"
        assert set(d.daemon.statuses()) == kept
        assert d.tenants_in_metrics() == kept
        assert (d.daemon.shard_index, d.daemon.shard_count) == (1, 2)
        assert d.registry.get_sample_value("grantwarden_total_shards") == 2
        assert d.registry.get_sample_value("grantwarden_shard_ordinal") == 1


async def test_tenants_keep_their_schedule_while_a_reload_reads_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme", "acme-eu"]) as d,
    ):
        await clock.advance(61)
        held = HeldLoad(monkeypatch)
        raw, _ = render(sim, tmp_path, ["acme", "acme-eu", "acme-apac"])
        d.write(raw)
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            await held.wait_started()
            cycles = d.daemon.statuses()["acme"].cycles
            await clock.advance(60)
            assert d.daemon.statuses()["acme"].cycles == cycles + 1, "probes go on while the file is read"
            assert "acme-apac" not in d.daemon.statuses(), "nothing is applied before the reading is done"
        finally:
            held.release()
        await reloads_done()
        await clock.settle()
        assert set(d.daemon.statuses()) == {"acme", "acme-eu", "acme-apac"}
        assert d.reload_ok() == 1


async def test_a_sighup_during_a_reload_is_not_lost(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clock = ManualClock()
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme", "acme-eu"]) as d,
    ):
        await clock.advance(61)
        held = HeldLoad(monkeypatch)
        with capture_logs() as logs:
            try:
                d.write(render(sim, tmp_path, ["acme", "acme-eu", "acme-apac"])[0])
                os.kill(os.getpid(), signal.SIGHUP)
                await held.wait_started()  # the first reload has read this file and is busy
                d.write(render(sim, tmp_path, ["acme", "acme-latam"])[0])
                os.kill(os.getpid(), signal.SIGHUP)
                await clock.settle()
            finally:
                held.release()
            await reloads_done()
            await clock.settle()
        assert set(d.daemon.statuses()) == {"acme", "acme-latam"}, "the file as it was at the last SIGHUP"
        assert held.calls == 2
        loaded = [(e["added"], e["removed"]) for e in logs if e["event"] == "config_loaded"]
        assert loaded == [(["acme-apac"], []), (["acme-latam"], ["acme-eu", "acme-apac"])]


async def test_a_stop_during_a_reload_starts_no_tenant(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clock = ManualClock()
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme"]) as d,
    ):
        await clock.advance(61)
        held = HeldLoad(monkeypatch)
        d.write(render(sim, tmp_path, ["acme", "acme-eu"])[0])
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            await held.wait_started()
            os.kill(os.getpid(), signal.SIGTERM)
            await clock.settle()
        finally:
            held.release()
        while not d.task.done():
            await clock.advance(1.0)
        assert d.task.result() == 0
        assert tenant_tasks() == {}, "acme-eu was read from the file, but the daemon was stopping"


async def test_sigterm_stops_the_daemon_with_exit_code_0(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clock = ManualClock()
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme"]) as d,
    ):
        await clock.advance(61)
        with capture_logs() as logs:
            os.kill(os.getpid(), signal.SIGTERM)
            assert await asyncio.wait_for(d.task, timeout=5.0) == 0
    assert [e["event"] for e in logs][-2:] == ["daemon_stopping", "daemon_stopped"]
    assert tenant_tasks() == {}


async def test_sigterm_does_not_wait_for_a_tenants_retry_after(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        # One 429 asking for ten minutes: every request of the tenant waits until then.
        control.set_fault(
            sim.world, faults.Fault("/api/v2/tokens/me", faults.Action.STATUS, status=429, retry_after=600)
        )
        async with running(sim, clock, tmp_path, monkeypatch, ["acme"]) as d:
            await clock.advance(61)
            assert d.daemon.statuses()["acme"].probes["token"].outcome is labels.Outcome.RATE_LIMITED
            control.clear_faults(sim.world)
            await clock.advance(120)  # the next cycle is due, but the platform said wait
            assert d.daemon.statuses()["acme"].cycles == 1
            os.kill(os.getpid(), signal.SIGTERM)
            assert await asyncio.wait_for(d.task, timeout=2.0) == 0, "well before the 10 s grace"


async def test_the_proxy_listens_follows_reloads_of_proxy_allow_and_stops_with_the_daemon(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """design.md §2.9: only with a ``proxy`` section; every worker keeps an access object (the proxy
    alone: no hand-off block in /status) and the proxy serves the running worker's; rules change
    at a reload, tenants that left are no longer proxied, the listener goes with the daemon."""
    monkeypatch.setenv("GW_PROXY_TOKEN", "proxy-token-of-the-runtime-test")
    clock = ManualClock()
    allow = [{"method": "GET", "path": "/api/v2/conversations/messaging/**"}]
    proxy_section = {"listen": "127.0.0.1:0", "bearer_token": {"env": "GW_PROXY_TOKEN"}}
    async with testing.running(support.DEMO, clock=clock) as sim:
        async with running(sim, clock, tmp_path, monkeypatch, ["acme", "acme-eu"], proxy=proxy_section) as d:
            assert d.daemon.proxied is not None
            where = d.daemon.proxied.where
            assert where is not None
            for name in ("acme", "acme-eu"):
                worker = d.daemon.sup.running(name)
                assert isinstance(worker, tenant.Worker)
                assert worker.access is not None, "in-path mode alone builds each worker's access object"
                assert d.daemon.statuses()[name].handoff is None
            raw = dict(d.raw)
            raw["blueprints"] = {name: {**b, "proxy_allow": allow} for name, b in raw["blueprints"].items()}
            raw["tenants"] = [t for t in raw["tenants"] if t["name"] == "acme"]
            d.write(raw)
            await d.hup()
            proxied = d.daemon.proxied
            assert proxied is not None
            target = proxied.proxy_target("acme")
            assert target is not None
            assert [(r.method, r.pattern[-1]) for r in target.rules] == [("GET", "**")]
            acme = d.daemon.sup.running("acme")
            assert isinstance(acme, tenant.Worker)
            assert target.access is acme.access, "the running worker's own access object"
            assert proxied.proxy_target("acme-eu") is None
        host, port = where.removeprefix("http://").split(":")
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(host, int(port))


async def test_without_a_proxy_section_nothing_more_listens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clock = ManualClock()
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme"]) as d,
    ):
        assert d.daemon.proxied is None
