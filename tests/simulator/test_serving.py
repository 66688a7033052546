"""Serving and ``grantwarden simulate``: start/stop on a free port, exit codes, one-line errors.

Covers: ``start`` on port 0 answers on the returned base URL and ``stop`` releases it; ``main``
returns 2 with one line (file, path, problem) for a bad scenario and for bad arguments, never a
traceback; a real ``simulate`` process emits its config, serves, and exits 0 on SIGTERM.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from grantwarden.base.clock import ManualClock
from grantwarden.simulator import scenarios, serving

from .conftest import DEMO

LAUNCH = "import sys; from grantwarden.simulator import serving; sys.exit(serving.main(sys.argv[1:]))"


async def test_start_serves_on_a_free_port_until_stopped() -> None:
    running = await serving.start(scenarios.load(DEMO, clock=ManualClock()), port=0)
    try:
        assert running.port > 0
        assert running.url("eu-west-1") == f"http://127.0.0.1:{running.port}/regions/eu-west-1"
        async with aiohttp.ClientSession() as session, session.get(running.base_url + "/__sim/state") as reply:
            assert reply.status == 200
    finally:
        await running.stop()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(running.base_url + "/__sim/state")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--listen", "127.0.0.1:0"], "give --scenario NAME|FILE or --tenants N", id="no-source"),
        pytest.param(["--scenario", "x.yaml", "--tenants", "3"], "not both", id="both-sources"),
        pytest.param(["--scenario", str(DEMO), "--listen", "nowhere"], "expected HOST:PORT", id="bad-listen"),
        pytest.param(["--frobnicate"], "unrecognized arguments", id="unknown-flag"),
        pytest.param(["--tenants", "5", "--problem-fraction", "0.5"], "at most 1/5", id="too-many-problems"),
        pytest.param(
            ["--scenario", str(DEMO), "--emit-config", "/no/such/dir/gw.yaml"], "no such directory", id="emit-dir"
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert serving.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err


def test_a_bad_scenario_exits_2_naming_file_and_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("orgs:\n  o:\n    region: mars-north-1\n")
    assert serving.main(["--scenario", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}: orgs.o.region: must be one of")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_a_missing_scenario_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert serving.main(["--scenario", str(tmp_path / "absent.yaml")]) == 2
    assert "cannot read the file" in capsys.readouterr().err


@pytest.mark.e2e
def test_simulate_emits_its_config_serves_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    target = tmp_path / "gw.yaml"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            LAUNCH,
            "--scenario",
            str(DEMO),
            "--listen",
            "127.0.0.1:0",
            "--emit-config",
            str(target),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith(f"wrote {target}")
        listening = process.stdout.readline()
        assert listening.startswith("simulator listening on http://127.0.0.1:")
        assert target.exists()
        assert (tmp_path / "gw.yaml.env").exists()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert err == ""
