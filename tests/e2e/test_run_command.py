"""``grantwarden run`` as a real process against ``grantwarden simulate`` as another, on loopback.

Covers what only whole processes show: the simulator's emitted configuration and env file start
the daemon (with ``GRANTWARDEN_SERVER__LISTEN`` from the environment); ``/readyz`` turns 200 once
every tenant has finished its first cycle; SIGHUP with a broken file keeps the daemon serving,
logs ``config_reload_failed`` and shows ``grantwarden_config_last_reload_successful 0`` on
``/metrics``; SIGTERM ends it with exit code 0 well within the 10 s grace; an invalid file at
start exits 2 with a one-line reason naming the file and the path inside it.

The configuration is edited to probe every 2 s, so the whole test takes a few seconds. Real
processes run in real time, so waits poll through ``LoopClock`` (the one clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from grantwarden.base.clock import LoopClock
from tests import prom
from tests.e2e import support

pytestmark = pytest.mark.e2e

POLL_S = 0.1
STARTUP_TIMEOUT_S = 15.0
GRACE_S = 10.0


async def wait_until(check: Any, timeout_s: float, what: str) -> None:
    """Poll ``await check()`` until it is true; fail naming ``what`` after ``timeout_s``."""
    clock = LoopClock()
    deadline = clock.now() + timeout_s
    while not await check():
        if clock.now() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s:g} s")
        await clock.sleep(POLL_S)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def simulator(tmp_path: Path) -> AsyncIterator[tuple[Path, dict[str, str]]]:
    """``python -m grantwarden simulate`` on a free port; yields the emitted config and its env file's values."""
    target = tmp_path / "gw.yaml"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "grantwarden", "simulate", "--scenario", str(support.DEMO)),
        *("--listen", "127.0.0.1:0", "--emit-config", str(target)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=support.ROOT,
    )
    try:
        assert process.stdout is not None
        wrote = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT_S)
        assert wrote.decode().startswith(f"wrote {target}")
        listening = (await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT_S)).decode()
        assert listening.startswith("simulator listening on http://127.0.0.1:")
        # A first pass of acme-ca would otherwise wait out a 60 s Retry-After (probing retries a
        # 429 once past its floor), and /readyz with it; rate limits are not what this test is about.
        control = listening.split()[3] + "/__sim/ratelimits"
        async with (
            aiohttp.ClientSession() as http,
            http.post(control, json={"org_id": ACME_CA, "token_requests_per_minute": 300}) as answer,
        ):
            assert answer.status == 200
        env_lines = (tmp_path / "gw.yaml.env").read_text().splitlines()
        env = dict(line.split("=", 1) for line in env_lines if line)
        yield target, env
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), GRACE_S) == 0
    finally:
        await stop_process(process)


FAST = {"probe_interval": "2s", "probe_timeout": "1s"}
ACME_CA = "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7"  # its demo budget: 8 requests per token and minute


def fast(config: Path) -> None:
    """Probe every 2 s instead of every minute: the first cycle (and /readyz) comes within seconds."""
    raw = yaml.safe_load(config.read_text())
    raw["defaults"] = FAST
    config.write_text(yaml.safe_dump(raw, sort_keys=False))


def log_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


async def test_run_serves_reloads_survives_a_broken_file_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with simulator(tmp_path) as (config, env):
        fast(config)
        port = prom.free_port()
        log_path = tmp_path / "daemon.log"
        environ = {**os.environ, **env, "GRANTWARDEN_SERVER__LISTEN": f"127.0.0.1:{port}"}
        with log_path.open("w") as log:
            daemon = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "grantwarden", "run", "--config", str(config)),
                stdout=log,
                stderr=asyncio.subprocess.PIPE,
                env=environ,
                cwd=support.ROOT,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:

                async def answers(path: str, status: int, text: str = "") -> bool:
                    assert daemon.returncode is None, f"the daemon exited with {daemon.returncode}"
                    with contextlib.suppress(aiohttp.ClientConnectionError):
                        async with http.get(base + path) as response:
                            return response.status == status and text in await response.text()
                    return False

                await wait_until(lambda: answers("/readyz", 200), STARTUP_TIMEOUT_S, "/readyz answering 200")
                async with http.get(base + "/status") as response:
                    tenants = {t["tenant"]: t for t in (await response.json())["tenants"]}
                assert len(tenants) == 7
                assert all(t["cycles"] >= 1 for t in tenants.values())
                assert await answers("/metrics", 200, "grantwarden_config_last_reload_successful 1.0")

                config.write_text("tenants:\n  - name: Not A Valid Name\n")
                daemon.send_signal(signal.SIGHUP)
                await wait_until(
                    lambda: answers("/metrics", 200, "grantwarden_config_last_reload_successful 0.0"),
                    5.0,
                    "the failed reload showing on /metrics",
                )
                assert await answers("/healthz", 200)
                async with http.get(base + "/status") as response:
                    assert len((await response.json())["tenants"]) == 7, "the old tenants keep running"

            daemon.send_signal(signal.SIGTERM)
            returncode = await asyncio.wait_for(daemon.wait(), GRACE_S)
            assert daemon.stderr is not None
            stderr = (await daemon.stderr.read()).decode()
        finally:
            await stop_process(daemon)
        assert returncode == 0, stderr
        events = log_events(log_path)
        started = next(e for e in events if e["event"] == "daemon_started")
        assert started["listen"] == base
        assert started["tenants"] == 7
        [failed] = [e for e in events if e["event"] == "config_reload_failed"]
        assert failed["source"] == str(config)
        assert any("tenants[0].name" in problem for problem in failed["problems"])
        assert [e["event"] for e in events][-2:] == ["daemon_stopping", "daemon_stopped"]


async def test_run_with_an_invalid_file_exits_2_with_a_one_line_reason(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("tenants:\n  - name: acme\n    org_id: 2a3a43e5\n    region: mars-north-1\n")
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "grantwarden", "run", "--config", str(config)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=support.ROOT,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), STARTUP_TIMEOUT_S)
    finally:
        await stop_process(process)
    assert process.returncode == 2
    assert out == b""
    lines = err.decode().splitlines()
    assert len(lines) == 2, lines  # both problems of the file in one pass
    assert lines[0] == f"{config}: line 2: tenants[0].credentials: Field required"
    assert lines[1].startswith(f"{config}: line 4: tenants[0].region: unknown region 'mars-north-1'")
    assert "Traceback" not in err.decode()
