"""``grantwarden check`` and a Retry-After: it says that it waits, and ``--max-wait`` stops it sooner.

Covers: a probe answered 429 with a Retry-After of 55 s makes ``check`` print one line to stderr
naming the tenant, the probe and the wait, then wait it out and report the tenant healthy
(ManualClock, in-process); the real command with ``--max-wait 5`` does not wait, says so on
stderr, reports the tenant ``RATE_LIMITED`` with the probe's ``rate_limited`` outcome, and exits 1
(a process against the simulator over loopback); a ``--max-wait`` that is not a number of seconds
is a usage error (exit 2).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import yaml

from grantwarden import cli
from grantwarden.app import checking
from grantwarden.base import redaction
from grantwarden.base.clock import ManualClock
from grantwarden.policy import labels
from grantwarden.simulator import control, emitting, faults, testing
from tests.e2e import support

pytestmark = pytest.mark.e2e

CONFIGURATIONS = "/api/v2/webdeployments/configurations"


def rate_limit(sim: testing.Simulator, seconds: int) -> None:
    control.set_fault(
        sim.world, faults.Fault(CONFIGURATIONS, faults.Action.STATUS, status=429, retry_after=seconds, times=1)
    )


async def test_check_says_it_waits_out_a_long_retry_after_then_reports_the_tenant(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with testing.running(support.DEMO, clock=clock) as sim:
        loaded = support.demo_config(sim, monkeypatch, tmp_path, only=["acme"])
        rate_limit(sim, 55)
        told: list[str] = []
        checked = asyncio.ensure_future(
            checking.check(
                loaded,
                names=["acme"],
                clock=clock,
                redactor=redaction.Redactor(),
                environ=os.environ,
                tell=told.append,
            )
        )
        await clock.advance(1)
        assert told == [
            "acme: rate limited on webdeployments-configurations, waiting 55 s (Retry-After); --max-wait to stop sooner"
        ], "told as the wait starts, not after it"
        assert not checked.done()
        await clock.advance(55)
        [result] = await checked
    assert result.status.state is labels.State.HEALTHY


async def test_check_with_max_wait_reports_the_tenant_rate_limited_and_exits_1(tmp_path: Path) -> None:
    async with testing.running(support.DEMO) as sim:
        raw, env = emitting.render(sim.world, sim.base_url, state_dir=str(tmp_path / "state"))
        raw["tenants"] = [{k: v for k, v in t.items() if k != "parent"} for t in raw["tenants"] if t["name"] == "acme"]
        config = tmp_path / "gw.yaml"
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        rate_limit(sim, 55)
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "grantwarden", "check", "--config", str(config), "--max-wait", "5"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **env},
            cwd=support.ROOT,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 1, err.decode()
    assert err.decode().splitlines() == [
        "acme: rate limited on webdeployments-configurations for 55 s (Retry-After), more than --max-wait 5 s: "
        "not waiting"
    ]
    report = out.decode().splitlines()
    assert report[0].endswith("RATE_LIMITED")
    assert report[1] == "  failing: webdeployments-configurations (rate_limited)"
    assert report[-1] == "1 rate_limited"


@pytest.mark.parametrize("value", ["soon", "-1", "inf", "nan"])
def test_a_max_wait_that_is_not_seconds_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["check", "--config", "gw.yaml", "--max-wait", value])
    assert exited.value.code == 2
    assert "--max-wait" in capsys.readouterr().err
