"""Reloads of the whole daemon on a ManualClock beside the simulator: in place, refused, on request.

Covers: a reload that changes only timing (``defaults.probe_timeout`` 2 s → 3 s, the refresh
fractions) mints no token, restarts no worker and leaves every tenant's state, first cycle and
``/readyz`` as they were, while the running workers take the new timeout; so does a fleet of 200
tenants, with the token endpoint's request count unchanged; a blueprint change takes the dropped
probe's record and series away without a restart; an emptied file is refused (metric 0,
``config_reload_failed``, the ``reload`` block of ``/status``, the page), ``tenants: []`` stops
every tenant on purpose, and a good file clears the failure; ``POST /-/reload`` answers 202 with
what changed, 422 with the problems of an invalid file, and needs the admin token; a POST during
a reload gets the outcome of the reload that read the file after it; and the steps of a reload
(at most a step of tenants at a time, removals first, ending at the file).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from grantwarden.app import reloading
from grantwarden.base.clock import ManualClock
from grantwarden.config import isolated as configproc
from grantwarden.config import loading as configfile
from grantwarden.simulator import emitting, generator, testing
from grantwarden.worker import supervisor
from tests.app.test_runtime import HeldLoad, reloads_done, render, running, tenant_tasks
from tests.e2e import support

QUIET = ["acme", "acme-apac", "acme-latam", "acme-ca"]  # tenants whose cycles never re-mint (no re-grant)
ADMIN = "gw-admin-token-for-the-reload-tests"


def token_requests(sim: testing.Simulator) -> int:
    return len(sim.requests(kind="token"))


def timeout_of(daemon: Any, name: str) -> float:
    """The request timeout a tenant's running worker uses (what a probe's request is bounded by)."""
    worker = daemon.sup._units[name].worker  # the test peeks at the live worker; nothing else exposes it
    return float(worker.api._timeout_s)


async def get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        return answer.status, await (answer.json() if "json" in answer.content_type else answer.text())


async def post(url: str, token: str | None = ADMIN) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.post(url, headers=headers) as answer:
        return answer.status, await answer.json()


async def test_a_change_of_timing_alone_reloads_in_place_without_a_mint_or_a_restart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    timing = {"probe_interval": "60s", "probe_timeout": "2s"}
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, QUIET, defaults=timing) as d,
    ):
        await clock.advance(61)
        assert (await get(d.http.url + "/readyz"))[0] == 200
        before = dict(d.daemon.statuses())
        states = {name: status.state for name, status in before.items()}
        tasks, minted = tenant_tasks(), token_requests(sim)
        assert {timeout_of(d.daemon, name) for name in QUIET} == {2.0}

        d.write({**d.raw, "defaults": {**timing, "probe_timeout": "3s", "refresh": {"at_fraction": 0.6}}})
        with capture_logs() as logs:
            await d.hup()
        assert (await get(d.http.url + "/readyz"))[0] == 200, "no tenant went back to starting"
        after = d.daemon.statuses()
        assert all(after[name] is before[name] for name in QUIET), "the same status objects"
        assert {name: status.state for name, status in after.items()} == states
        assert all(status.first_cycle_done.is_set() for status in after.values())
        assert tenant_tasks() == tasks, "no worker restarted"
        assert token_requests(sim) == minted, "not one token minted for a timing change"
        assert {timeout_of(d.daemon, name) for name in QUIET} == {3.0}, "the running workers use the new timeout"
        [loaded] = [e for e in logs if e["event"] == "config_loaded"]
        assert (loaded["changed"], sorted(loaded["reconfigured"])) == ([], sorted(QUIET))

        cycles = {name: status.cycles for name, status in after.items()}
        await clock.advance(61)
        assert all(after[name].cycles == cycles[name] + 1 for name in QUIET), "the schedule goes on"
        assert token_requests(sim) == minted, "and the next cycles use the tokens in hand"


async def test_a_blueprint_change_drops_a_probe_in_place(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clock = ManualClock()
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme"]) as d,
    ):
        await clock.advance(61)
        status = d.daemon.statuses()["acme"]
        assert "webdeployments-configurations" in status.probes
        blueprint = next(iter(d.raw["blueprints"].values()))
        blueprint["probes"] = [p for p in blueprint["probes"] if p != "webdeployments-configurations"]
        d.write(d.raw)
        minted = token_requests(sim)
        await d.hup()
        assert d.daemon.statuses()["acme"] is status
        assert "webdeployments-configurations" not in status.probes
        sample = d.registry.get_sample_value(
            "grantwarden_probe_success", {"tenant": "acme", "probe": "webdeployments-configurations"}
        )
        assert sample is None, "the dropped probe's series went with it"
        seen = len(sim.requests(kind="api"))
        await clock.advance(61)
        paths = [e["path"] for e in sim.requests(kind="api")[seen:]]
        assert paths
        assert not any(p.startswith("/api/v2/webdeployments/configurations") for p in paths)
        assert token_requests(sim) == minted


async def test_a_timing_reload_of_200_tenants_mints_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clock = ManualClock()
    world = generator.generate(tenants=200, clock=clock, seed=5)
    async with testing.running(world, clock=clock) as sim:
        raw, env = emitting.render(sim.world, sim.base_url, state_dir=str(tmp_path / "state"))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        raw["server"] = {"listen": "127.0.0.1:0"}
        raw["defaults"] = {"probe_interval": "60s", "probe_timeout": "2s"}
        async with running(sim, clock, tmp_path, monkeypatch, [], raw=raw) as d:
            await clock.advance(12)  # 200 tenants / 20 mints a second: first cycles spread over 10 s
            assert d.daemon.ready()
            minted, tasks = token_requests(sim), tenant_tasks()
            assert minted >= 200

            d.write({**raw, "defaults": {"probe_interval": "60s", "probe_timeout": "3s"}})
            with capture_logs() as logs:
                await d.hup()
            assert d.daemon.ready()
            [loaded] = [e for e in logs if e["event"] == "config_loaded"]
            assert len(loaded["reconfigured"]) == 200
            assert loaded["changed"] == []
            await clock.advance(3)  # restarted workers would mint at once, 20 a second
            assert token_requests(sim) == minted, "a reload of timing costs no mint at all"
            assert tenant_tasks() == tasks


async def test_an_emptied_file_is_refused_and_shows_everywhere_until_a_good_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme", "acme-eu"]) as d,
    ):
        await clock.advance(61)
        tasks = tenant_tasks()
        with capture_logs() as logs:
            d.write("")
            await d.hup()
        assert d.reload_ok() == 0
        assert tenant_tasks() == tasks, "every tenant keeps running"
        [failed] = [e for e in logs if e["event"] == "config_reload_failed"]
        assert any("the file is empty" in problem for problem in failed["problems"])
        status, body = await get(d.http.url + "/status")
        assert status == 200
        assert body["reload"]["ok"] is False
        assert body["reload"]["problems"] == failed["problems"]
        assert body["reload"]["attempted_at"] is not None
        _, page = await get(d.http.url + "/")
        assert "Configuration reload failed" in page
        assert "the file is empty" in page

        d.write(d.raw)
        await d.hup()
        assert d.reload_ok() == 1
        _, body = await get(d.http.url + "/status")
        assert (body["reload"]["ok"], body["reload"]["problems"]) == (True, [])
        assert "Configuration reload failed" not in (await get(d.http.url + "/"))[1]


async def test_tenants_empty_on_purpose_stops_every_tenant(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clock = ManualClock()
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme", "acme-eu"]) as d,
    ):
        await clock.advance(61)
        d.write({**d.raw, "tenants": []})
        await d.hup()
        assert d.reload_ok() == 1
        assert dict(d.daemon.statuses()) == {}
        assert tenant_tasks() == {}


async def test_a_file_with_no_tenants_the_loader_let_through_is_still_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The loader refuses such files itself; the reload does not count on it."""
    clock = ManualClock()
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme"]) as d,
    ):
        await clock.advance(61)
        real = configproc.load

        def careless(*args: Any, **kwargs: Any) -> configfile.Loaded:
            loaded = real(*args, **kwargs)
            return dataclasses.replace(loaded, settings=loaded.settings.model_copy(update={"tenants": []}))

        monkeypatch.setattr(configproc, "load", careless)
        await d.hup()
        assert d.reload_ok() == 0
        assert set(d.daemon.statuses()) == {"acme"}
        record = d.daemon.reload_status()
        assert record is not None
        assert record.refused
        assert "write tenants: [] to run none on purpose" in record.problems[0]


async def test_post_reload_applies_the_file_and_answers_with_what_changed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    monkeypatch.setenv("GW_RELOAD_ADMIN", ADMIN)
    server = {"listen": "127.0.0.1:0", "admin_token": {"env": "GW_RELOAD_ADMIN"}}
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme", "acme-eu"], server=server) as d,
    ):
        await clock.advance(61)
        raw, _ = render(sim, tmp_path, ["acme", "acme-apac"])
        raw["server"] = server
        raw["tenants"][0]["probe_interval"] = "2m"
        d.write(raw)
        assert (await post(d.http.url + "/-/reload", token=None))[0] == 401
        assert set(d.daemon.statuses()) == {"acme", "acme-eu"}, "nothing without the admin token"

        status, body = await post(d.http.url + "/-/reload")
        assert status == 202
        assert (body["added"], body["removed"], body["changed"], body["reconfigured"]) == (
            ["acme-apac"],
            ["acme-eu"],
            [],
            ["acme"],
        )
        assert set(d.daemon.statuses()) == {"acme", "acme-apac"}
        assert d.reload_ok() == 1

        d.write("tenants:\n  - name: Not Valid\n")
        status, body = await post(d.http.url + "/-/reload")
        assert (status, body["error"]) == (422, "config_invalid")
        assert any("tenants[0].name" in problem for problem in body["problems"])
        assert d.reload_ok() == 0
        assert set(d.daemon.statuses()) == {"acme", "acme-apac"}, "the old configuration keeps running"


async def test_a_post_during_a_reload_gets_the_outcome_of_the_reload_after_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    monkeypatch.setenv("GW_RELOAD_ADMIN", ADMIN)
    server = {"listen": "127.0.0.1:0", "admin_token": {"env": "GW_RELOAD_ADMIN"}}
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme"], server=server) as d,
    ):
        await clock.advance(61)
        held = HeldLoad(monkeypatch)
        first_file, _ = render(sim, tmp_path, ["acme", "acme-eu"])
        second_file, _ = render(sim, tmp_path, ["acme", "acme-latam"])
        for raw in (first_file, second_file):
            raw["server"] = server
        d.write(first_file)
        try:
            first = asyncio.ensure_future(post(d.http.url + "/-/reload"))
            await held.wait_started()  # the first reload has read the first file and is busy
            d.write(second_file)
            second = asyncio.ensure_future(post(d.http.url + "/-/reload"))
            await clock.settle()
        finally:
            held.release()
        (status1, body1), (status2, body2) = await first, await second
        await reloads_done()
        assert (status1, body1["added"]) == (202, ["acme-eu"])
        assert (status2, body2["added"], body2["removed"]) == (202, ["acme-latam"], ["acme-eu"])
        assert held.calls == 2


async def test_a_reload_that_fails_unexpectedly_answers_and_the_next_one_still_works(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    monkeypatch.setenv("GW_RELOAD_ADMIN", ADMIN)
    server = {"listen": "127.0.0.1:0", "admin_token": {"env": "GW_RELOAD_ADMIN"}}
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme"], server=server) as d,
    ):
        await clock.advance(61)
        real = configproc.load

        def broken(*args: Any, **kwargs: Any) -> configfile.Loaded:
            raise RuntimeError("a bug in the loader")

        monkeypatch.setattr(configproc, "load", broken)
        with capture_logs() as logs:
            status, body = await post(d.http.url + "/-/reload")
        assert (status, body["error"]) == (422, "config_invalid")
        assert body["problems"] == [f"{d.path}: the reload failed: RuntimeError (the log has the details)"]
        assert [e["event"] for e in logs].count("config_reload_failed") == 1
        monkeypatch.setattr(configproc, "load", real)
        assert (await post(d.http.url + "/-/reload"))[0] == 202, "reloads go on"
        assert d.reload_ok() == 1


def specs(**keys: int) -> list[supervisor.Spec]:
    return [supervisor.Spec(name, key) for name, key in keys.items()]


def differing(before: list[supervisor.Spec], after: list[supervisor.Spec]) -> set[str]:
    old, new = {s.name: s for s in before}, {s.name: s for s in after}
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


@pytest.mark.parametrize(
    ("current", "wanted", "size", "steps"),
    [
        pytest.param(specs(a=1, b=1), specs(a=1, b=1), 2, 1, id="nothing-differs"),
        pytest.param(specs(a=1, b=1), specs(a=2, c=1), 3, 1, id="fewer-than-a-step"),
        pytest.param(specs(a=1, b=1, c=1), specs(a=2, b=2, c=2, d=1, e=1), 2, 3, id="five-in-steps-of-two"),
        pytest.param(specs(**{f"t{i}": 1 for i in range(10)}), specs(), 3, 4, id="all-removed"),
        pytest.param(specs(), specs(**{f"t{i}": 1 for i in range(10)}), 5, 2, id="all-added"),
        pytest.param(
            [supervisor.Spec("a", 1, "s1"), supervisor.Spec("b", 1, "s1")],
            [supervisor.Spec("a", 1, "s2"), supervisor.Spec("b", 1, "s2")],
            1,
            2,
            id="settings-changes-count-too",
        ),
    ],
)
def test_a_reload_changes_at_most_a_step_of_tenants_at_a_time_and_ends_at_the_file(
    current: list[supervisor.Spec], wanted: list[supervisor.Spec], size: int, steps: int
) -> None:
    walked = list(reloading.reload_steps(current, wanted, size))
    assert len(walked) == steps
    assert walked[-1] == wanted
    for before, after in zip([current, *walked], walked, strict=False):
        assert len(differing(before, after)) <= size


def test_a_stepped_reload_removes_tenants_before_it_starts_new_ones() -> None:
    first, *_ = reloading.reload_steps(specs(a=1, b=1), specs(c=1, d=1), 2)
    assert first == [], "a and b stop in the first step, c and d start in the second"
