"""Never the token of another org: the whole daemon's hand-off, asked from every angle.

Covers design.md §2.8 and §3.12 end to end, daemon and simulator on one ManualClock, the hand-off
on a unix socket with a file sink, from a real configuration file: before any identity check no
tenant gets a token (by name, by org, by invalidate, in a file); the demo's wrong-org tenant
(acme-apac, configured with acme's credentials, so its box holds a perfectly valid token of acme's
org) gets none, by name or by its org id, and has no file, while acme gets its own; a tenant whose
org changes at a SIGHUP reload is refused while its new worker has not run, its old org is
unknown at once, its file goes, and the new worker's identity check (the credentials act in the
old org) keeps it refused; at stop the socket and every file are gone. ``/status`` shows when a
token last went out.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import testing
from tests.app.test_runtime import render, running
from tests.e2e import support

pytestmark = pytest.mark.e2e


class Handoff:
    def __init__(self, sock: Path, directory: Path) -> None:
        self.sock, self.directory = sock, directory

    async def get(self, path: str, method: str = "GET", body: Any = None) -> tuple[int, dict[str, Any]]:
        async with (
            aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(self.sock))) as http,
            http.request(method, "http://localhost" + path, json=body) as response,
        ):
            return response.status, json.loads(await response.text())

    def files(self) -> dict[str, dict[str, Any]]:
        return {p.stem: json.loads(p.read_text()) for p in sorted(self.directory.glob("*.json"))}


def exists(path: Path) -> bool:
    return path.exists()


def handoff_edit(tmp_path: Path) -> tuple[Handoff, dict[str, Any]]:
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    sock = tmp_path / "handoff.sock"
    edit = {"handoff": {"listen": f"unix:{sock}", "files": {"directory": str(tokens)}}}
    return Handoff(sock, tokens), edit


async def test_a_wrong_org_tenant_never_gets_a_token_by_name_by_org_or_in_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    handoff, edit = handoff_edit(tmp_path)
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme", "acme-apac"], **edit) as d,
    ):
        acme, apac = sim.tenant("acme"), sim.tenant("acme-apac")
        for path in ("/v1/tenants/acme/token", f"/v1/orgs/{acme.org_id}/token", "/v1/tenants/acme-apac/token"):
            status, body = await handoff.get(path)
            assert (status, body["error"]) == (503, "identity_not_verified"), path
        assert handoff.files() == {}

        await clock.advance(61)  # every first cycle: acme's identity shown, acme-apac's token acts in acme's org
        assert d.daemon.statuses()["acme-apac"].identity_org_id == acme.org_id
        assert d.daemon.sup.running("acme-apac").api.box.token is not None, "its box holds a valid token"  # type: ignore[union-attr]
        for path, method, body in (
            ("/v1/tenants/acme-apac/token", "GET", None),
            (f"/v1/orgs/{apac.org_id}/token", "GET", None),
            ("/v1/tenants/acme-apac/token?min_valid=30", "GET", None),
            ("/v1/tenants/acme-apac/token/invalidate", "POST", {"token": "x"}),
        ):
            status, answer = await handoff.get(path, method, body)
            assert (status, answer["error"], answer["outcome"]) == (503, "wrong_org", "wrong_org"), path
            assert f"Use org {apac.org_id}'s own OAuth client" in answer["fix"]
            assert "access_token" not in answer

        status, mine = await handoff.get("/v1/tenants/acme/token")
        assert (status, mine["org_id"]) == (200, acme.org_id)
        status, by_org = await handoff.get(f"/v1/orgs/{acme.org_id}/token")
        assert (status, by_org["tenant"], by_org["access_token"]) == (200, "acme", mine["access_token"])
        assert set(handoff.files()) == {"acme"}, "no file for the wrong-org tenant"
        assert handoff.files()["acme"]["org_id"] == acme.org_id
        record = d.daemon.statuses()["acme"].handoff
        assert record is not None
        assert record.handed_out_at == clock.now()
    assert handoff.files() == {}
    assert not exists(handoff.sock), "the socket goes at stop"
    assert handoff.files() == {}, "every file goes at stop"


async def test_a_tenant_whose_org_changes_at_a_reload_gets_no_token_of_its_old_org(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    handoff, edit = handoff_edit(tmp_path)
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme", "acme-eu"], **edit) as d,
    ):
        eu, latam = sim.tenant("acme-eu"), sim.tenant("acme-latam")
        await clock.advance(61)
        status, before = await handoff.get("/v1/tenants/acme-eu/token")
        assert (status, before["org_id"]) == (200, eu.org_id)
        assert "acme-eu" in handoff.files()

        raw, _ = render(sim, tmp_path, ["acme", "acme-eu"])
        raw.update(edit)
        next(t for t in raw["tenants"] if t["name"] == "acme-eu")["org_id"] = latam.org_id  # a mistake in the file
        d.write(raw)
        await d.hup()
        assert d.daemon.files is not None
        await asyncio.wait_for(d.daemon.files.drained(), timeout=10.0)  # the file writer's thread
        for path in ("/v1/tenants/acme-eu/token", f"/v1/orgs/{latam.org_id}/token"):
            status, answer = await handoff.get(path)
            assert status == 503, path
            assert answer["error"] in ("identity_not_verified", "reloading"), path
        status, answer = await handoff.get(f"/v1/orgs/{eu.org_id}/token")
        assert status == 404, "the old org is nobody's now"
        assert "acme-eu" not in handoff.files()

        await clock.advance(61)  # the new worker's identity check: the credentials act in acme-eu's org
        status, answer = await handoff.get("/v1/tenants/acme-eu/token")
        assert (status, answer["error"]) == (503, "wrong_org")
        assert set(handoff.files()) == {"acme"}
