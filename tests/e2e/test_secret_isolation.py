"""One tenant's missing secret never stops the others: the daemon on a ManualClock beside the simulator.

Covers: a tenant whose ``{env: NAME}`` secret is unset and one whose ``{file: PATH}`` does not
exist start at once in ``needs_attention`` with a ``secret_unavailable`` finding naming the
variable or the file (never a value), send no token request, and do not hold ``/readyz`` back,
while every other tenant runs; when the secret file appears, the next interval's look finds it and
the tenant recovers; a secret file that vanishes later fails the tenant's mints (with a backoff
that grows to minutes) and, once back, is used at the very next cycle; a reload that adds a
tenant with an unresolvable secret applies the rest, and that tenant waits alone; ``run
--strict`` keeps the old refusal (nothing starts, the path named), and so does a reload under
``--strict``; an unresolvable ``server.admin_token`` fails the start whatever the mode; the
command line says all of it in one line each and exits 2 where it refuses.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from grantwarden import cli
from grantwarden.app import runtime
from grantwarden.base import redaction
from grantwarden.base.clock import ManualClock
from grantwarden.config import loading as configfile
from grantwarden.policy import labels
from grantwarden.simulator import control, testing
from tests.app.test_runtime import render, running, tenant_tasks
from tests.e2e import support

NAMES = ["acme", "acme-eu", "acme-latam", "acme-ca"]


def tenant_of(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in raw["tenants"] if t["name"] == name)


def broken(sim: testing.Simulator, tmp_path: Path) -> tuple[dict[str, Any], dict[str, str], Path]:
    """The demo with acme-latam's secret in an unset variable and acme-ca's in a missing file."""
    raw, env = render(sim, tmp_path, NAMES)
    latam, ca = tenant_of(raw, "acme-latam"), tenant_of(raw, "acme-ca")
    latam["credentials"]["client_secret"] = {"env": "GW_TEST_UNSET_SECRET"}
    secret_file = tmp_path / "acme-ca.secret"
    env["GW_TEST_CA_VALUE"] = env.pop(ca["credentials"]["client_secret"]["env"])
    ca["credentials"]["client_secret"] = {"file": str(secret_file)}
    return raw, env, secret_file


def token_requests_of(sim: testing.Simulator, client_id: str) -> int:
    return sum(1 for e in sim.requests(kind="token") if e.get("client_id") == client_id)


async def test_a_tenant_whose_secret_cannot_be_resolved_waits_alone_and_recovers_when_it_appears(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    monkeypatch.delenv("GW_TEST_UNSET_SECRET", raising=False)
    async with testing.running(support.DEMO, clock=clock) as sim:
        raw, env, secret_file = broken(sim, tmp_path)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with capture_logs(processors=[merge_contextvars]) as logs:
            async with running(sim, clock, tmp_path, monkeypatch, NAMES, raw=raw) as d:
                await clock.settle()
                statuses = d.daemon.statuses()
                for name in ("acme-latam", "acme-ca"):
                    assert statuses[name].state is labels.State.NEEDS_ATTENTION, "at once, not after a cycle"
                    assert [f.outcome for f in statuses[name].findings] == ["secret_unavailable"]
                latam = statuses["acme-latam"].findings[0]
                assert "environment variable GW_TEST_UNSET_SECRET is not set or empty" in latam.summary
                assert "GW_TEST_UNSET_SECRET" in latam.fix
                assert f"secret file {secret_file}" in statuses["acme-ca"].findings[0].summary

                await clock.advance(10)
                assert d.daemon.ready(), "a tenant waiting for a person does not hold readiness back"
                assert statuses["acme"].state is labels.State.HEALTHY, "the others run"
                assert statuses["acme-eu"].cycles >= 1
                ca_client = tenant_of(raw, "acme-ca")["credentials"]["client_id"]
                assert token_requests_of(sim, ca_client) == 0, "no token is requested without a secret"
                assert d.registry.get_sample_value(
                    "grantwarden_tenant_state", {"tenant": "acme-ca", "state": "needs_attention"}
                )

                secret_file.write_text(env["GW_TEST_CA_VALUE"] + "\n")
                await clock.advance(61)
                assert statuses["acme-ca"].state is labels.State.HEALTHY, "the next look finds the file"
                assert statuses["acme-ca"].cycles >= 1
                assert statuses["acme-latam"].state is labels.State.NEEDS_ATTENTION
    lines = [e for e in logs if e["event"] == "secret_unavailable"]
    assert {(e["tenant"], e["place"]) for e in lines} >= {
        ("acme-latam", "credentials.client_secret"),
        ("acme-ca", "credentials.client_secret"),
    }
    assert env["GW_TEST_CA_VALUE"] not in repr(logs)


async def test_a_secret_file_that_comes_back_is_used_at_the_next_cycle_not_after_the_backoff(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    monkeypatch.delenv("GW_TEST_UNSET_SECRET", raising=False)
    async with testing.running(support.DEMO, clock=clock) as sim:
        raw, env, secret_file = broken(sim, tmp_path)
        secret_file.write_text(env["GW_TEST_CA_VALUE"])
        raw["tenants"] = [tenant_of(raw, "acme-ca")]
        async with running(sim, clock, tmp_path, monkeypatch, ["acme-ca"], raw=raw) as d:
            await clock.advance(61)
            status = d.daemon.statuses()["acme-ca"]
            assert status.state is labels.State.HEALTHY
            secret_file.unlink()
            control.revoke_tokens(sim.world, tenant_of(raw, "acme-ca")["credentials"]["client_id"])
            await clock.advance(900)  # 15 minutes of failed mints: the backoff is minutes long by now
            assert status.state is labels.State.NEEDS_ATTENTION
            assert status.token_last_error is not None
            assert "cannot be resolved" in status.token_last_error
            assert (status.token_refresh_at or 0) - clock.now() > 61, "the next retry is more than an interval off"
            secret_file.write_text(env["GW_TEST_CA_VALUE"])
            await clock.advance(61)
            assert status.state is labels.State.HEALTHY, "the next cycle mints with the secret that is back"


async def test_a_reload_adding_a_tenant_whose_secret_is_missing_applies_and_that_tenant_waits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    monkeypatch.delenv("GW_TEST_UNSET_SECRET", raising=False)
    async with (
        testing.running(support.DEMO, clock=clock) as sim,
        running(sim, clock, tmp_path, monkeypatch, ["acme"]) as d,
    ):
        await clock.advance(61)
        tasks = tenant_tasks()
        raw, _, _ = broken(sim, tmp_path)
        d.write({**raw, "tenants": [tenant_of(raw, "acme"), tenant_of(raw, "acme-latam")]})
        await d.hup()
        assert d.reload_ok() == 1
        assert tenant_tasks()["tenant:acme"] is tasks["tenant:acme"]
        await clock.settle()
        assert d.daemon.statuses()["acme-latam"].state is labels.State.NEEDS_ATTENTION
        assert d.daemon.statuses()["acme"].state is labels.State.HEALTHY


async def test_strict_mode_refuses_to_start_or_to_reload_with_a_missing_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    monkeypatch.delenv("GW_TEST_UNSET_SECRET", raising=False)
    async with testing.running(support.DEMO, clock=clock) as sim:
        raw, env, _ = broken(sim, tmp_path)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        loaded = configfile.load_mapping(raw, source="gw.yaml", environ={})
        options = runtime.Options(
            clock=clock, environ=dict(os.environ), redactor=redaction.Redactor(), install_signals=False, strict=True
        )
        with pytest.raises(configfile.ConfigError) as refused:
            await runtime.run(loaded, options)
        assert [p.path for p in refused.value.problems] == [
            "tenants[2].credentials.client_secret",
            "tenants[3].credentials.client_secret",
        ]
        assert tenant_tasks() == {}

        async with running(sim, clock, tmp_path, monkeypatch, ["acme"], strict=True) as d:
            await clock.advance(61)
            d.write({**raw, "tenants": [tenant_of(raw, "acme"), tenant_of(raw, "acme-latam")]})
            await d.hup()
            assert d.reload_ok() == 0
            assert set(d.daemon.statuses()) == {"acme"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gw.yaml"
    path.write_text(text)
    return path


TENANT = """tenants:
  - name: acme
    org_id: org-1
    region: us-east-1
    credentials: {client_id: c-1, client_secret: {env: GW_TEST_UNSET_SECRET}}
"""


def test_run_strict_exits_2_naming_the_unresolvable_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GW_TEST_UNSET_SECRET", raising=False)
    path = write(tmp_path, TENANT)
    assert cli.main(["run", "--strict", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"{path}: tenants[0].credentials.client_secret: environment variable GW_TEST_UNSET_SECRET is not set or empty"
    ]


def test_an_unresolvable_admin_token_fails_the_start_in_any_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GW_TEST_UNSET_ADMIN", raising=False)
    monkeypatch.setenv("GW_TEST_UNSET_SECRET", "x")
    path = write(tmp_path, "server: {admin_token: {env: GW_TEST_UNSET_ADMIN}}\n" + TENANT)
    assert cli.main(["run", "--config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: server.admin_token: environment variable GW_TEST_UNSET_ADMIN is not set or empty"
    ]
